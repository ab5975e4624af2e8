#include "bindings/array.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace normcore::bindings {

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

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

py::array output_for(const char* fname, py::handle out, const Input& like, std::initializer_list<Input*> inputs) {
  const py::array& ref = like.arr;
  if (out.is_none()) return py::array(ref.dtype(), std::vector<py::ssize_t>(ref.shape(), ref.shape() + ref.ndim()));
  if (!py::isinstance<py::array>(out))
    throw py::type_error(std::string(fname) + ": out must be a numpy.ndarray, got " +
                         py::str(py::type::handle_of(out)).cast<std::string>());
  py::array o = py::reinterpret_borrow<py::array>(out);
  const bool same_dtype = like.dtype == DType::f32 ? py::isinstance<py::array_t<float>>(o)
                                                   : py::isinstance<py::array_t<double>>(o);
  if (!same_dtype)
    throw py::type_error(std::string(fname) + ": out has dtype " + dtype_str(o) + ", expected " + dtype_str(ref));
  if (o.ndim() != ref.ndim() || !std::equal(o.shape(), o.shape() + o.ndim(), ref.shape()))
    throw py::value_error(std::string(fname) + ": out has shape " + shape_str(o) + ", expected " + shape_str(ref));
  if (!(o.flags() & py::array::c_style))
    throw py::value_error(std::string(fname) + ": out must be C-contiguous");
  if (!o.writeable()) throw py::value_error(std::string(fname) + ": out is read-only");
  const auto ob = reinterpret_cast<std::uintptr_t>(o.data());
  const auto oe = ob + static_cast<std::uintptr_t>(o.nbytes());
  for (Input* in : inputs) {
    const auto ib = reinterpret_cast<std::uintptr_t>(in->arr.data());
    const auto ie = ib + static_cast<std::uintptr_t>(in->arr.nbytes());
    if (ib != ob && ib < oe && ob < ie) in->arr = py::array(in->arr.attr("copy")());  // partial overlap
  }
  return o;
}

}  // namespace normcore::bindings
