// normcore: fast CPU kernels for activations and normalization. Umbrella header.
#pragma once
#include "normcore/activations.hpp"
#include "normcore/normalization.hpp"
#include "normcore/runtime.hpp"
#include "normcore/setup.hpp"
#include "normcore/structured.hpp"
#include "normcore/inference.hpp"
