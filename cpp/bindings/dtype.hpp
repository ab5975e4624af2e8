#pragma once
#include "bindings/array.hpp"

namespace normcore::bindings {

// Call f with a value of the element type: f(float{}) or f(double{}).
template <class F>
decltype(auto) with_dtype(DType d, F&& f) {
  if (d == DType::f32) return f(float{});
  return f(double{});
}

}  // namespace normcore::bindings
