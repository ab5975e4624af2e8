// pybind11 bindings of the setup layer: the multi-array reduction behind clip_grad_norm_.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>
#include <vector>

#include "bindings/array.hpp"
#include "normcore/setup.hpp"

namespace normcore::bindings {
namespace {

using namespace pybind11::literals;

// Σ |g|^p over a sequence of float32/float64 arrays (p = inf: max |g|); float32 arrays are reduced first,
// then float64 ones, and the two sums added (max taken) in that fixed order.
double sum_abs_pow(py::handle grads, double p) {
  if (!py::isinstance<py::sequence>(grads) || py::isinstance<py::str>(grads) || py::isinstance<py::array>(grads))
    throw py::type_error("sum_abs_pow: grads must be a sequence of arrays, got " +
                         std::string(py::str(py::type::of(grads).attr("__name__"))));
  std::vector<Input> inputs;
  for (py::handle g : grads) inputs.push_back(as_input(g, "sum_abs_pow", "grads[i]"));
  std::vector<const float*> pf;
  std::vector<std::size_t> nf, nd;
  std::vector<const double*> pd;
  for (const Input& in : inputs) {
    if (in.dtype == DType::f32) {
      pf.push_back(data<float>(in));
      nf.push_back(static_cast<std::size_t>(in.arr.size()));
    } else {
      pd.push_back(data<double>(in));
      nd.push_back(static_cast<std::size_t>(in.arr.size()));
    }
  }
  py::gil_scoped_release nogil;
  const double a = normcore::sum_abs_pow<float>(pf.data(), nf.data(), pf.size(), p);
  const double b = normcore::sum_abs_pow<double>(pd.data(), nd.data(), pd.size(), p);
  if (std::isinf(p)) return (b > a || b != b) ? b : a;
  return a + b;
}

// Two float64 (C,) results per column of a 2-D float32/float64 array (N, C): fn<T>(a, b, x, N, C).
template <class F32, class F64>
py::tuple per_column(const char* fname, py::handle x, F32 f32, F64 f64) {
  Input in = as_input(x, fname, "x");
  if (in.arr.ndim() != 2)
    throw py::value_error(std::string(fname) + ": x must be 2-D (N, C), got shape " + shape_str(in.arr));
  const auto N = static_cast<std::size_t>(in.arr.shape(0)), C = static_cast<std::size_t>(in.arr.shape(1));
  py::array_t<double> a(static_cast<py::ssize_t>(C)), b(static_cast<py::ssize_t>(C));
  double* pa = a.mutable_data();
  double* pb = b.mutable_data();
  if (in.dtype == DType::f32) {
    const float* px = data<float>(in);
    py::gil_scoped_release nogil;
    f32(pa, pb, px, N, C);
  } else {
    const double* px = data<double>(in);
    py::gil_scoped_release nogil;
    f64(pa, pb, px, N, C);
  }
  return py::make_tuple(a, b);
}

py::tuple column_moments(py::handle x) {
  return per_column("column_moments", x, &normcore::column_moments<float>, &normcore::column_moments<double>);
}

py::tuple column_min_max(py::handle x) {
  return per_column("column_min_max", x, &normcore::column_min_max<float>, &normcore::column_min_max<double>);
}

}  // namespace

void register_setup(py::module_& m) {
  m.def("sum_abs_pow", &sum_abs_pow, "grads"_a, "p"_a,
        "Σ |g|^p in double over several arrays (p = inf: max |g|), bitwise identical for any thread count.");
  m.def("column_moments", &column_moments, "x"_a,
        "(mean, m2) per column of x (N, C) in float64: blocked two-pass + Chan merge, thread-count independent.");
  m.def("column_min_max", &column_min_max, "x"_a, "(min, max) per column of x (N, C) in float64, NaN ignored.");
}

}  // namespace normcore::bindings
