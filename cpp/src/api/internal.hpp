// Internal entry points used by the bindings for the benchmark roofline and the determinism tests.
#pragma once
#include <cstddef>

namespace normcore::detail {

// y = x with the elementwise loop, threads and store policy of the activations (the copy roofline).
template <class T> void copy(T* y, const T* x, std::size_t n);

// Σ x in double through blocked_reduce: bitwise identical for any thread count.
template <class T> double blocked_sum(const T* x, std::size_t n);

}  // namespace normcore::detail
