// The generic kernels compiled for the avx512 instruction set (flags set per file in CMakeLists.txt).
#define NORMCORE_ISA_NS avx512
#include "kernels/isa_kernels.inl"
