#include <string>
#include <vector>

#include "dispatch/dispatch.hpp"
#include "normcore/runtime.hpp"

namespace normcore {

const char* version() { return NORMCORE_VERSION_STRING; }

std::vector<std::string> available_isas() { return dispatch::available(); }

const char* active_isa() { return dispatch::table().isa; }

void set_isa(const std::string& name) { dispatch::select(name); }

}  // namespace normcore
