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

}  // namespace

void register_setup(py::module_& m) {
  m.def("sum_abs_pow", &sum_abs_pow, "grads"_a, "p"_a,
        "Σ |g|^p in double over several arrays (p = inf: max |g|), bitwise identical for any thread count.");
}

}  // namespace normcore::bindings
