// CPU feature detection and the one table that picks kernels. Nothing else tests CPU features.
#pragma once
#include <string>
#include <vector>

#include "kernels/table.hpp"

namespace normcore::dispatch {

// The kernels in use (chosen on first call; NORMCORE_FORCE_ISA honoured).
const KernelTable& table();

// Names of the compiled variants this CPU can run, best last.
std::vector<std::string> available();

// Select a variant by name; throws std::invalid_argument naming the available ones.
void select(const std::string& name);

}  // namespace normcore::dispatch
