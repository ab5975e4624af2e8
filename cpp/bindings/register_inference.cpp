// pybind11 bindings of the inference path. fold_batchnorm takes float64 arrays whose shapes the Python wrapper
// (normcore/inference.py) has checked and returns float64 (the wrapper rounds to the weight's dtype).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <utility>

#include "bindings/array.hpp"
#include "bindings/dtype.hpp"
#include "normcore/inference.hpp"

namespace normcore::bindings {
namespace {

using namespace pybind11::literals;
using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;

const double* ptr(const std::optional<F64>& a) { return a ? a->data() : nullptr; }

py::tuple fold(const F64& weight, std::optional<F64> bias, const F64& mean, const F64& var,
               std::optional<F64> bn_weight, std::optional<F64> bn_bias, std::size_t d0, std::size_t d1, std::size_t K,
               FoldKind kind, std::size_t groups, FoldPosition position, double eps) {
  const std::size_t C_out = kind == FoldKind::conv_transpose ? d1 * groups : d0;
  F64 w(std::vector<py::ssize_t>(weight.shape(), weight.shape() + weight.ndim()));
  F64 b(static_cast<py::ssize_t>(C_out));
  {
    py::gil_scoped_release nogil;
    fold_batchnorm<double>(w.mutable_data(), b.mutable_data(), weight.data(), ptr(bias), mean.data(), var.data(),
                           ptr(bn_weight), ptr(bn_bias), d0, d1, K, kind, groups, position, eps);
  }
  return py::make_tuple(std::move(w), std::move(b));
}

// y = f(x·scale + shift [+ residual]), channels at axis 1 or at the last axis.
py::array ssa(py::handle x_obj, py::handle scale_obj, py::handle shift_obj, Activation op, double a, double b,
              double c, int channel_axis, py::handle residual_obj, py::handle out) {
  const char* f = "scale_shift_act";
  Input x = as_input(x_obj, f, "x");
  const std::vector<py::ssize_t> s = shape_of(x.arr);
  const int nd = static_cast<int>(s.size());
  if (nd < 2)
    throw py::value_error(std::string(f) + ": x must have at least 2 dimensions (N, C, ...), got shape " +
                          shape_tuple(s));
  const int axis = channel_axis < 0 ? channel_axis + nd : channel_axis;
  if (axis != 1 && axis != nd - 1)
    throw py::value_error(std::string(f) + ": channel_axis must be 1 (channels-first) or -1 (channels-last), got " +
                          std::to_string(channel_axis) + " for x of shape " + shape_tuple(s));
  const Layout layout = axis == 1 ? Layout::channels_first : Layout::channels_last;
  const auto C = static_cast<std::size_t>(s[axis]);
  std::size_t N = static_cast<std::size_t>(s[0]), S = 1;
  for (int i = 1; i < nd; ++i)
    if (i != axis) S *= static_cast<std::size_t>(s[i]);
  Input scale = as_input(scale_obj, f, "scale"), shift = as_input(shift_obj, f, "shift");
  for (Input* p : {&scale, &shift}) {
    if (p->dtype != x.dtype)
      throw py::type_error(std::string(f) + ": " + p->name + " has dtype " +
                           py::str(p->arr.dtype()).cast<std::string>() + " but x has dtype " +
                           py::str(x.arr.dtype()).cast<std::string>() + "; they must match");
    if (shape_of(p->arr) != std::vector<py::ssize_t>{static_cast<py::ssize_t>(C)})
      throw py::value_error(std::string(f) + ": " + p->name + " has shape " + shape_str(p->arr) + " but x of shape " +
                            shape_tuple(s) + " has " + std::to_string(C) + " channels at axis " +
                            std::to_string(axis));
  }
  std::optional<Input> res;
  if (!residual_obj.is_none()) {
    res = as_input(residual_obj, f, "residual");
    check_same(f, x, *res);
  }
  py::array y = res ? output_for(f, out, x, {&x, &scale, &shift, &*res}) : output_for(f, out, x, {&x, &scale, &shift});
  const ActivationParams p{a, b, c};
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    scale_shift_act<T>(op, p, data<T>(y), data<T>(x), res ? data<T>(*res) : nullptr, data<T>(scale), data<T>(shift),
                       N, C, S, layout);
  });
  return y;
}

// images (H, W, C) or (N, H, W, C) of uint8 / float32 / float64 → (N, C, H, W) / (C, H, W) or the input's shape.
py::array norm_image(py::handle images, const std::vector<double>& mean, const std::vector<double>& stdev, double scale,
                     ImageLayout layout, bool f64, py::handle out) {
  const char* f = "normalize_image";
  py::array a = py::isinstance<py::array>(images) ? py::reinterpret_borrow<py::array>(images)
                                                  : py::array::ensure(images);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(std::string(f) + ": images must be a uint8, float32 or float64 array");
  }
  const py::dtype dt = a.dtype();
  const bool u8 = dt.kind() == 'u' && dt.itemsize() == 1, fl = dt.kind() == 'f' && (dt.itemsize() == 4 || dt.itemsize() == 8);
  if (!u8 && !fl)
    throw py::type_error(std::string(f) + ": images have dtype " + py::str(dt).cast<std::string>() +
                         "; expected uint8, float32 or float64");
  if (a.ndim() != 3 && a.ndim() != 4)
    throw py::value_error(std::string(f) + ": images must be (H, W, C) or (N, H, W, C), got shape " + shape_str(a));
  std::vector<py::ssize_t> s = shape_of(a);
  const bool batched = s.size() == 4;
  const auto N = static_cast<std::size_t>(batched ? s[0] : 1);
  const auto H = s[batched], W = s[batched + 1], C = s[batched + 2];
  if (mean.size() != static_cast<std::size_t>(C) || stdev.size() != static_cast<std::size_t>(C))
    throw py::value_error(std::string(f) + ": mean has " + std::to_string(mean.size()) + " and std " +
                          std::to_string(stdev.size()) + " values but images of shape " + shape_str(a) + " have " +
                          std::to_string(C) + " channels");
  std::vector<py::ssize_t> shape = layout == ImageLayout::nhwc ? s : std::vector<py::ssize_t>{C, H, W};
  if (layout == ImageLayout::nchw && batched) shape.insert(shape.begin(), s[0]);
  py::array y = output_shaped(f, out, f64 ? DType::f64 : DType::f32, shape, {});
  if (overlap(a, y)) a = py::array(a.attr("copy")());
  // C-contiguous, native byte order (no copy when it already is)
  a = py::array(py::module_::import("numpy").attr("ascontiguousarray")(a, dt.attr("newbyteorder")("=")));
  const auto HW = static_cast<std::size_t>(H * W);
  auto run = [&](auto in_t, auto out_t) {
    using In = decltype(in_t);
    using Out = decltype(out_t);
    const In* x = static_cast<const In*>(a.data());
    Out* yp = static_cast<Out*>(y.mutable_data());
    py::gil_scoped_release nogil;
    normalize_image<In, Out>(yp, x, N, HW, static_cast<std::size_t>(C), mean.data(), stdev.data(), scale, layout);
  };
  auto with_out = [&](auto in_t) {
    if (f64)
      run(in_t, double{});
    else
      run(in_t, float{});
  };
  if (u8)
    with_out(std::uint8_t{});
  else if (dt.itemsize() == 4)
    with_out(float{});
  else
    with_out(double{});
  return y;
}

}  // namespace

void register_inference(py::module_& m) {
  py::enum_<FoldKind>(m, "FoldKind")
      .value("conv", FoldKind::conv)
      .value("conv_transpose", FoldKind::conv_transpose)
      .value("linear", FoldKind::linear);
  py::enum_<FoldPosition>(m, "FoldPosition").value("after", FoldPosition::after).value("before", FoldPosition::before);
  m.def("fold_batchnorm", &fold, "weight"_a, "bias"_a, "running_mean"_a, "running_var"_a, "bn_weight"_a,
        "bn_bias"_a, "d0"_a, "d1"_a, "K"_a, "kind"_a, "groups"_a, "position"_a, "eps"_a,
        "(fused_weight, fused_bias) in float64, weight seen as (d0, d1, K) (see normcore/inference.hpp).");
  m.def("scale_shift_act", &ssa, "x"_a, "scale"_a, "shift"_a, "op"_a, "a"_a = 0.0, "b"_a = 0.0, "c"_a = 0.0,
        "channel_axis"_a = 1, "residual"_a = py::none(), "out"_a = py::none(),
        "y = f(x·scale + shift [+ residual]) per channel in one pass (f = the activation `op`).");
  py::enum_<ImageLayout>(m, "ImageLayout").value("NCHW", ImageLayout::nchw).value("NHWC", ImageLayout::nhwc);
  m.def("normalize_image", &norm_image, "images"_a, "mean"_a, "std"_a, "scale"_a, "out_layout"_a, "float64"_a,
        "out"_a = py::none(), "(images·scale − mean)/std, HWC/NHWC → NCHW or NHWC, float32 or float64.");
}

}  // namespace normcore::bindings
