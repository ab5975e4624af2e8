// The Python boundary every binding follows: which arrays are accepted, how `out=` is checked, which
// exception names what is wrong. Checked while holding the GIL; kernels then run without it.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace normcore::bindings {

namespace py = pybind11;

enum class DType { f32, f64 };

// A C-contiguous, native-endian float32/float64 array made from a Python argument.
struct Input {
  py::array arr;
  DType dtype;
  const char* name;  // the parameter's name, for messages
};

// float32/float64 arrays (any shape, 0-d and empty included) or array-likes that NumPy turns into one;
// non-contiguous or byte-swapped input is copied. Integer, bool, complex, object, ... → TypeError naming
// the dtype (no silent casting).
Input as_input(py::handle obj, const char* fname, const char* name);

// Two inputs of one function: same dtype (TypeError) and same shape (ValueError), naming both.
void check_same(const char* fname, const Input& a, const Input& b);

// The output array: a new one shaped like `like` when out is None; else `out` itself after checking it is
// an ndarray (TypeError), of like's dtype (TypeError), shape (ValueError), C-contiguous and writeable
// (ValueError). Inputs that partly overlap `out` (but are not exactly it: in place is fine) are copied first.
py::array output_for(const char* fname, py::handle out, const Input& like, std::initializer_list<Input*> inputs);

// The same for an output of another shape than the inputs (maxout) or a second output (rrelu's noise=, prelu's
// grad_weight): dtype and shape given, `name` = the parameter's name in messages.
py::array output_shaped(const char* fname, py::handle out, DType dtype, const std::vector<py::ssize_t>& shape,
                        std::initializer_list<Input*> inputs, const char* name = "out");

// The shape of a as a vector.
std::vector<py::ssize_t> shape_of(const py::array& a);

// Whether the memory of a and b overlaps.
bool overlap(const py::array& a, const py::array& b);

template <class T>
T* data(py::array& a) {
  return static_cast<T*>(a.mutable_data());
}
template <class T>
const T* data(const Input& in) {
  return static_cast<const T*>(in.arr.data());
}

std::string shape_str(const py::array& a);
std::string shape_tuple(const std::vector<py::ssize_t>& shape);  // "(2, 3)", "(4,)"

}  // namespace normcore::bindings
