from __future__ import annotations

import numpy as np
import pytest

import normcore as nc
from normcore import _core

ISAS = nc.available_isas()


@pytest.fixture(params=ISAS)
def isa(request):
    """Run the test with each instruction-set variant this CPU can run (switched in process)."""
    before = nc.active_isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(before)


@pytest.fixture
def threads():
    """Restore the thread count after a test that changes it."""
    before = nc.get_num_threads()
    yield
    nc.set_num_threads(before)


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)


def lanes(dtype) -> int:
    """Vector width of the widest variant, in elements of dtype (the awkward sizes are built around it)."""
    return 64 // np.dtype(dtype).itemsize


def awkward_sizes(dtype):
    w = lanes(dtype)
    return [0, 1, w - 1, w, w + 1, 2 * w + 3, 100_003]


def special_values(dtype):
    f = np.finfo(dtype)
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, f.smallest_subnormal, -f.smallest_subnormal,
                     f.tiny, -f.tiny, f.max, -f.max, 1.0, -1.0, 0.5, -0.5, 20.0, -20.0, 100.0, -100.0], dtype=dtype)


try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_TORCH = False

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
