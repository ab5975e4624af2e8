// pybind11 bindings of the inference path. fold_batchnorm takes float64 arrays whose shapes the Python wrapper
// (normcore/inference.py) has checked and returns float64 (the wrapper rounds to the weight's dtype).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <utility>

#include "bindings/array.hpp"
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
}

}  // namespace normcore::bindings
