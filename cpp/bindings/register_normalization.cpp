// pybind11 bindings of the normalization functions. Shapes are read from x (channel_axis, normalized_ndim) and every
// other array is checked against them here, so the C++ functions only ever see consistent sizes; the Python wrappers
// (normcore/normalization.py) add PyTorch's argument conventions on top.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings/array.hpp"
#include "bindings/dtype.hpp"
#include "bindings/output_cache.hpp"
#include "normcore/normalization.hpp"

namespace normcore::bindings {
namespace {

using namespace pybind11::literals;
using Shape = std::vector<py::ssize_t>;

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

std::size_t prod(const Shape& s, std::size_t b, std::size_t e) {
  std::size_t p = 1;
  for (std::size_t i = b; i < e; ++i) p *= static_cast<std::size_t>(s[i]);
  return p;
}

// x seen as (N, C, S) channels-first or (N, S, C) channels-last.
struct View {
  std::size_t N, C, S;
  Layout layout;
};

View view_of(const char* f, const Input& x, int channel_axis) {
  const Shape s = shape_of(x.arr);
  const auto nd = static_cast<int>(s.size());
  if (nd < 2)
    throw py::value_error(std::string(f) + ": x must have at least 2 dimensions (N, C, ...), got shape " +
                          shape_str(s));
  const int axis = channel_axis < 0 ? channel_axis + nd : channel_axis;
  if (axis != 1 && axis != nd - 1)
    throw py::value_error(std::string(f) + ": channel_axis must be 1 (channels-first) or -1 (channels-last), got " +
                          std::to_string(channel_axis) + " for x of shape " + shape_str(s));
  const auto N = static_cast<std::size_t>(s[0]);
  if (axis == 1) return {N, static_cast<std::size_t>(s[1]), prod(s, 2, s.size()), Layout::channels_first};
  return {N, static_cast<std::size_t>(s[nd - 1]), prod(s, 1, s.size() - 1), Layout::channels_last};
}

// x's dtype (native byte order), or TypeError naming both.
void check_dtype(const char* f, const Input& x, const py::array& a, const char* name) {
  const bool same = x.dtype == DType::f32 ? py::isinstance<py::array_t<float>>(a) : py::isinstance<py::array_t<double>>(a);
  if (!same)
    throw py::type_error(std::string(f) + ": " + name + " has dtype " + dtype_str(a) + " but x has dtype " +
                         dtype_str(x.arr) + "; they must match");
}

void check_shape(const char* f, const py::array& a, const char* name, const Shape& want) {
  if (shape_of(a) != want)
    throw py::value_error(std::string(f) + ": " + name + " has shape " + shape_str(shape_of(a)) + ", expected " +
                          shape_str(want));
}

// An optional read-only array (weight, bias, saved statistics): None → empty; else x's dtype and the given shape.
std::optional<Input> optional_input(const char* f, py::handle obj, const char* name, const Input& x,
                                    const Shape& shape) {
  if (obj.is_none()) return std::nullopt;
  Input in = as_input(obj, f, name);
  check_dtype(f, x, in.arr, name);
  check_shape(f, in.arr, name, shape);
  return in;
}

Input required_input(const char* f, py::handle obj, const char* name, const Input& x, const Shape& shape) {
  if (obj.is_none()) throw py::type_error(std::string(f) + ": " + name + " must be an array, got None");
  return *optional_input(f, obj, name, x, shape);
}

// A running statistic updated in place: an ndarray of x's dtype, shape (C,), C-contiguous and writeable.
std::optional<py::array> running_array(const char* f, py::handle obj, const char* name, const Input& x, std::size_t C) {
  if (obj.is_none()) return std::nullopt;
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(f) + ": " + name + " must be a numpy.ndarray (it is updated in place), got " +
                         py::str(py::type::handle_of(obj)).cast<std::string>());
  py::array a = py::reinterpret_borrow<py::array>(obj);
  check_dtype(f, x, a, name);
  check_shape(f, a, name, Shape{static_cast<py::ssize_t>(C)});
  if (!(a.flags() & py::array::c_style) || !a.writeable())
    throw py::value_error(std::string(f) + ": " + name + " must be C-contiguous and writeable (it is updated in place)");
  return a;
}

template <class T>
const T* ptr(const std::optional<Input>& in) {
  return in ? data<T>(*in) : nullptr;
}
template <class T>
T* ptr(std::optional<py::array>& a) {
  return a ? static_cast<T*>(a->mutable_data()) : nullptr;
}

py::array new_array(const Input& like, const Shape& shape) { return bindings::new_array(like.arr.dtype(), shape); }

py::object or_none(const std::optional<py::array>& a) { return a ? py::object(*a) : py::object(py::none()); }

Shape channel_shape(std::size_t C) { return {static_cast<py::ssize_t>(C)}; }

// y: a new array shaped like x, or `out` (checked); parameters that partly overlap `out` are copied first.
py::array output(const char* f, py::handle out, Input& x, std::initializer_list<std::optional<Input>*> params) {
  py::array y = output_for(f, out, x, {&x});
  if (!out.is_none())
    for (auto* p : params)
      if (*p) output_for(f, y, x, {&**p});
  return y;
}

// ---- batch norm ----------------------------------------------------------------------------------------------

py::tuple batch_norm_forward(py::handle xo, py::handle weight, py::handle bias, double eps, int channel_axis,
                             py::handle running_mean, py::handle running_var, double momentum, bool unbiased,
                             py::handle out) {
  const char* f = "batch_norm";
  Input x = as_input(xo, f, "x");
  const View v = view_of(f, x, channel_axis);
  auto w = optional_input(f, weight, "weight", x, channel_shape(v.C));
  auto b = optional_input(f, bias, "bias", x, channel_shape(v.C));
  auto rm = running_array(f, running_mean, "running_mean", x, v.C);
  auto rv = running_array(f, running_var, "running_var", x, v.C);
  if (v.N * v.S == 1)
    throw py::value_error(std::string(f) + ": expected more than 1 value per channel when training, got input of shape " +
                          shape_str(shape_of(x.arr)));
  py::array y = output(f, out, x, {&w, &b});
  py::array mean = new_array(x, channel_shape(v.C)), rstd = new_array(x, channel_shape(v.C));
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    const RunningStats<T> rs{ptr<T>(rm), ptr<T>(rv), momentum, unbiased};
    py::gil_scoped_release nogil;
    normcore::batch_norm_forward<T>(data<T>(y), data<T>(mean), data<T>(rstd), data<T>(x), ptr<T>(w), ptr<T>(b), v.N,
                                    v.C, v.S, v.layout, eps, rs);
  });
  return py::make_tuple(y, mean, rstd);
}

py::array batch_norm_inference(py::handle xo, py::handle running_mean, py::handle running_var, py::handle weight,
                               py::handle bias, double eps, int channel_axis, py::handle out) {
  const char* f = "batch_norm";
  Input x = as_input(xo, f, "x");
  const View v = view_of(f, x, channel_axis);
  if (running_mean.is_none() || running_var.is_none())
    throw py::value_error(std::string(f) +
                          ": running_mean and running_var must be given when training=False (evaluation uses them)");
  auto rm = optional_input(f, running_mean, "running_mean", x, channel_shape(v.C));
  auto rv = optional_input(f, running_var, "running_var", x, channel_shape(v.C));
  auto w = optional_input(f, weight, "weight", x, channel_shape(v.C));
  auto b = optional_input(f, bias, "bias", x, channel_shape(v.C));
  py::array y = output(f, out, x, {&rm, &rv, &w, &b});
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::batch_norm_inference<T>(data<T>(y), data<T>(x), ptr<T>(rm), ptr<T>(rv), ptr<T>(w), ptr<T>(b), v.N, v.C,
                                      v.S, v.layout, eps);
  });
  return y;
}

// The three gradients of a per-channel-affine norm.
py::tuple grads(py::array dx, std::optional<py::array> dw, py::array db) { return py::make_tuple(dx, or_none(dw), db); }

py::tuple batch_norm_backward(py::handle grad_output, py::handle xo, py::handle mean_o, py::handle rstd_o,
                              py::handle weight, int channel_axis) {
  const char* f = "batch_norm_backward";
  Input x = as_input(xo, f, "x");
  Input dy = as_input(grad_output, f, "grad_output");
  check_same(f, dy, x);
  const View v = view_of(f, x, channel_axis);
  Input mean = required_input(f, mean_o, "mean", x, channel_shape(v.C));
  Input rstd = required_input(f, rstd_o, "rstd", x, channel_shape(v.C));
  auto w = optional_input(f, weight, "weight", x, channel_shape(v.C));
  py::array dx = new_array(x, shape_of(x.arr)), db = new_array(x, channel_shape(v.C));
  std::optional<py::array> dw;
  if (w) dw = new_array(x, channel_shape(v.C));
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::batch_norm_backward<T>(data<T>(dx), ptr<T>(dw), data<T>(db), data<T>(dy), data<T>(x), data<T>(mean),
                                     data<T>(rstd), ptr<T>(w), v.N, v.C, v.S, v.layout);
  });
  return grads(dx, dw, db);
}

// ---- group norm ----------------------------------------------------------------------------------------------

std::size_t check_groups(const char* f, long long groups, const View& v, const Input& x) {
  if (groups < 1 || v.C % static_cast<std::size_t>(groups) != 0)
    throw py::value_error(std::string(f) + ": num_groups (" + std::to_string(groups) +
                          ") must be >= 1 and divide the number of channels (" + std::to_string(v.C) +
                          ") of x with shape " + shape_str(shape_of(x.arr)));
  return static_cast<std::size_t>(groups);
}

Shape stat_shape(std::size_t N, std::size_t K) { return {static_cast<py::ssize_t>(N), static_cast<py::ssize_t>(K)}; }

py::tuple group_norm_forward(py::handle xo, long long num_groups, py::handle weight, py::handle bias, double eps,
                             int channel_axis, py::handle out) {
  const char* f = "group_norm";
  Input x = as_input(xo, f, "x");
  const View v = view_of(f, x, channel_axis);
  const std::size_t G = check_groups(f, num_groups, v, x);
  auto w = optional_input(f, weight, "weight", x, channel_shape(v.C));
  auto b = optional_input(f, bias, "bias", x, channel_shape(v.C));
  py::array y = output(f, out, x, {&w, &b});
  py::array mean = new_array(x, stat_shape(v.N, G)), rstd = new_array(x, stat_shape(v.N, G));
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::group_norm_forward<T>(data<T>(y), data<T>(mean), data<T>(rstd), data<T>(x), ptr<T>(w), ptr<T>(b), v.N,
                                    v.C, v.S, G, v.layout, eps);
  });
  return py::make_tuple(y, mean, rstd);
}

py::tuple group_norm_backward(py::handle grad_output, py::handle xo, long long num_groups, py::handle mean_o,
                              py::handle rstd_o, py::handle weight, int channel_axis) {
  const char* f = "group_norm_backward";
  Input x = as_input(xo, f, "x");
  Input dy = as_input(grad_output, f, "grad_output");
  check_same(f, dy, x);
  const View v = view_of(f, x, channel_axis);
  const std::size_t G = check_groups(f, num_groups, v, x);
  Input mean = required_input(f, mean_o, "mean", x, stat_shape(v.N, G));
  Input rstd = required_input(f, rstd_o, "rstd", x, stat_shape(v.N, G));
  auto w = optional_input(f, weight, "weight", x, channel_shape(v.C));
  py::array dx = new_array(x, shape_of(x.arr)), db = new_array(x, channel_shape(v.C));
  std::optional<py::array> dw;
  if (w) dw = new_array(x, channel_shape(v.C));
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::group_norm_backward<T>(data<T>(dx), ptr<T>(dw), data<T>(db), data<T>(dy), data<T>(x), data<T>(mean),
                                     data<T>(rstd), ptr<T>(w), v.N, v.C, v.S, G, v.layout);
  });
  return grads(dx, dw, db);
}

// ---- instance norm -------------------------------------------------------------------------------------------

py::tuple instance_norm_forward(py::handle xo, py::handle weight, py::handle bias, double eps, int channel_axis,
                                py::handle running_mean, py::handle running_var, double momentum, bool unbiased,
                                py::handle out) {
  const char* f = "instance_norm";
  Input x = as_input(xo, f, "x");
  const View v = view_of(f, x, channel_axis);
  auto w = optional_input(f, weight, "weight", x, channel_shape(v.C));
  auto b = optional_input(f, bias, "bias", x, channel_shape(v.C));
  auto rm = running_array(f, running_mean, "running_mean", x, v.C);
  auto rv = running_array(f, running_var, "running_var", x, v.C);
  if (v.S == 1)
    throw py::value_error(std::string(f) +
                          ": expected more than 1 spatial element when training, got input of shape " +
                          shape_str(shape_of(x.arr)));
  py::array y = output(f, out, x, {&w, &b});
  py::array mean = new_array(x, stat_shape(v.N, v.C)), rstd = new_array(x, stat_shape(v.N, v.C));
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    const RunningStats<T> rs{ptr<T>(rm), ptr<T>(rv), momentum, unbiased};
    py::gil_scoped_release nogil;
    normcore::instance_norm_forward<T>(data<T>(y), data<T>(mean), data<T>(rstd), data<T>(x), ptr<T>(w), ptr<T>(b),
                                       v.N, v.C, v.S, v.layout, eps, rs);
  });
  return py::make_tuple(y, mean, rstd);
}

py::tuple instance_norm_backward(py::handle grad_output, py::handle xo, py::handle mean_o, py::handle rstd_o,
                                 py::handle weight, int channel_axis) {
  const char* f = "instance_norm_backward";
  Input x = as_input(xo, f, "x");
  Input dy = as_input(grad_output, f, "grad_output");
  check_same(f, dy, x);
  const View v = view_of(f, x, channel_axis);
  Input mean = required_input(f, mean_o, "mean", x, stat_shape(v.N, v.C));
  Input rstd = required_input(f, rstd_o, "rstd", x, stat_shape(v.N, v.C));
  auto w = optional_input(f, weight, "weight", x, channel_shape(v.C));
  py::array dx = new_array(x, shape_of(x.arr)), db = new_array(x, channel_shape(v.C));
  std::optional<py::array> dw;
  if (w) dw = new_array(x, channel_shape(v.C));
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::instance_norm_backward<T>(data<T>(dx), ptr<T>(dw), data<T>(db), data<T>(dy), data<T>(x), data<T>(mean),
                                        data<T>(rstd), ptr<T>(w), v.N, v.C, v.S, v.layout);
  });
  return grads(dx, dw, db);
}

// ---- layer norm and RMS norm ---------------------------------------------------------------------------------

// x seen as (rows, D): the last `ndim` dimensions are normalized.
struct Rows {
  std::size_t rows, D;
  Shape lead, trail;
};

Rows rows_of(const char* f, const Input& x, long long ndim) {
  const Shape s = shape_of(x.arr);
  if (ndim < 1 || ndim > static_cast<long long>(s.size()))
    throw py::value_error(std::string(f) + ": normalized_shape has " + std::to_string(ndim) +
                          " dimensions, x of shape " + shape_str(s) + " has " + std::to_string(s.size()));
  const std::size_t k = s.size() - static_cast<std::size_t>(ndim);
  return {prod(s, 0, k), prod(s, k, s.size()), Shape(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k)),
          Shape(s.begin() + static_cast<std::ptrdiff_t>(k), s.end())};
}

py::tuple layer_norm_forward(py::handle xo, long long normalized_ndim, py::handle weight, py::handle bias, double eps,
                             py::handle out) {
  const char* f = "layer_norm";
  Input x = as_input(xo, f, "x");
  const Rows r = rows_of(f, x, normalized_ndim);
  auto w = optional_input(f, weight, "weight", x, r.trail);
  auto b = optional_input(f, bias, "bias", x, r.trail);
  py::array y = output(f, out, x, {&w, &b});
  py::array mean = new_array(x, r.lead), rstd = new_array(x, r.lead);
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::layer_norm_forward<T>(data<T>(y), data<T>(mean), data<T>(rstd), data<T>(x), ptr<T>(w), ptr<T>(b), r.rows,
                                    r.D, eps);
  });
  return py::make_tuple(y, mean, rstd);
}

py::tuple layer_norm_backward(py::handle grad_output, py::handle xo, long long normalized_ndim, py::handle mean_o,
                              py::handle rstd_o, py::handle weight) {
  const char* f = "layer_norm_backward";
  Input x = as_input(xo, f, "x");
  Input dy = as_input(grad_output, f, "grad_output");
  check_same(f, dy, x);
  const Rows r = rows_of(f, x, normalized_ndim);
  Input mean = required_input(f, mean_o, "mean", x, r.lead);
  Input rstd = required_input(f, rstd_o, "rstd", x, r.lead);
  auto w = optional_input(f, weight, "weight", x, r.trail);
  py::array dx = new_array(x, shape_of(x.arr)), db = new_array(x, r.trail);
  std::optional<py::array> dw;
  if (w) dw = new_array(x, r.trail);
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::layer_norm_backward<T>(data<T>(dx), ptr<T>(dw), data<T>(db), data<T>(dy), data<T>(x), data<T>(mean),
                                     data<T>(rstd), ptr<T>(w), r.rows, r.D);
  });
  return grads(dx, dw, db);
}

py::tuple rms_norm_forward(py::handle xo, long long normalized_ndim, py::handle weight, double eps, py::handle out) {
  const char* f = "rms_norm";
  Input x = as_input(xo, f, "x");
  const Rows r = rows_of(f, x, normalized_ndim);
  auto w = optional_input(f, weight, "weight", x, r.trail);
  py::array y = output(f, out, x, {&w});
  py::array rstd = new_array(x, r.lead);
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::rms_norm_forward<T>(data<T>(y), data<T>(rstd), data<T>(x), ptr<T>(w), r.rows, r.D, eps);
  });
  return py::make_tuple(y, rstd);
}

py::tuple rms_norm_backward(py::handle grad_output, py::handle xo, long long normalized_ndim, py::handle rstd_o,
                            py::handle weight) {
  const char* f = "rms_norm_backward";
  Input x = as_input(xo, f, "x");
  Input dy = as_input(grad_output, f, "grad_output");
  check_same(f, dy, x);
  const Rows r = rows_of(f, x, normalized_ndim);
  Input rstd = required_input(f, rstd_o, "rstd", x, r.lead);
  auto w = optional_input(f, weight, "weight", x, r.trail);
  py::array dx = new_array(x, shape_of(x.arr));
  std::optional<py::array> dw;
  if (w) dw = new_array(x, r.trail);
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    normcore::rms_norm_backward<T>(data<T>(dx), ptr<T>(dw), data<T>(dy), data<T>(x), data<T>(rstd), ptr<T>(w), r.rows,
                                   r.D);
  });
  return py::make_tuple(dx, or_none(dw));
}

}  // namespace

void register_normalization(py::module_& m) {
  const auto none = py::none();
  m.def("batch_norm_forward", &batch_norm_forward, "x"_a, "weight"_a, "bias"_a, "eps"_a, "channel_axis"_a,
        "running_mean"_a = none, "running_var"_a = none, "momentum"_a = 0.1, "unbiased_running_var"_a = true,
        "out"_a = none, "Batch norm with batch statistics → (y, mean, rstd); running statistics updated in place.");
  m.def("batch_norm_inference", &batch_norm_inference, "x"_a, "running_mean"_a, "running_var"_a, "weight"_a, "bias"_a,
        "eps"_a, "channel_axis"_a, "out"_a = none, "Batch norm with the running statistics → y.");
  m.def("batch_norm_backward", &batch_norm_backward, "grad_output"_a, "x"_a, "mean"_a, "rstd"_a, "weight"_a,
        "channel_axis"_a, "→ (grad_input, grad_weight or None, grad_bias).");
  m.def("group_norm_forward", &group_norm_forward, "x"_a, "num_groups"_a, "weight"_a, "bias"_a, "eps"_a,
        "channel_axis"_a, "out"_a = none, "→ (y, mean, rstd), statistics of shape (N, num_groups).");
  m.def("group_norm_backward", &group_norm_backward, "grad_output"_a, "x"_a, "num_groups"_a, "mean"_a, "rstd"_a,
        "weight"_a, "channel_axis"_a, "→ (grad_input, grad_weight or None, grad_bias).");
  m.def("instance_norm_forward", &instance_norm_forward, "x"_a, "weight"_a, "bias"_a, "eps"_a, "channel_axis"_a,
        "running_mean"_a = none, "running_var"_a = none, "momentum"_a = 0.1, "unbiased_running_var"_a = true,
        "out"_a = none, "→ (y, mean, rstd), statistics of shape (N, C); running statistics updated in place.");
  m.def("instance_norm_backward", &instance_norm_backward, "grad_output"_a, "x"_a, "mean"_a, "rstd"_a, "weight"_a,
        "channel_axis"_a, "→ (grad_input, grad_weight or None, grad_bias).");
  m.def("layer_norm_forward", &layer_norm_forward, "x"_a, "normalized_ndim"_a, "weight"_a, "bias"_a, "eps"_a,
        "out"_a = none, "→ (y, mean, rstd), statistics shaped like x's leading dimensions.");
  m.def("layer_norm_backward", &layer_norm_backward, "grad_output"_a, "x"_a, "normalized_ndim"_a, "mean"_a, "rstd"_a,
        "weight"_a, "→ (grad_input, grad_weight or None, grad_bias).");
  m.def("rms_norm_forward", &rms_norm_forward, "x"_a, "normalized_ndim"_a, "weight"_a, "eps"_a, "out"_a = none,
        "→ (y, rstd), rstd shaped like x's leading dimensions.");
  m.def("rms_norm_backward", &rms_norm_backward, "grad_output"_a, "x"_a, "normalized_ndim"_a, "rstd"_a, "weight"_a,
        "→ (grad_input, grad_weight or None).");
}

}  // namespace normcore::bindings
