// normcore._core: the pybind11 module. Each area registers its functions in register_<area>.cpp.
#include <pybind11/pybind11.h>

#include "normcore/runtime.hpp"

namespace normcore::bindings {
void register_runtime(pybind11::module_& m);
void register_activations(pybind11::module_& m);
void register_structured(pybind11::module_& m);
void register_normalization(pybind11::module_& m);
void register_inference(pybind11::module_& m);
void register_setup(pybind11::module_& m);
}  // namespace normcore::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "normcore's C++ kernels (use the normcore package, not this module, directly).";
  // Choose the instruction set now, so a bad NORMCORE_FORCE_ISA fails the import with its message.
  normcore::active_isa();
  normcore::bindings::register_runtime(m);
  normcore::bindings::register_activations(m);
  normcore::bindings::register_structured(m);
  normcore::bindings::register_normalization(m);
  normcore::bindings::register_inference(m);
  normcore::bindings::register_setup(m);
  m.attr("__version__") = normcore::version();
}
