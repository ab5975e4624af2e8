// The generic kernels compiled for the baseline instruction set (flags set per file in CMakeLists.txt).
#define NORMCORE_ISA_NS baseline
#include "kernels/isa_kernels.inl"
