"""normcore: fast, exact CPU kernels for the layer of neural networks between the matrix multiplies.

>>> import numpy as np, normcore as nc
>>> x = np.linspace(-3, 3, 7, dtype=np.float32)
>>> nc.relu(x)
array([0., 0., 0., 0., 1., 2., 3.], dtype=float32)

Arrays are float32 or float64 NumPy arrays of any shape; results keep the input's dtype and shape.
Names and defaults follow ``torch.nn.functional``.
"""

from __future__ import annotations

from . import _core
from ._checks import ArgumentError
from ._runtime import (
    active_isa,
    available_isas,
    empty_output_cache,
    get_cmake_dir,
    get_include,
    get_num_threads,
    output_cache_info,
    set_num_threads,
    set_output_cache_limit,
)
from . import activations as _activations
from .activations import *  # noqa: F403
from . import structured as _structured
from .structured import *  # noqa: F403
from .registry import ACTIVATIONS, Activation, activation
from . import nn
from . import normalization as _normalization
from .normalization import *  # noqa: F403
from . import inference as _inference
from .inference import *  # noqa: F403
from . import fuse
from . import init
from . import lab
from . import utils as _utils
from .utils import *  # noqa: F403

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "ArgumentError",
    "active_isa",
    "available_isas",
    "empty_output_cache",
    "get_cmake_dir",
    "get_include",
    "get_num_threads",
    "output_cache_info",
    "set_num_threads",
    "set_output_cache_limit",
]
__all__ += _activations.__all__
__all__ += _structured.__all__
__all__ += ["ACTIVATIONS", "Activation", "activation", "nn"]
__all__ += _normalization.__all__
__all__ += _inference.__all__
__all__ += ["fuse"]
__all__ += ["init", "preprocess", "lab"]
__all__ += _utils.__all__


# nc.preprocess is imported on first use: its estimators take scikit-learn's base classes when it is installed, and
# importing scikit-learn (with SciPy and its BLAS threads) was 0.67 s of `import normcore`'s 0.74 s.
_LAZY = ("preprocess",)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
