// The generic kernels compiled for the avx2 instruction set (flags set per file in CMakeLists.txt).
#define NORMCORE_ISA_NS avx2
#include "kernels/isa_kernels.inl"
