// Shared by the API files: the active kernels by element type and the store policy.
#pragma once
#include <cstddef>
#include <type_traits>

#include "dispatch/dispatch.hpp"

namespace normcore::detail {

// Outputs at least this large are written with non-temporal stores: they cannot stay in the cache anyway,
// and streaming saves the read-for-ownership of every destination line.
constexpr std::size_t kStreamBytes = std::size_t{8} << 20;
// Thread boundaries on whole cache lines.
constexpr std::size_t kAlignBytes = 64;

inline StoreHint store_hint(std::size_t out_bytes) { return StoreHint{out_bytes >= kStreamBytes}; }

template <class T>
const ElementwiseKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) {
    return dispatch::table().f32;
  } else {
    return dispatch::table().f64;
  }
}

template <class T>
const StructuredKernels<T>& structured_kernels() {
  if constexpr (std::is_same_v<T, float>) {
    return dispatch::table().structured_f32;
  } else {
    return dispatch::table().structured_f64;
  }
}

}  // namespace normcore::detail
