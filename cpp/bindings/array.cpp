#include "bindings/array.hpp"

#include "bindings/output_cache.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace normcore::bindings {

std::string shape_tuple(const std::vector<py::ssize_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string shape_str(const py::array& a) { return shape_tuple(shape_of(a)); }

namespace {
std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }
}  // namespace

Input as_input(py::handle obj, const char* fname, const char* name) {
  py::array a = py::isinstance<py::array>(obj) ? py::reinterpret_borrow<py::array>(obj) : py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(std::string(fname) + ": " + name + " must be a float32 or float64 array, got " +
                         py::str(py::type::handle_of(obj)).cast<std::string>());
  }
  const py::dtype dt = a.dtype();
  if (dt.kind() != 'f' || (dt.itemsize() != 4 && dt.itemsize() != 8))
    throw py::type_error(std::string(fname) + ": " + name + " has dtype " + dtype_str(a) +
                         "; normcore takes float32 or float64 arrays (convert explicitly, e.g. x.astype(np.float32))");
  if (dt.itemsize() == 4) {
    if (!py::isinstance<py::array_t<float, py::array::c_style>>(a))
      a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
    return {a, DType::f32, name};
  }
  if (!py::isinstance<py::array_t<double, py::array::c_style>>(a))
    a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  return {a, DType::f64, name};
}

void check_same(const char* fname, const Input& a, const Input& b) {
  if (a.dtype != b.dtype)
    throw py::type_error(std::string(fname) + ": " + a.name + " has dtype " + dtype_str(a.arr) + " but " + b.name +
                         " has dtype " + dtype_str(b.arr) + "; they must match");
  if (a.arr.ndim() != b.arr.ndim() ||
      !std::equal(a.arr.shape(), a.arr.shape() + a.arr.ndim(), b.arr.shape()))
    throw py::value_error(std::string(fname) + ": " + a.name + " has shape " + shape_str(a.arr) + " but " + b.name +
                          " has shape " + shape_str(b.arr) + "; they must match");
}

std::vector<py::ssize_t> shape_of(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

bool overlap(const py::array& a, const py::array& b) {
  const auto ab = reinterpret_cast<std::uintptr_t>(a.data()), bb = reinterpret_cast<std::uintptr_t>(b.data());
  const auto ae = ab + static_cast<std::uintptr_t>(a.nbytes()), be = bb + static_cast<std::uintptr_t>(b.nbytes());
  return ab < be && bb < ae;
}

py::array output_for(const char* fname, py::handle out, const Input& like, std::initializer_list<Input*> inputs) {
  return output_shaped(fname, out, like.dtype, shape_of(like.arr), inputs);
}

py::array output_shaped(const char* fname, py::handle out, DType dtype, const std::vector<py::ssize_t>& shape,
                        std::initializer_list<Input*> inputs, const char* name) {
  const py::dtype want = dtype == DType::f32 ? py::dtype::of<float>() : py::dtype::of<double>();
  if (out.is_none()) return new_array(want, shape);
  const std::string what = std::string(fname) + ": " + name;
  if (!py::isinstance<py::array>(out))
    throw py::type_error(what + " must be a numpy.ndarray, got " + py::str(py::type::handle_of(out)).cast<std::string>());
  py::array o = py::reinterpret_borrow<py::array>(out);
  const bool same_dtype = dtype == DType::f32 ? py::isinstance<py::array_t<float>>(o)
                                              : py::isinstance<py::array_t<double>>(o);
  if (!same_dtype)
    throw py::type_error(what + " has dtype " + dtype_str(o) + ", expected " + py::str(want).cast<std::string>());
  if (static_cast<std::size_t>(o.ndim()) != shape.size() || !std::equal(o.shape(), o.shape() + o.ndim(), shape.begin()))
    throw py::value_error(what + " has shape " + shape_str(o) + ", expected " + shape_tuple(shape));
  if (!(o.flags() & py::array::c_style)) throw py::value_error(what + " must be C-contiguous");
  if (!o.writeable()) throw py::value_error(what + " is read-only");
  for (Input* in : inputs)
    if (in->arr.data() != o.data() && overlap(in->arr, o)) in->arr = py::array(in->arr.attr("copy")());  // partial overlap
  return o;
}

}  // namespace normcore::bindings
