// pybind11 bindings of the runtime: version, ISA dispatch, threads, and the internal helpers the
// benchmark roofline and the determinism tests use.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/array.hpp"
#include "bindings/dtype.hpp"
#include "bindings/output_cache.hpp"
#include "normcore/runtime.hpp"
#include "src/api/internal.hpp"

namespace normcore::bindings {
namespace {

using namespace pybind11::literals;

py::array copy(py::handle x, py::handle out) {
  Input in = as_input(x, "copy", "x");
  py::array y = output_for("copy", out, in, {&in});
  with_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    detail::copy<T>(data<T>(y), data<T>(in), static_cast<std::size_t>(in.arr.size()));
  });
  return y;
}

double blocked_sum(py::handle x) {
  Input in = as_input(x, "blocked_sum", "x");
  return with_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    py::gil_scoped_release nogil;
    return detail::blocked_sum<T>(data<T>(in), static_cast<std::size_t>(in.arr.size()));
  });
}

}  // namespace

void register_runtime(py::module_& m) {
  m.def("version", &normcore::version, "The C++ library's version.");
  m.def("available_isas", &normcore::available_isas, "Instruction-set variants this CPU can run, best last.");
  m.def("active_isa", &normcore::active_isa, "The instruction-set variant in use.");
  m.def("set_isa", &normcore::set_isa, "name"_a, "Switch the instruction-set variant in use (tests, benchmarks).");
  m.def("set_num_threads", &normcore::set_num_threads, "n"_a, "Threads normcore may use (n >= 1).");
  m.def("get_num_threads", &normcore::get_num_threads, "Threads normcore may use.");
  m.def("copy", &copy, "x"_a, "out"_a = py::none(),
        "out = x with normcore's elementwise loop, threads and store policy (the memory-copy roofline).");
  m.def("blocked_sum", &blocked_sum, "x"_a, "Sum in double over fixed blocks: identical for any thread count.");
  register_output_cache(m);
}

}  // namespace normcore::bindings
