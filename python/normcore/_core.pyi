"""Type stubs of normcore._core, the pybind11 module (use the normcore package rather than this module)."""

import enum
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

class Activation(enum.IntEnum):
    identity = 0
    binary_step = 1
    relu = 2
    hardtanh = 3
    leaky_relu = 4
    thresholded_relu = 5
    elu = 6
    gelu = 7
    gelu_tanh = 8
    swish = 9
    mish = 10
    sigmoid = 11
    log_sigmoid = 12
    hardsigmoid = 13
    tanh = 14
    hardswish = 15
    softplus = 16
    softsign = 17
    isru = 18
    isrlu = 19
    sqnl = 20
    arctan = 21
    sinc = 22

def version() -> str: ...
def available_isas() -> list[str]: ...
def active_isa() -> str: ...
def set_isa(name: str) -> None: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def copy(x: npt.ArrayLike, out: np.ndarray | None = None) -> np.ndarray[Any, Any]: ...
def blocked_sum(x: npt.ArrayLike) -> float: ...
def activation_forward(
    op: Activation, x: npt.ArrayLike, out: np.ndarray | None = None, a: float = 0.0, b: float = 0.0, c: float = 0.0
) -> np.ndarray[Any, Any]: ...
def activation_backward(
    op: Activation,
    grad_output: npt.ArrayLike,
    input: npt.ArrayLike,
    from_output: bool = False,
    out: np.ndarray | None = None,
    a: float = 0.0,
    b: float = 0.0,
    c: float = 0.0,
) -> np.ndarray[Any, Any]: ...
