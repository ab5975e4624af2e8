// pybind11 bindings of the structured activations: arrays checked and the axis turned into the (outer, C, inner)
// view while holding the GIL, kernels run without it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings/array.hpp"
#include "bindings/dtype.hpp"
#include "normcore/structured.hpp"

namespace normcore::bindings {
namespace {

using namespace pybind11::literals;

// An array viewed as (outer, C, inner) along one axis.
struct View {
  std::size_t outer = 1, C = 1, inner = 1;
  py::ssize_t axis = 0;  // normalized
  std::size_t size() const { return outer * C * inner; }
};

// The view of a along `axis` (negative counts from the end); ValueError when a has no such axis.
View along(const py::array& a, py::ssize_t axis, const std::string& fname) {
  const py::ssize_t nd = a.ndim();
  if (axis < -nd || axis >= nd)
    throw py::value_error(fname + ": axis " + std::to_string(axis) + " is out of range for an array of " +
                          std::to_string(nd) + " dimension" + (nd == 1 ? "" : "s") + " (shape " + shape_str(a) + ")");
  View v;
  v.axis = axis < 0 ? axis + nd : axis;
  for (py::ssize_t i = 0; i < nd; ++i) {
    const auto n = static_cast<std::size_t>(a.shape(i));
    if (i < v.axis) v.outer *= n;
    else if (i == v.axis) v.C = n;
    else v.inner *= n;
  }
  return v;
}

std::size_t size(const Input& in) { return static_cast<std::size_t>(in.arr.size()); }

// f(T{}) for the element type, with the GIL released.
template <class F>
void without_gil(DType dtype, F&& f) {
  with_dtype(dtype, [&](auto t) {
    py::gil_scoped_release nogil;
    f(t);
  });
}

// The arrays of an op whose output is shaped like its input: x (the forward's input, or output for a backward
// from y), grad_output for a backward (same dtype and shape), and the output.
struct Args {
  Input x, dy;
  py::array out;
};

Args forward_args(const char* fname, py::handle x, py::handle out) {
  Args a{as_input(x, fname, "x"), {}, {}};
  a.out = output_for(fname, out, a.x, {&a.x});
  return a;
}

Args backward_args(const char* fname, py::handle grad_output, py::handle x, py::handle out, const char* xname = "x") {
  Args a{as_input(x, fname, xname), as_input(grad_output, fname, "grad_output"), {}};
  check_same(fname, a.dy, a.x);
  a.out = output_for(fname, out, a.dy, {&a.dy, &a.x});
  return a;
}

void check_dtype(const std::string& fname, const Input& a, const Input& b) {
  if (a.dtype != b.dtype)
    throw py::type_error(fname + ": " + a.name + " has dtype " + py::str(a.arr.dtype()).cast<std::string>() + " but " +
                         b.name + " has dtype " + py::str(b.arr.dtype()).cast<std::string>() + "; they must match");
}

// ---- prelu -----------------------------------------------------------------------------------------------------

// PyTorch's rule: a weight of one element is shared by every element (any x); otherwise x needs at least two
// dimensions (a 1-D x has a single channel) and the weight one element per channel along `axis`.
View prelu_view(const std::string& fname, const Input& x, const Input& w, py::ssize_t axis) {
  check_dtype(fname, x, w);
  if (w.arr.ndim() > 1)
    throw py::value_error(fname + ": weight must be a scalar or a 1-D array, got shape " + shape_str(w.arr));
  const auto nw = static_cast<std::size_t>(w.arr.size());
  if (nw == 1) {
    if (x.arr.ndim() >= 2) along(x.arr, axis, fname);  // a bad axis is still an error
    View v;
    v.C = 1;
    v.inner = size(x);
    return v;
  }
  if (x.arr.ndim() < 2)
    throw py::value_error(fname + ": weight has " + std::to_string(nw) + " elements but x of shape " +
                          shape_str(x.arr) + " has a single channel (as in PyTorch, the channel axis exists from 2 dimensions on); "
                          "use a weight of one element");
  const View v = along(x.arr, axis, fname);
  if (v.C != nw)
    throw py::value_error(fname + ": weight has " + std::to_string(nw) + " elements but x of shape " +
                          shape_str(x.arr) + " has " + std::to_string(v.C) + " channels along axis " + std::to_string(v.axis));
  return v;
}

py::array prelu(py::handle x, py::handle weight, py::ssize_t axis, py::handle out) {
  Input in = as_input(x, "prelu", "x"), w = as_input(weight, "prelu", "weight");
  const View v = prelu_view("prelu", in, w, axis);
  py::array y = output_for("prelu", out, in, {&in, &w});
  without_gil(in.dtype, [&](auto t) {
    using T = decltype(t);
    normcore::prelu<T>(data<T>(y), data<T>(in), data<T>(w), v.outer, v.C, v.inner);
  });
  return y;
}

py::tuple prelu_backward(py::handle grad_output, py::handle x, py::handle weight, py::ssize_t axis, py::handle out) {
  const char* fname = "prelu_backward";
  Input dy = as_input(grad_output, fname, "grad_output"), in = as_input(x, fname, "x"),
        w = as_input(weight, fname, "weight");
  check_same(fname, dy, in);
  const View v = prelu_view(fname, in, w, axis);
  py::object dx_out = py::none(), dw_out = py::none();
  if (!out.is_none()) {
    if (!py::isinstance<py::tuple>(out) || py::len(out) != 2)
      throw py::type_error(std::string(fname) +
                           ": out must be None or a pair (grad_input, grad_weight) of arrays or None");
    dx_out = out.cast<py::tuple>()[0];
    dw_out = out.cast<py::tuple>()[1];
  }
  py::array dx = output_for(fname, dx_out, dy, {&dy, &in, &w});
  py::array dw = output_shaped(fname, dw_out, w.dtype, shape_of(w.arr), {&dy, &in, &w}, "out[1] (grad_weight)");
  without_gil(in.dtype, [&](auto t) {
    using T = decltype(t);
    normcore::prelu_backward<T>(data<T>(dx), data<T>(dw), data<T>(dy), data<T>(in), data<T>(w), v.outer, v.C, v.inner);
  });
  return py::make_tuple(dx, dw);
}

// ---- rrelu (training) --------------------------------------------------------------------------------------------

py::array rrelu_with_noise(py::handle x, py::handle noise, double lower, double upper, py::handle out,
                           const py::function& draw) {
  Input in = as_input(x, "rrelu", "x");
  py::array y = output_for("rrelu", out, in, {&in});
  py::array nz = output_shaped("rrelu", noise, in.dtype, shape_of(in.arr), {}, "noise");
  if (in.arr.size() > 0 && (overlap(nz, in.arr) || overlap(nz, y)))
    throw py::value_error("rrelu: noise must not share memory with x or out");
  draw(nz);  // the uniform draws, in place
  without_gil(in.dtype, [&](auto t) {
    using T = decltype(t);
    normcore::rrelu_with_noise<T>(data<T>(y), data<T>(nz), data<T>(in), size(in), lower, upper);
  });
  return y;
}

py::array rrelu_with_noise_backward(py::handle grad_output, py::handle x, py::handle noise, py::handle out) {
  const char* fname = "rrelu_backward";
  Input dy = as_input(grad_output, fname, "grad_output"), in = as_input(x, fname, "x"),
        nz = as_input(noise, fname, "noise");
  check_same(fname, dy, in);
  check_same(fname, dy, nz);
  py::array dx = output_for(fname, out, dy, {&dy, &nz});
  without_gil(in.dtype, [&](auto t) {
    using T = decltype(t);
    normcore::rrelu_with_noise_backward<T>(data<T>(dx), data<T>(dy), data<T>(nz), size(dy));
  });
  return dx;
}

// ---- bipolar_relu, abrelu ------------------------------------------------------------------------------------

py::array bipolar_relu(py::handle x, py::ssize_t axis, py::handle out) {
  Args a = forward_args("bipolar_relu", x, out);
  const View v = along(a.x.arr, axis, "bipolar_relu");
  without_gil(a.x.dtype, [&](auto t) {
    using T = decltype(t);
    normcore::bipolar_relu<T>(data<T>(a.out), data<T>(a.x), v.outer, v.C, v.inner);
  });
  return a.out;
}

py::array bipolar_relu_backward(py::handle grad_output, py::handle x, py::ssize_t axis, py::handle out) {
  Args a = backward_args("bipolar_relu_backward", grad_output, x, out);
  const View v = along(a.x.arr, axis, "bipolar_relu_backward");
  without_gil(a.x.dtype, [&](auto t) {
    using T = decltype(t);
    normcore::bipolar_relu_backward<T>(data<T>(a.out), data<T>(a.dy), data<T>(a.x), v.outer, v.C, v.inner);
  });
  return a.out;
}

// Samples: axis 0 is the batch when x has 2 or more dimensions; a 0-D or 1-D x is one sample.
std::pair<std::size_t, std::size_t> samples(const py::array& a) {
  if (a.ndim() < 2) return {1, static_cast<std::size_t>(a.size())};
  std::size_t m = 1;
  for (py::ssize_t i = 1; i < a.ndim(); ++i) m *= static_cast<std::size_t>(a.shape(i));
  return {static_cast<std::size_t>(a.shape(0)), m};
}

py::array abrelu(py::handle x, double alpha, py::handle out) {
  Args a = forward_args("abrelu", x, out);
  const auto [n, m] = samples(a.x.arr);
  without_gil(a.x.dtype, [&, n = n, m = m](auto t) {
    using T = decltype(t);
    normcore::abrelu<T>(data<T>(a.out), data<T>(a.x), n, m, alpha);
  });
  return a.out;
}

py::array abrelu_backward(py::handle grad_output, py::handle x, double alpha, py::handle out) {
  Args a = backward_args("abrelu_backward", grad_output, x, out);
  const auto [n, m] = samples(a.x.arr);
  without_gil(a.x.dtype, [&, n = n, m = m](auto t) {
    using T = decltype(t);
    normcore::abrelu_backward<T>(data<T>(a.out), data<T>(a.dy), data<T>(a.x), n, m, alpha);
  });
  return a.out;
}

// ---- maxout ------------------------------------------------------------------------------------------------

// The view of x along axis and the shape of maxout's output (C → C/pieces there).
std::pair<View, std::vector<py::ssize_t>> maxout_shapes(const std::string& fname, const Input& x, py::ssize_t pieces,
                                                        py::ssize_t axis) {
  if (pieces < 1) throw py::value_error(fname + ": pieces must be >= 1, got " + std::to_string(pieces));
  const View v = along(x.arr, axis, fname);
  if (v.C % static_cast<std::size_t>(pieces) != 0)
    throw py::value_error(fname + ": x has " + std::to_string(v.C) + " channels along axis " + std::to_string(v.axis) +
                          ", which is not a multiple of pieces = " + std::to_string(pieces));
  std::vector<py::ssize_t> shape = shape_of(x.arr);
  shape[static_cast<std::size_t>(v.axis)] /= pieces;
  return {v, shape};
}

py::array maxout(py::handle x, py::ssize_t pieces, py::ssize_t axis, py::handle out) {
  Input in = as_input(x, "maxout", "x");
  const auto [v, shape] = maxout_shapes("maxout", in, pieces, axis);
  py::array y = output_shaped("maxout", out, in.dtype, shape, {&in});
  without_gil(in.dtype, [&, &v = v](auto t) {
    using T = decltype(t);
    normcore::maxout<T>(data<T>(y), data<T>(in), v.outer, v.C, v.inner, static_cast<std::size_t>(pieces));
  });
  return y;
}

py::array maxout_backward(py::handle grad_output, py::handle x, py::ssize_t pieces, py::ssize_t axis, py::handle out) {
  const char* fname = "maxout_backward";
  Input dy = as_input(grad_output, fname, "grad_output"), in = as_input(x, fname, "x");
  check_dtype(fname, dy, in);
  const auto [v, shape] = maxout_shapes(fname, in, pieces, axis);
  if (shape_of(dy.arr) != shape)
    throw py::value_error(std::string(fname) + ": grad_output has shape " + shape_str(dy.arr) + " but maxout of x " +
                          shape_str(in.arr) + " has shape " + shape_tuple(shape));
  py::array dx = output_for(fname, out, in, {&dy, &in});
  without_gil(in.dtype, [&, &v = v](auto t) {
    using T = decltype(t);
    normcore::maxout_backward<T>(data<T>(dx), data<T>(dy), data<T>(in), v.outer, v.C, v.inner,
                                 static_cast<std::size_t>(pieces));
  });
  return dx;
}

// ---- softmax, log_softmax ----------------------------------------------------------------------------------

py::array softmax(py::handle x, py::ssize_t axis, bool log, py::handle out) {
  const char* fname = log ? "log_softmax" : "softmax";
  Args a = forward_args(fname, x, out);
  const View v = along(a.x.arr, axis, fname);
  without_gil(a.x.dtype, [&](auto t) {
    using T = decltype(t);
    (log ? normcore::log_softmax<T> : normcore::softmax<T>)(data<T>(a.out), data<T>(a.x), v.outer, v.C, v.inner);
  });
  return a.out;
}

// dx from x, or from y = the forward's output when from_output
py::array softmax_backward(py::handle grad_output, py::handle xy, py::ssize_t axis, bool log, bool from_output,
                           py::handle out) {
  const char* fname = log ? "log_softmax_backward" : "softmax_backward";
  Args a = backward_args(fname, grad_output, xy, out, from_output ? "y" : "x");
  const View v = along(a.x.arr, axis, fname);
  without_gil(a.x.dtype, [&](auto t) {
    using T = decltype(t);
    const auto f = log ? (from_output ? normcore::log_softmax_backward_from_output<T>
                                      : normcore::log_softmax_backward<T>)
                       : (from_output ? normcore::softmax_backward_from_output<T> : normcore::softmax_backward<T>);
    f(data<T>(a.out), data<T>(a.dy), data<T>(a.x), v.outer, v.C, v.inner);
  });
  return a.out;
}

}  // namespace

void register_structured(py::module_& m) {
  m.def("prelu", &prelu, "x"_a, "weight"_a, "axis"_a, "out"_a = py::none(),
        "y = x > 0 ? x : weight[c]·x, c the index along axis (a weight of one element is shared).");
  m.def("prelu_backward", &prelu_backward, "grad_output"_a, "x"_a, "weight"_a, "axis"_a, "out"_a = py::none(),
        "(grad_input, grad_weight) of prelu; out = None or a pair of arrays or None.");
  m.def("rrelu_with_noise", &rrelu_with_noise, "x"_a, "noise"_a, "lower"_a, "upper"_a, "out"_a, "draw"_a,
        "rrelu in training: draw(noise) fills noise with uniform [0, 1) numbers, which become the factors used.");
  m.def("rrelu_with_noise_backward", &rrelu_with_noise_backward, "grad_output"_a, "x"_a, "noise"_a,
        "out"_a = py::none(), "grad_input = grad_output·noise.");
  m.def("bipolar_relu", &bipolar_relu, "x"_a, "axis"_a, "out"_a = py::none(),
        "relu on even indices along axis, min(x, 0) on odd ones.");
  m.def("bipolar_relu_backward", &bipolar_relu_backward, "grad_output"_a, "x"_a, "axis"_a, "out"_a = py::none(),
        "The gradient of bipolar_relu.");
  m.def("abrelu", &abrelu, "x"_a, "alpha"_a, "out"_a = py::none(),
        "max(x − alpha·mean(x[n]), 0) per sample n (axis 0; a 0-D/1-D x is one sample).");
  m.def("abrelu_backward", &abrelu_backward, "grad_output"_a, "x"_a, "alpha"_a, "out"_a = py::none(),
        "The gradient of abrelu, through the mean.");
  m.def("maxout", &maxout, "x"_a, "pieces"_a, "axis"_a, "out"_a = py::none(),
        "Max over groups of `pieces` consecutive channels along axis.");
  m.def("maxout_backward", &maxout_backward, "grad_output"_a, "x"_a, "pieces"_a, "axis"_a, "out"_a = py::none(),
        "grad_output routed to the first maximum of each group.");
  m.def("softmax", &softmax, "x"_a, "axis"_a, "log"_a, "out"_a = py::none(), "softmax or log_softmax along axis.");
  m.def("softmax_backward", &softmax_backward, "grad_output"_a, "input"_a, "axis"_a, "log"_a, "from_output"_a,
        "out"_a = py::none(), "The gradient of softmax or log_softmax, from x or (from_output) from y.");
}

}  // namespace normcore::bindings
