"""Runtime: instruction-set dispatch, threads, and where the C++ package is installed."""

from __future__ import annotations

from pathlib import Path

from . import _core

_HERE = Path(__file__).resolve().parent


def available_isas() -> list[str]:
    """Instruction-set variants of the kernels this CPU can run, best last (e.g. ['baseline', 'avx2', 'avx512'])."""
    return list(_core.available_isas())


def active_isa() -> str:
    """The variant in use: the best available one, or the one forced by ``NORMCORE_FORCE_ISA``."""
    return _core.active_isa()


def set_num_threads(n: int) -> None:
    """Use at most ``n`` threads (n >= 1) in normcore's parallel loops. Default: OpenMP's (OMP_NUM_THREADS)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Threads normcore's parallel loops may use."""
    return _core.get_num_threads()


def set_output_cache_limit(nbytes: int) -> None:
    """Keep at most ``nbytes`` of freed output buffers for reuse; 0 turns the cache off (frees what it holds).

    Outputs of 1 MiB and more that normcore allocates (``out=None``) come from a cache of buffers whose arrays
    have been freed: a fresh buffer costs the OS's page faults on first touch, which for tens of MB take longer
    than the kernel filling it. A loop that asks for the same sizes call after call reuses them. Default 512 MiB,
    or the environment variable ``NORMCORE_OUTPUT_CACHE_BYTES`` at import.
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, int):
        raise TypeError(f"set_output_cache_limit: nbytes must be an int, got {type(nbytes).__name__}")
    if nbytes < 0:
        raise ValueError(f"set_output_cache_limit: nbytes must be >= 0, got {nbytes}")
    _core.set_output_cache_limit(nbytes)


def output_cache_info() -> dict[str, int]:
    """The output cache: ``limit_bytes``, ``cached_bytes`` / ``cached_buffers`` (free, kept for reuse),
    ``live_bytes`` (held by arrays alive now), ``hits`` and ``misses`` (allocations served from the cache or not)."""
    return dict(_core.output_cache_info())


def empty_output_cache() -> None:
    """Free every cached output buffer (arrays still alive keep theirs; the limit stays)."""
    _core.empty_output_cache()


def get_cmake_dir() -> str:
    """Directory of normcore's CMake package (normcoreConfig.cmake), for ``-Dnormcore_DIR=...``."""
    path = _HERE / "share" / "cmake" / "normcore"
    if not (path / "normcoreConfig.cmake").is_file():
        raise ImportError("normcore's CMake package is not installed next to the Python package")
    return str(path)


def get_include() -> str:
    """Directory holding the public C++ headers (normcore/normcore.hpp)."""
    return str(_HERE / "include")
