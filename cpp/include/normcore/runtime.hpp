// normcore runtime: version, instruction-set dispatch and threads.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace normcore {

// Library version, e.g. "0.1.0".
const char* version();

// Instruction-set variants compiled into this build that this CPU can run, best last
// (x86-64: "baseline", "avx2", "avx512"; elsewhere: "baseline").
std::vector<std::string> available_isas();

// The variant in use. Chosen once, on first use, from CPUID; the environment variable
// NORMCORE_FORCE_ISA=<name> forces one (an unknown or unsupported name throws std::invalid_argument).
const char* active_isa();

// Switch the variant in use at run time (for tests and benchmarks); throws std::invalid_argument
// naming the available ones when `name` is not available.
void set_isa(const std::string& name);

// Threads used by normcore's parallel loops. Default: OpenMP's (honours OMP_NUM_THREADS).
// set_num_threads(n) with n < 1 throws std::invalid_argument.
void set_num_threads(int n);
int get_num_threads();

}  // namespace normcore
