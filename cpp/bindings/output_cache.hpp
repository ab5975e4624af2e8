// New output arrays. Large ones (≥ 1 MiB) come from a cache of freed output buffers: a fresh buffer costs the
// kernel's page faults and zeroing on first touch, which for a 32 MB output took longer than the kernel writing
// it here (3–4 ms against ~1.3 ms). Training and inference loops ask for the same sizes call after call, so a
// buffer freed by the last call (its NumPy array gone) serves the next one without a fault. Buffers are 2 MiB
// aligned (64-byte-aligned rows for the streaming stores) and advised as transparent huge pages on Linux.
// Freed buffers are kept up to a byte limit (default 512 MiB, env NORMCORE_OUTPUT_CACHE_BYTES, or
// set_output_cache_limit), oldest released first. Smaller outputs use NumPy's allocator.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <vector>

namespace normcore::bindings {

namespace py = pybind11;

// An uninitialized C-contiguous array of dtype dt and the given shape (like numpy.empty).
py::array new_array(const py::dtype& dt, const std::vector<py::ssize_t>& shape);

// Registers set_output_cache_limit, output_cache_info and empty_output_cache.
void register_output_cache(py::module_& m);

}  // namespace normcore::bindings
