// pybind11 bindings of the activation kernels: one generic entry per direction, the op chosen by id.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings/array.hpp"
#include "bindings/dtype.hpp"
#include "normcore/activations.hpp"

namespace normcore::bindings {
namespace {

using namespace pybind11::literals;

// y = f(x)
py::array forward(Activation op, py::handle x, py::handle out, double a, double b, double c) {
  const char* fname = activation_name(op);
  Input in = as_input(x, fname, "x");
  py::array y = output_for(fname, out, in, {&in});
  const ActivationParams p{a, b, c};
  with_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    activation_forward<T>(op, p, data<T>(y), data<T>(in), static_cast<std::size_t>(in.arr.size()));
  });
  return y;
}

// dx = dy · f'(x), or from y = f(x) when from_output
py::array backward(Activation op, py::handle grad_output, py::handle xy, bool from_output, py::handle out,
                   double a, double b, double c) {
  const std::string fname = std::string(activation_name(op)) + "_backward";
  Input dy = as_input(grad_output, fname.c_str(), "grad_output");
  Input in = as_input(xy, fname.c_str(), from_output ? "y" : "x");
  check_same(fname.c_str(), dy, in);
  py::array dx = output_for(fname.c_str(), out, dy, {&dy, &in});
  const ActivationParams p{a, b, c};
  with_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    const auto n = static_cast<std::size_t>(in.arr.size());
    if (from_output)
      activation_backward_from_output<T>(op, p, data<T>(dx), data<T>(dy), data<T>(in), n);
    else
      activation_backward<T>(op, p, data<T>(dx), data<T>(dy), data<T>(in), n);
  });
  return dx;
}

}  // namespace

void register_activations(py::module_& m) {
  py::enum_<Activation> e(m, "Activation", "The activation catalog (ids of the generic entry points).");
#define NORMCORE_ACTIVATION_VALUE(name) e.value(#name, Activation::name);
  NORMCORE_ACTIVATION_LIST(NORMCORE_ACTIVATION_VALUE)
#undef NORMCORE_ACTIVATION_VALUE

  m.def("activation_forward", &forward, "op"_a, "x"_a, "out"_a = py::none(), "a"_a = 0.0, "b"_a = 0.0, "c"_a = 0.0,
        "y = f(x) for the activation `op` (parameters a, b, c as in the C++ ActivationParams).");
  m.def("activation_backward", &backward, "op"_a, "grad_output"_a, "input"_a, "from_output"_a = false,
        "out"_a = py::none(), "a"_a = 0.0, "b"_a = 0.0, "c"_a = 0.0,
        "grad_input = grad_output · f'(x); `input` is x, or y = f(x) when from_output.");
}

}  // namespace normcore::bindings
