"""Type stubs of normcore._core, the pybind11 module (use the normcore package rather than this module)."""

import enum
from typing import Any, Callable

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

# ---- structured activations (axis → (outer, C, inner) view in C++) ----
def prelu(
    x: npt.ArrayLike, weight: npt.ArrayLike, axis: int, out: np.ndarray | None = None
) -> np.ndarray[Any, Any]: ...
def prelu_backward(
    grad_output: npt.ArrayLike,
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    axis: int,
    out: tuple[np.ndarray | None, np.ndarray | None] | None = None,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]: ...
def rrelu_with_noise(
    x: npt.ArrayLike,
    noise: np.ndarray | None,
    lower: float,
    upper: float,
    out: np.ndarray | None,
    draw: Callable[[np.ndarray[Any, Any]], Any],
) -> np.ndarray[Any, Any]: ...
def rrelu_with_noise_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, noise: npt.ArrayLike, out: np.ndarray | None = None
) -> np.ndarray[Any, Any]: ...
def bipolar_relu(x: npt.ArrayLike, axis: int, out: np.ndarray | None = None) -> np.ndarray[Any, Any]: ...
def bipolar_relu_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, axis: int, out: np.ndarray | None = None
) -> np.ndarray[Any, Any]: ...
def abrelu(x: npt.ArrayLike, alpha: float, out: np.ndarray | None = None) -> np.ndarray[Any, Any]: ...
def abrelu_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, alpha: float, out: np.ndarray | None = None
) -> np.ndarray[Any, Any]: ...
def maxout(x: npt.ArrayLike, pieces: int, axis: int, out: np.ndarray | None = None) -> np.ndarray[Any, Any]: ...
def maxout_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, pieces: int, axis: int, out: np.ndarray | None = None
) -> np.ndarray[Any, Any]: ...
def softmax(x: npt.ArrayLike, axis: int, log: bool, out: np.ndarray | None = None) -> np.ndarray[Any, Any]: ...
def softmax_backward(
    grad_output: npt.ArrayLike,
    input: npt.ArrayLike,
    axis: int,
    log: bool,
    from_output: bool,
    out: np.ndarray | None = None,
) -> np.ndarray[Any, Any]: ...
# ---- normalization (normcore/normalization.py wraps these) ----
_Stats3 = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]
_Grads3 = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None, np.ndarray[Any, Any]]

def batch_norm_forward(
    x: npt.ArrayLike,
    weight: npt.ArrayLike | None,
    bias: npt.ArrayLike | None,
    eps: float,
    channel_axis: int,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    momentum: float = 0.1,
    unbiased_running_var: bool = True,
    out: np.ndarray | None = None,
) -> _Stats3: ...
def batch_norm_inference(
    x: npt.ArrayLike,
    running_mean: npt.ArrayLike | None,
    running_var: npt.ArrayLike | None,
    weight: npt.ArrayLike | None,
    bias: npt.ArrayLike | None,
    eps: float,
    channel_axis: int,
    out: np.ndarray | None = None,
) -> np.ndarray[Any, Any]: ...
def batch_norm_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, mean: npt.ArrayLike, rstd: npt.ArrayLike,
    weight: npt.ArrayLike | None, channel_axis: int,
) -> _Grads3: ...
def group_norm_forward(
    x: npt.ArrayLike, num_groups: int, weight: npt.ArrayLike | None, bias: npt.ArrayLike | None, eps: float,
    channel_axis: int, out: np.ndarray | None = None,
) -> _Stats3: ...
def group_norm_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, num_groups: int, mean: npt.ArrayLike, rstd: npt.ArrayLike,
    weight: npt.ArrayLike | None, channel_axis: int,
) -> _Grads3: ...
def instance_norm_forward(
    x: npt.ArrayLike,
    weight: npt.ArrayLike | None,
    bias: npt.ArrayLike | None,
    eps: float,
    channel_axis: int,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    momentum: float = 0.1,
    unbiased_running_var: bool = True,
    out: np.ndarray | None = None,
) -> _Stats3: ...
def instance_norm_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, mean: npt.ArrayLike, rstd: npt.ArrayLike,
    weight: npt.ArrayLike | None, channel_axis: int,
) -> _Grads3: ...
def layer_norm_forward(
    x: npt.ArrayLike, normalized_ndim: int, weight: npt.ArrayLike | None, bias: npt.ArrayLike | None, eps: float,
    out: np.ndarray | None = None,
) -> _Stats3: ...
def layer_norm_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, normalized_ndim: int, mean: npt.ArrayLike, rstd: npt.ArrayLike,
    weight: npt.ArrayLike | None,
) -> _Grads3: ...
def rms_norm_forward(
    x: npt.ArrayLike, normalized_ndim: int, weight: npt.ArrayLike | None, eps: float, out: np.ndarray | None = None
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]: ...
def rms_norm_backward(
    grad_output: npt.ArrayLike, x: npt.ArrayLike, normalized_ndim: int, rstd: npt.ArrayLike,
    weight: npt.ArrayLike | None,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]: ...

# ---- inference path (register_inference.cpp)
class FoldKind(enum.IntEnum):
    conv = 0
    conv_transpose = 1
    linear = 2

class FoldPosition(enum.IntEnum):
    after = 0
    before = 1

class ImageLayout(enum.IntEnum):
    NCHW = 0
    NHWC = 1

def fold_batchnorm(
    weight: npt.ArrayLike, bias: npt.ArrayLike | None, running_mean: npt.ArrayLike, running_var: npt.ArrayLike,
    bn_weight: npt.ArrayLike | None, bn_bias: npt.ArrayLike | None, d0: int, d1: int, K: int, kind: FoldKind,
    groups: int, position: FoldPosition, eps: float,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]: ...
def scale_shift_act(
    x: npt.ArrayLike, scale: npt.ArrayLike, shift: npt.ArrayLike, op: Activation, a: float = 0.0, b: float = 0.0,
    c: float = 0.0, channel_axis: int = 1, residual: npt.ArrayLike | None = None, out: np.ndarray | None = None,
) -> np.ndarray[Any, Any]: ...
def normalize_image(
    images: npt.ArrayLike, mean: list[float], std: list[float], scale: float, out_layout: ImageLayout, float64: bool,
    out: np.ndarray | None = None,
) -> np.ndarray[Any, Any]: ...
# setup layer (register_setup.cpp)
def sum_abs_pow(grads: Any, p: float) -> float: ...
def column_moments(x: npt.ArrayLike) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]: ...
def column_min_max(x: npt.ArrayLike) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]: ...
