"""What is measured: operations, each spelled once per library, and the cases (operation × size) built from them.

To add a benchmark, add an :class:`Op` to :data:`ACTIVATION_OPS` (or a new list): its input setup, how many
array streams it moves, the tolerance against normcore's answer, and one builder per library. A builder gets the
library's views of the preallocated input buffers and ``out=`` and returns the zero-argument callable to time;
it must not allocate inside that callable (scratch space is allocated by the builder, outside the timing) —
except :func:`torch_allocating`, for the PyTorch ops that have no real ``.out`` overload. A normcore builder (or
its callable) raising NotImplementedError makes the harness skip the case with a note: a case can be written
before its kernel lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import numpy as np

import normcore as nc
from normcore import _core

from .peers import NORMCORE, NUMPY, ONNXRUNTIME, TORCH, Library, OnnxNode, torch

#: Default element counts: a memory-bound size (64 MB per float32 stream) and an in-cache one (256 KB).
LARGE = 16 * 2**20
SMALL = 65536
DEFAULT_SIZES = (LARGE, SMALL)
#: Elements of the per-call overhead case.
OVERHEAD_N = 1000

SLOPE = 0.01  # leaky_relu's negative_slope (PyTorch's default)
SELU_ALPHA, SELU_SCALE = nc.activations.SELU_ALPHA, nc.activations.SELU_SCALE
EXACT = (0.0, 0.0)  # (rtol, atol): must be bitwise equal (up to the sign of zero)
FLOAT32_TOL = (1e-5, 1e-6)
#: GELU: PyTorch and ONNX Runtime evaluate ½x(1 + tanh(u)) (or 1 + erf), which cancels for x < −3: absolute
#: errors up to ~|x|·2⁻²⁴ forward, and PyTorch's float32 tanh-form backward is exactly 0 below x ≈ −5.07 where the
#: true value is ~1e-6·dy. A wrong formula (erf form for tanh form, a missing term) is off by far more than 1e-5.
GELU_TOL = (1e-5, 1e-5)
#: silu: ONNX Runtime fuses x·Sigmoid(x) into QuickGelu, whose sigmoid has relative errors up to 5e-4 in the left
#: tail (x ≈ −8: absolute 1.2e-6); still far below what a wrong formula (x·σ(βx), β ≠ 1; gelu) would give.
SILU_TOL = (1e-5, 5e-6)

Setup = Callable[[np.random.Generator, int], "tuple[np.ndarray, ...]"]


@dataclass(frozen=True)
class Contender:
    """One library's way of computing a case. ``role``: "normcore" (the reference the others are checked
    against), "peer", or "roofline" (a memory copy of the same arrays, timed alongside, never checked)."""

    name: str
    library: Library
    build: Any  # a builder (see peers.Builder) or, for ONNX Runtime, an OnnxNode
    role: str = "peer"


@dataclass(frozen=True)
class Op:
    """An operation as every library spells it."""

    name: str
    #: Arrays of n elements read or written by one call (forward: x in, y out = 2; backward: dy, x, dx = 3).
    streams: int
    setup: Setup
    tolerance: tuple[float, float]
    spellings: tuple[tuple[Library, Any], ...]
    #: Optional, as in :class:`Case`: the output buffer's maker, bytes per element, the case's own targets.
    output: Callable[[tuple[np.ndarray, ...]], np.ndarray] | None = None
    bytes_per_element: float | None = None
    min_speedup: float | None = None
    max_roofline: float | None = None


@dataclass(frozen=True)
class Case:
    """One benchmark: an operation at one size. The harness makes a row of it per thread count."""

    name: str
    group: str
    n: int
    streams: int
    setup: Setup
    contenders: tuple[Contender, ...]
    tolerance: tuple[float, float] = FLOAT32_TOL
    dtype: Any = np.float32
    #: "ms" for throughput cases, "us" for the per-call overhead case.
    unit: str = "ms"
    #: Whether to time the memory-copy roofline of the same arrays alongside.
    roofline: bool = True
    #: Makes the output buffer from the inputs (default: ``np.empty_like(inputs[0])``).
    output: Callable[[tuple[np.ndarray, ...]], np.ndarray] | None = None
    #: Bytes one element moves, all streams together, when not ``streams · itemsize`` (mixed dtypes).
    bytes_per_element: float | None = None
    #: The case's own targets, checked by the Summary at every thread count: speed-up over the best peer at
    #: least ``min_speedup``; normcore's time at most ``max_roofline`` × the copy roofline.
    min_speedup: float | None = None
    max_roofline: float | None = None

    @property
    def size(self) -> str:
        return size_label(self.n)

    @property
    def label(self) -> str:
        """``"sigmoid fwd 16M"``: what ``--filter`` searches and what the progress lines show."""
        return f"{self.name} {self.size}"

    @property
    def bytes_moved(self) -> int:
        if self.bytes_per_element is not None:
            return round(self.n * self.bytes_per_element)
        return self.streams * self.n * np.dtype(self.dtype).itemsize


def size_label(n: int) -> str:
    """16777216 → "16M", 65536 → "64K", 1000 → "1000"."""
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n >> 20}M"
    if n >= 2**10 and n % 2**10 == 0:
        return f"{n >> 10}K"
    return str(n)


# --------------------------------------------------------------------------------------------- input setups


def _normal(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    x = rng.standard_normal(n, dtype=np.float32)
    x *= np.float32(scale)
    return x


def setup_x(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Forward: x ~ N(0, 3), both signs and both sigmoid tails."""
    return (_normal(rng, n, 3.0),)


def setup_dy_x(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Backward from the forward's input: dy ~ N(0, 1), x ~ N(0, 3)."""
    return _normal(rng, n, 1.0), _normal(rng, n, 3.0)


def from_output(forward: Callable[..., np.ndarray]) -> Setup:
    """Backward from the forward's output (PyTorch's form for sigmoid, tanh, elu, selu): the setup making
    dy ~ N(0, 1) and y = forward(x ~ N(0, 3)), computed by normcore outside the timing."""

    def setup(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        dy, x = setup_dy_x(rng, n)
        return dy, forward(x, out=x)

    setup.__name__ = f"setup_dy_y_{forward.__name__}"
    setup.__doc__ = f"dy ~ N(0, 1), y = {forward.__name__}(x ~ N(0, 3))"
    return setup


#: The sigmoid backward's setup (kept under its historical name).
setup_dy_y = from_output(nc.sigmoid)


# ------------------------------------------------------------------ NumPy spellings needing more than one ufunc
# All are chains of ufuncs writing into ``out`` (and a preallocated boolean mask where one is needed).


def numpy_leaky_relu(x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """max(x, a·x), which is leaky_relu for 0 <= a <= 1."""

    def run() -> None:
        np.multiply(x, SLOPE, out=out)
        np.maximum(x, out, out=out)

    return run


def numpy_sigmoid(x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """1 / (1 + exp(−x)), in place in ``out``."""

    def run() -> None:
        np.negative(x, out=out)
        np.exp(out, out=out)
        np.add(out, 1.0, out=out)
        np.reciprocal(out, out=out)

    return run


def numpy_relu_backward(dy: np.ndarray, x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """dy · (x > 0)."""
    mask = np.empty(x.shape, dtype=bool)

    def run() -> None:
        np.greater(x, 0, out=mask)
        np.multiply(dy, mask, out=out)

    return run


def numpy_leaky_relu_backward(dy: np.ndarray, x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """dy · max(float(x > 0), a): the factor is exactly 1 or a for 0 <= a <= 1. (Spelled with a float factor
    because the masked forms, ``np.copyto(out, dy, where=x > 0)`` or ``np.putmask``, ran 4-5x slower.)"""
    factor = np.empty(x.shape, dtype=x.dtype)

    def run() -> None:
        np.greater(x, 0, out=factor)
        np.maximum(factor, SLOPE, out=factor)
        np.multiply(dy, factor, out=out)

    return run


def numpy_sigmoid_backward(dy: np.ndarray, y: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """dy · y · (1 − y)."""

    def run() -> None:
        np.subtract(1.0, y, out=out)
        np.multiply(out, y, out=out)
        np.multiply(out, dy, out=out)

    return run


def numpy_elu(x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """max(x, expm1(min(x, 0))): elu with alpha = 1, because expm1(x) >= x."""

    def run() -> None:
        np.minimum(x, 0.0, out=out)
        np.expm1(out, out=out)
        np.maximum(x, out, out=out)

    return run


def numpy_selu(x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """scale·(max(x, 0) + alpha·expm1(min(x, 0)))."""
    positive = np.empty(x.shape, dtype=x.dtype)

    def run() -> None:
        np.minimum(x, 0.0, out=out)
        np.expm1(out, out=out)
        np.multiply(out, SELU_ALPHA, out=out)
        np.maximum(x, 0.0, out=positive)
        np.add(out, positive, out=out)
        np.multiply(out, SELU_SCALE, out=out)

    return run


def numpy_silu(x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """x / (1 + exp(−x))."""

    def run() -> None:
        np.negative(x, out=out)
        np.exp(out, out=out)
        np.add(out, 1.0, out=out)
        np.divide(x, out, out=out)

    return run


def numpy_mish(x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """x · tanh(log(1 + e^x)), the softplus as logaddexp(0, x)."""

    def run() -> None:
        np.logaddexp(0.0, x, out=out)
        np.tanh(out, out=out)
        np.multiply(x, out, out=out)

    return run


def numpy_hardswish(x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """x · min(max(x + 3, 0), 6) / 6."""

    def run() -> None:
        np.add(x, 3.0, out=out)
        np.maximum(out, 0.0, out=out)
        np.minimum(out, 6.0, out=out)
        np.multiply(x, out, out=out)
        np.divide(out, 6.0, out=out)

    return run


def numpy_elu_backward(dy: np.ndarray, y: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """From y, alpha = 1: dy · (min(y, 0) + 1), which is dy for y > 0 and dy·(y + 1) = dy·e^x below."""

    def run() -> None:
        np.minimum(y, 0.0, out=out)
        np.add(out, 1.0, out=out)
        np.multiply(dy, out, out=out)

    return run


def numpy_tanh_backward(dy: np.ndarray, y: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """From y: dy · (1 − y²)."""

    def run() -> None:
        np.multiply(y, y, out=out)
        np.subtract(1.0, out, out=out)
        np.multiply(dy, out, out=out)

    return run


def numpy_softplus_backward(dy: np.ndarray, x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """dy · σ(x) = dy / (1 + exp(−x)) (beta = 1; above the threshold 20, σ(x) rounds to 1 in float32 anyway)."""

    def run() -> None:
        np.negative(x, out=out)
        np.exp(out, out=out)
        np.add(out, 1.0, out=out)
        np.divide(dy, out, out=out)

    return run


def numpy_arctan_backward(dy: np.ndarray, x: np.ndarray, *, out: np.ndarray) -> Callable[[], Any]:
    """dy / (1 + x²)."""

    def run() -> None:
        np.multiply(x, x, out=out)
        np.add(out, 1.0, out=out)
        np.divide(dy, out, out=out)

    return run


# ------------------------------------------------------------------------------------------ PyTorch spellings


def torch_allocating(fn: Callable[..., Any], *args: Any, out: Any) -> Callable[[], Any]:
    """For a PyTorch op without a real ``.out`` overload: the timed call is the allocating one (its result is
    allocated, page-faulted in and freed on every call, what a PyTorch user pays); only the first call, the one
    the harness checks, copies the result into ``out``."""
    pending = [True]

    def run() -> None:
        result = fn(*args)
        if pending[0]:
            out.copy_(result)
            pending[0] = False

    return run


def torch_arctan_backward(dy: Any, x: Any, *, out: Any) -> Callable[[], Any]:
    """dy / (1 + x²) with ``.out`` ops (autograd's formula for atan; aten has no atan_backward op)."""

    def run() -> None:
        torch.mul(x, x, out=out)
        torch.add(out, 1.0, out=out)
        torch.div(dy, out, out=out)

    return run


# ------------------------------------------------------------------------------------------ normcore spellings


def nc_function(name: str) -> Callable[..., Any]:
    """``normcore.<name>``, or NotImplementedError while this build does not have it (the harness then skips
    the case with a note instead of failing): cases can be written before their kernel lands."""
    fn = getattr(nc, name, None)
    if fn is None:
        raise NotImplementedError(f"normcore {nc.__version__} has no {name}() yet")
    return fn


# --------------------------------------------------------------------------------------------------- the ops
# PyTorch: the aten ``.out`` / ``grad_input`` overloads over torch.from_numpy views of the same buffers.
# For relu, torch 2.13 has aten::relu.out, but it computes into a fresh tensor and copies it: 29.9 ms on 16M
# floats, as slow as the allocating torch.relu (27.1 ms), against 3.0 ms for clamp_min.out. aten implements relu
# as clamp_min(x, 0), whose .out overload is a real kernel, so torch's relu is ``torch.clamp_min(x, 0, out=out)``.

ACTIVATION_OPS: tuple[Op, ...] = (
    Op("relu fwd", 2, setup_x, EXACT, (
        (NORMCORE, lambda x, out: partial(nc.relu, x, out=out)),
        (NUMPY, lambda x, out: partial(np.maximum, x, 0, out=out)),
        (TORCH, lambda x, out: partial(torch.clamp_min, x, 0, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Relu")),
    )),
    Op("relu bwd", 3, setup_dy_x, EXACT, (
        (NORMCORE, lambda dy, x, out: partial(nc.relu_backward, dy, x, out=out)),
        (NUMPY, numpy_relu_backward),
        (TORCH, lambda dy, x, out: partial(torch.ops.aten.threshold_backward.grad_input, dy, x, 0, grad_input=out)),
    )),
    Op("leaky_relu fwd", 2, setup_x, EXACT, (
        (NORMCORE, lambda x, out: partial(nc.leaky_relu, x, SLOPE, out=out)),
        (NUMPY, numpy_leaky_relu),
        (TORCH, lambda x, out: partial(torch._C._nn.leaky_relu, x, SLOPE, out=out)),
        (ONNXRUNTIME, OnnxNode.of("LeakyRelu", alpha=SLOPE)),
    )),
    Op("leaky_relu bwd", 3, setup_dy_x, EXACT, (
        (NORMCORE, lambda dy, x, out: partial(nc.leaky_relu_backward, dy, x, SLOPE, out=out)),
        (NUMPY, numpy_leaky_relu_backward),
        (TORCH, lambda dy, x, out: partial(
            torch.ops.aten.leaky_relu_backward.grad_input, dy, x, SLOPE, False, grad_input=out)),
    )),
    Op("sigmoid fwd", 2, setup_x, FLOAT32_TOL, (
        (NORMCORE, lambda x, out: partial(nc.sigmoid, x, out=out)),
        (NUMPY, numpy_sigmoid),
        (TORCH, lambda x, out: partial(torch.sigmoid, x, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Sigmoid")),
    )),
    Op("sigmoid bwd", 3, setup_dy_y, FLOAT32_TOL, (
        (NORMCORE, lambda dy, y, out: partial(nc.sigmoid_backward, dy, y=y, out=out)),
        (NUMPY, numpy_sigmoid_backward),
        (TORCH, lambda dy, y, out: partial(torch.ops.aten.sigmoid_backward.grad_input, dy, y, grad_input=out)),
    )),
    Op("elu fwd", 2, setup_x, FLOAT32_TOL, (
        (NORMCORE, lambda x, out: partial(nc.elu, x, out=out)),
        (NUMPY, numpy_elu),
        (TORCH, lambda x, out: partial(torch._C._nn.elu, x, 1.0, 1.0, 1.0, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Elu", alpha=1.0)),
    )),
    Op("elu bwd", 3, from_output(nc.elu), FLOAT32_TOL, (
        (NORMCORE, lambda dy, y, out: partial(nc.elu_backward, dy, y=y, out=out)),
        (NUMPY, numpy_elu_backward),
        (TORCH, lambda dy, y, out: partial(
            torch.ops.aten.elu_backward.grad_input, dy, 1.0, 1.0, 1.0, True, y, grad_input=out)),
    )),
    # torch.selu has no .out overload; aten's selu is elu(x, alpha, scale), whose .out is used here.
    Op("selu fwd", 2, setup_x, FLOAT32_TOL, (
        (NORMCORE, lambda x, out: partial(nc.selu, x, out=out)),
        (NUMPY, numpy_selu),
        (TORCH, lambda x, out: partial(torch._C._nn.elu, x, SELU_ALPHA, SELU_SCALE, 1.0, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE)),
    )),
    Op("selu bwd", 3, from_output(nc.selu), FLOAT32_TOL, (
        (NORMCORE, lambda dy, y, out: partial(nc.selu_backward, dy, y=y, out=out)),
        (TORCH, lambda dy, y, out: partial(
            torch.ops.aten.elu_backward.grad_input, dy, SELU_ALPHA, SELU_SCALE, 1.0, True, y, grad_input=out)),
    )),
    Op("gelu_tanh fwd", 2, setup_x, GELU_TOL, (
        (NORMCORE, lambda x, out: partial(nc.gelu, x, "tanh", out=out)),
        (TORCH, lambda x, out: partial(torch._C._nn.gelu, x, approximate="tanh", out=out)),
        (ONNXRUNTIME, OnnxNode.of("Gelu", approximate="tanh", opset=20)),
    )),
    Op("gelu_tanh bwd", 3, setup_dy_x, GELU_TOL, (
        (NORMCORE, lambda dy, x, out: partial(nc.gelu_backward, dy, x, "tanh", out=out)),
        (TORCH, lambda dy, x, out: partial(
            torch.ops.aten.gelu_backward.grad_input, dy, x, approximate="tanh", grad_input=out)),
    )),
    # The erf form (PyTorch's default): builds without its kernel raise NotImplementedError (rows skipped).
    Op("gelu fwd", 2, setup_x, GELU_TOL, (
        (NORMCORE, lambda x, out: partial(nc.gelu, x, "none", out=out)),
        (TORCH, lambda x, out: partial(torch._C._nn.gelu, x, approximate="none", out=out)),
        (ONNXRUNTIME, OnnxNode.of("Gelu", approximate="none", opset=20)),
    )),
    Op("gelu bwd", 3, setup_dy_x, GELU_TOL, (
        (NORMCORE, lambda dy, x, out: partial(nc.gelu_backward, dy, x, "none", out=out)),
        (TORCH, lambda dy, x, out: partial(
            torch.ops.aten.gelu_backward.grad_input, dy, x, approximate="none", grad_input=out)),
    )),
    Op("silu fwd", 2, setup_x, SILU_TOL, (
        (NORMCORE, lambda x, out: partial(nc.silu, x, out=out)),
        (NUMPY, numpy_silu),
        (TORCH, lambda x, out: partial(torch._C._nn.silu, x, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Sigmoid", gate=True)),  # x·Sigmoid(x): fused by ONNX Runtime (QuickGelu)
    )),
    Op("silu bwd", 3, setup_dy_x, SILU_TOL, (
        (NORMCORE, lambda dy, x, out: partial(nc.silu_backward, dy, x, out=out)),
        (TORCH, lambda dy, x, out: partial(torch.ops.aten.silu_backward.grad_input, dy, x, grad_input=out)),
    )),
    Op("mish fwd", 2, setup_x, FLOAT32_TOL, (
        (NORMCORE, lambda x, out: partial(nc.mish, x, out=out)),
        (NUMPY, numpy_mish),
        (TORCH, lambda x, out: partial(torch._C._nn.mish, x, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Mish", opset=18)),
    )),
    # aten::mish_backward has no .out / grad_input overload in torch 2.13: its allocating call is timed.
    Op("mish bwd", 3, setup_dy_x, FLOAT32_TOL, (
        (NORMCORE, lambda dy, x, out: partial(nc.mish_backward, dy, x, out=out)),
        (TORCH, lambda dy, x, out: torch_allocating(torch.ops.aten.mish_backward.default, dy, x, out=out)),
    )),
    Op("tanh fwd", 2, setup_x, FLOAT32_TOL, (
        (NORMCORE, lambda x, out: partial(nc.tanh, x, out=out)),
        (NUMPY, lambda x, out: partial(np.tanh, x, out=out)),
        (TORCH, lambda x, out: partial(torch.tanh, x, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Tanh")),
    )),
    Op("tanh bwd", 3, from_output(nc.tanh), FLOAT32_TOL, (
        (NORMCORE, lambda dy, y, out: partial(nc.tanh_backward, dy, y=y, out=out)),
        (NUMPY, numpy_tanh_backward),
        (TORCH, lambda dy, y, out: partial(torch.ops.aten.tanh_backward.grad_input, dy, y, grad_input=out)),
    )),
    Op("softplus fwd", 2, setup_x, FLOAT32_TOL, (
        (NORMCORE, lambda x, out: partial(nc.softplus, x, out=out)),
        (NUMPY, lambda x, out: partial(np.logaddexp, 0.0, x, out=out)),
        (TORCH, lambda x, out: partial(torch._C._nn.softplus, x, 1.0, 20.0, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Softplus")),
    )),
    Op("softplus bwd", 3, setup_dy_x, FLOAT32_TOL, (
        (NORMCORE, lambda dy, x, out: partial(nc.softplus_backward, dy, x, out=out)),
        (NUMPY, numpy_softplus_backward),
        (TORCH, lambda dy, x, out: partial(
            torch.ops.aten.softplus_backward.grad_input, dy, x, 1.0, 20.0, grad_input=out)),
    )),
    Op("hardswish fwd", 2, setup_x, FLOAT32_TOL, (
        (NORMCORE, lambda x, out: partial(nc.hardswish, x, out=out)),
        (NUMPY, numpy_hardswish),
        (TORCH, lambda x, out: partial(torch._C._nn.hardswish, x, out=out)),
        (ONNXRUNTIME, OnnxNode.of("HardSwish")),
    )),
    # aten::hardswish_backward.out exists but computes into a fresh tensor and copies (16M, 1 thread: 50 ms
    # against 45 ms for the allocating call): the allocating call is timed.
    Op("hardswish bwd", 3, setup_dy_x, FLOAT32_TOL, (
        (NORMCORE, lambda dy, x, out: partial(nc.hardswish_backward, dy, x, out=out)),
        (TORCH, lambda dy, x, out: torch_allocating(torch.ops.aten.hardswish_backward.default, dy, x, out=out)),
    )),
    # normcore.arctan is not in every build: skipped (with a note) where it is missing.
    Op("arctan fwd", 2, setup_x, FLOAT32_TOL, (
        (NORMCORE, lambda x, out: partial(nc_function("arctan"), x, out=out)),
        (NUMPY, lambda x, out: partial(np.arctan, x, out=out)),
        (TORCH, lambda x, out: partial(torch.atan, x, out=out)),
        (ONNXRUNTIME, OnnxNode.of("Atan")),
    )),
    Op("arctan bwd", 3, setup_dy_x, FLOAT32_TOL, (
        (NORMCORE, lambda dy, x, out: partial(nc_function("arctan_backward"), dy, x, out=out)),
        (NUMPY, numpy_arctan_backward),
        (TORCH, torch_arctan_backward),
    )),
)

#: The per-call overhead case: relu over a handful of elements, everything but the call itself is negligible.
#: ONNX Runtime is left out: a session run is an engine invocation, not a function call.
OVERHEAD_OP = Op("relu call overhead", 2, setup_x, EXACT, ACTIVATION_OPS[0].spellings[:3])

#: The memory-copy roofline, timed over each case's own first input and output: normcore's threaded copy loop
#: (its store policy: streaming stores for large arrays) and NumPy's single-threaded ``np.copyto``.
ROOFLINE: tuple[Contender, ...] = (
    Contender("copy (normcore loop)", NORMCORE, lambda x, *rest, out: partial(_core.copy, x, out), "roofline"),
    Contender("copy (np.copyto)", NUMPY, lambda x, *rest, out: partial(np.copyto, out, x), "roofline"),
)


def contenders(op: Op) -> tuple[Contender, ...]:
    """The op's contenders whose library is installed, normcore first."""
    return tuple(
        Contender(lib.name, lib, build, "normcore" if lib is NORMCORE else "peer")
        for lib, build in op.spellings
        if lib.available()
    )


def make_case(op: Op, n: int, *, group: str = "activation", unit: str = "ms", roofline: bool = True) -> Case:
    return Case(op.name, group, n, op.streams, op.setup, contenders(op), op.tolerance, unit=unit,
                roofline=roofline, output=op.output, bytes_per_element=op.bytes_per_element,
                min_speedup=op.min_speedup, max_roofline=op.max_roofline)


def default_cases(sizes: tuple[int, ...] = DEFAULT_SIZES, overhead_n: int | None = OVERHEAD_N) -> list[Case]:
    """Every activation op at every size (op-major), then the per-call overhead case (unless overhead_n is None)."""
    cases = [make_case(op, n) for op in ACTIVATION_OPS for n in sizes]
    if overhead_n is not None:
        cases.append(make_case(OVERHEAD_OP, overhead_n, group="overhead", unit="us", roofline=False))
    return cases


# ------------------------------------------------------------------------------------------- normalization
# Issue 4's cases: float32, both sides allocating their outputs (the functional calls as users make them; the
# first, checked call copies the main result into the harness's ``out``). Streams = the passes over x-sized
# arrays that a call needs at least (e.g. BatchNorm training forward: read x for the statistics, read x and
# write y to normalize = 3; its backward: read dy and x for the sums, read them again and write dx = 5).

BN_SHAPE = (32, 64, 56, 56)
LN_SHAPE = (8192, 1024)
NORM_TOL = (1e-4, 1e-4)


def allocating(fn: Callable[..., Any], *args: Any, out: Any, **kwargs: Any) -> Callable[[], Any]:
    """A call that allocates its result (a tuple's first element is the one checked): only the first call copies
    it into ``out``. Works for NumPy arrays and torch tensors."""
    pending = [True]

    def run() -> None:
        result = fn(*args, **kwargs)
        if pending[0]:
            first = result[0] if isinstance(result, tuple) else result
            if hasattr(out, "copy_"):
                out.copy_(first)
            else:
                np.copyto(out, first)
            pending[0] = False

    return run


def _layout(x: np.ndarray, channels_last: bool) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if channels_last else x


def _torch_nchw(x: Any, channels_last: bool) -> Any:
    """The NCHW-shaped torch view of a NumPy buffer (channels-last memory when the buffer is NHWC)."""
    return x.permute(0, 3, 1, 2) if channels_last else x


def norm_setup(shape: tuple[int, ...], *, channels: int | None = None, backward: bool = False,
               channels_last: bool = False, stats: str | None = None) -> Setup:
    """x ~ 3 + N(0, 2) of ``shape`` (made channels-last when asked), then per-channel weight, bias (and running
    mean / var for BatchNorm eval, or the forward's (mean, rstd) for a backward: ``stats`` names the forward)."""

    def setup(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        x = _layout((rng.standard_normal(shape, dtype=np.float32) * 2 + 3).astype(np.float32), channels_last)
        c = channels if channels is not None else shape[-1]
        w = rng.uniform(0.5, 1.5, c).astype(np.float32)
        b = rng.standard_normal(c).astype(np.float32)
        if stats == "eval":
            return x, w, b, rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
        if not backward:
            return x, w, b
        dy = rng.standard_normal(x.shape, dtype=np.float32)
        axis = -1 if channels_last else 1
        if stats == "batch":
            _, mean, rstd = nc.batch_norm_forward(x, w, b, channel_axis=axis)
        elif stats == "instance":
            _, mean, rstd = nc.instance_norm_forward(x, w, b, channel_axis=axis)
        elif stats == "group":
            _, mean, rstd = nc.group_norm_forward(x, 32, w, b)
        elif stats == "layer":
            _, mean, rstd = nc.layer_norm_forward(x, shape[-1:], w, b)
        else:  # rms
            _, rstd = nc.rms_norm_forward(x, shape[-1:], w)
            mean = rstd
        return dy, x, w, mean, rstd

    return setup


def _torch_bn_train_bwd(channels_last: bool):
    def build(dy, x, w, mean, rstd, *, out):
        # aten's training-mode kernel with the statistics as its forward saved them (mean, 1/√(var + eps))
        return allocating(torch.ops.aten.native_batch_norm_backward, _torch_nchw(dy, channels_last),
                          _torch_nchw(x, channels_last), w, None, None, mean, rstd, True, 1e-5,
                          [True, True, True], out=_torch_nchw(out, channels_last))
    return build


def _torch_autograd_bwd(forward: Callable[..., Any]):
    """PyTorch's backward through autograd for ops whose aten backward is composite: the graph is built once
    (outside the timing) and only the backward pass is timed (retain_graph)."""
    def build(dy, x, w, mean, rstd, *, out):
        xr = x.detach().requires_grad_(True)
        wr = w.detach().requires_grad_(True)
        y = forward(xr, wr)
        return allocating(torch.autograd.grad, y, (xr, wr), dy, retain_graph=True, out=out)
    return build


def _bn_ops(shape: tuple[int, ...], channels_last: bool) -> tuple[Op, ...]:
    layout = "NHWC" if channels_last else "NCHW"
    axis = -1 if channels_last else 1
    c = shape[1]
    t = partial(_torch_nchw, channels_last=channels_last)
    return (
        Op(f"batch_norm2d train fwd {layout}", 3, norm_setup(shape, channels=c, channels_last=channels_last),
           NORM_TOL, (
               (NORMCORE, lambda x, w, b, *, out: allocating(nc.batch_norm_forward, x, w, b, channel_axis=axis,
                                                             out=out)),
               (TORCH, lambda x, w, b, *, out: allocating(torch.nn.functional.batch_norm, t(x), None, None, w, b,
                                                          True, out=t(out))),
           )),
        Op(f"batch_norm2d train bwd {layout}", 5,
           norm_setup(shape, channels=c, backward=True, channels_last=channels_last, stats="batch"), NORM_TOL, (
               (NORMCORE, lambda dy, x, w, mean, rstd, *, out: allocating(
                   nc.batch_norm_backward, dy, x, mean, rstd, w, channel_axis=axis, out=out)),
               (TORCH, _torch_bn_train_bwd(channels_last)),
           )),
        Op(f"batch_norm2d eval {layout}", 2, norm_setup(shape, channels=c, channels_last=channels_last,
                                                          stats="eval"), NORM_TOL, (
               (NORMCORE, lambda x, w, b, rm, rv, *, out: allocating(nc.batch_norm, x, rm, rv, w, b,
                                                                     channel_axis=axis, out=out)),
               (TORCH, lambda x, w, b, rm, rv, *, out: allocating(torch.nn.functional.batch_norm, t(x), rm, rv, w,
                                                                  b, False, out=t(out))),
               *(((ONNXRUNTIME, OnnxNode.of("BatchNormalization", epsilon=1e-5)),) if not channels_last else ()),
           )),
    )


def _label(shape: tuple[int, ...]) -> str:
    return "(" + ",".join(map(str, shape)) + ")"


def norm_ops(bn: tuple[int, ...] = BN_SHAPE, ln: tuple[int, int] = LN_SHAPE) -> tuple[Op, ...]:
    """Issue 4's operations over (N, C, H, W) ``bn`` (BatchNorm, GroupNorm with 32 groups, InstanceNorm) and
    (rows, D) ``ln`` (LayerNorm, RMSNorm) shapes."""
    c, hw, d = bn[1], int(np.prod(bn[2:])), ln[-1:]
    return (
    *_bn_ops(bn, False),
    *_bn_ops(bn, True),
    Op(f"layer_norm fwd {_label(ln)}", 2, norm_setup(ln), NORM_TOL, (
        (NORMCORE, lambda x, w, b, *, out: allocating(nc.layer_norm, x, d, w, b, out=out)),
        (TORCH, lambda x, w, b, *, out: allocating(torch.nn.functional.layer_norm, x, d, w, b,
                                                   out=out)),
        (ONNXRUNTIME, OnnxNode.of("LayerNormalization", opset=17, axis=-1, epsilon=1e-5)),
    )),
    Op(f"layer_norm bwd {_label(ln)}", 3, norm_setup(ln, backward=True, stats="layer"), NORM_TOL, (
        (NORMCORE, lambda dy, x, w, mean, rstd, *, out: allocating(
            nc.layer_norm_backward, dy, x, d, mean, rstd, w, out=out)),
        (TORCH, lambda dy, x, w, mean, rstd, *, out: allocating(
            torch.ops.aten.native_layer_norm_backward, dy, x, list(d), mean.reshape(-1, 1),
            rstd.reshape(-1, 1), w, torch.zeros_like(w), [True, True, True], out=out)),
    )),
    Op(f"group_norm fwd G=32 {_label(bn)}", 2, norm_setup(bn, channels=c), NORM_TOL, (
        (NORMCORE, lambda x, w, b, *, out: allocating(nc.group_norm, x, 32, w, b, out=out)),
        (TORCH, lambda x, w, b, *, out: allocating(torch.nn.functional.group_norm, x, 32, w, b, out=out)),
    )),
    Op(f"group_norm bwd G=32 {_label(bn)}", 3, norm_setup(bn, channels=c, backward=True, stats="group"),
       NORM_TOL, (
           (NORMCORE, lambda dy, x, w, mean, rstd, *, out: allocating(
               nc.group_norm_backward, dy, x, 32, mean, rstd, w, out=out)),
           (TORCH, lambda dy, x, w, mean, rstd, *, out: allocating(
               torch.ops.aten.native_group_norm_backward, dy, x, mean, rstd, w, bn[0], c, hw, 32,
               [True, True, True], out=out)),
       )),
    Op(f"instance_norm fwd {_label(bn)}", 2, norm_setup(bn, channels=c), NORM_TOL, (
        (NORMCORE, lambda x, w, b, *, out: allocating(nc.instance_norm, x, None, None, w, b, out=out)),
        (TORCH, lambda x, w, b, *, out: allocating(torch.nn.functional.instance_norm, x, None, None, w, b,
                                                   out=out)),
        (ONNXRUNTIME, OnnxNode.of("InstanceNormalization", epsilon=1e-5)),
    )),
    Op(f"instance_norm bwd {_label(bn)}", 3, norm_setup(bn, channels=c, backward=True, stats="instance"),
       NORM_TOL, (
           (NORMCORE, lambda dy, x, w, mean, rstd, *, out: allocating(
               nc.instance_norm_backward, dy, x, mean, rstd, w, out=out)),
           (TORCH, _torch_autograd_bwd(lambda x, w: torch.nn.functional.instance_norm(x, weight=w))),
       )),
    Op(f"rms_norm fwd {_label(ln)}", 2, norm_setup(ln), NORM_TOL, (
        (NORMCORE, lambda x, w, b, *, out: allocating(nc.rms_norm, x, d, w, out=out)),
        (TORCH, lambda x, w, b, *, out: allocating(torch.nn.functional.rms_norm, x, d, w, out=out)),
    )),
    Op(f"rms_norm bwd {_label(ln)}", 3, norm_setup(ln, backward=True, stats="rms"), NORM_TOL, (
        (NORMCORE, lambda dy, x, w, mean, rstd, *, out: allocating(
            nc.rms_norm_backward, dy, x, d, rstd, w, out=out)),
        (TORCH, _torch_autograd_bwd(lambda x, w: torch.nn.functional.rms_norm(x, d, w))),
    )),
    )


def norm_cases(bn: tuple[int, ...] = BN_SHAPE, ln: tuple[int, int] = LN_SHAPE) -> list[Case]:
    """The normalization cases, one per op at the given shapes (default: the issue's)."""
    return [make_case(op, int(np.prod(ln if op.name.endswith(_label(ln)) else bn)), group="normalization")
            for op in norm_ops(bn, ln)]


# ----------------------------------------------------------------------------------------------- inference
# Issue 5's cases. The fused BatchNorm-eval + ReLU (scale_shift_act, the per-channel scale and shift folded from
# the running statistics outside the timing, as an inference engine does once) against PyTorch's batch_norm +
# relu_ and ONNX Runtime's BatchNormalization → Relu; the fused uint8 image normalization against NumPy's and
# PyTorch's best spellings; and a small ResNet-like PyTorch model in eval mode, folded by nc.fuse.fuse_torch
# (normcore's column) against the same model unfolded (end-to-end inference speed-up; both run on PyTorch).

IMAGE_SHAPE = (64, 224, 224, 3)
IMAGE_MEAN = (0.485, 0.456, 0.406)  # ImageNet's, as torchvision's Normalize is usually given
IMAGE_STD = (0.229, 0.224, 0.225)
MODEL_INPUT = (16, 3, 64, 64)
#: The issue's targets: scale_shift_act ≥ 1.2× the best peer and within 1.2× a memory copy; normalize_image ≥ 3×.
TARGET_SSA_SPEEDUP, TARGET_SSA_ROOFLINE, TARGET_IMAGE_SPEEDUP = 1.2, 1.2, 3.0


def _folded_scale_shift(w: np.ndarray, b: np.ndarray, rm: np.ndarray, rv: np.ndarray, eps: float = 1e-5):
    """BatchNorm eval as y = x·scale + shift (float64, rounded once to float32)."""
    scale = w.astype(np.float64) / np.sqrt(rv.astype(np.float64) + eps)
    return scale.astype(np.float32), (b - rm.astype(np.float64) * scale).astype(np.float32)


def _ssa_op(shape: tuple[int, ...], channels_last: bool) -> Op:
    layout = "NHWC" if channels_last else "NCHW"
    axis = -1 if channels_last else 1
    t = partial(_torch_nchw, channels_last=channels_last)

    def normcore(x, w, b, rm, rv, *, out):
        scale, shift = _folded_scale_shift(w, b, rm, rv)
        return partial(nc.scale_shift_act, x, scale, shift, "relu", channel_axis=axis, out=out)

    def torch_bn_relu(x, w, b, rm, rv, *, out):
        return allocating(lambda: torch.nn.functional.batch_norm(t(x), rm, rv, w, b, False).relu_(), out=t(out))

    return Op(f"scale_shift_act relu {layout} {_label(shape)}", 2,
              norm_setup(shape, channels=shape[1], channels_last=channels_last, stats="eval"), NORM_TOL, (
                  (NORMCORE, normcore),
                  (TORCH, torch_bn_relu),
                  *(((ONNXRUNTIME, OnnxNode.of("BatchNormalization", epsilon=1e-5, then=("Relu",))),)
                    if not channels_last else ()),
              ), min_speedup=TARGET_SSA_SPEEDUP, max_roofline=TARGET_SSA_ROOFLINE)


def image_setup(shape: tuple[int, ...]) -> Setup:
    """Random uint8 images of ``shape`` (NHWC) and ImageNet's mean and std."""

    def setup(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        return (rng.integers(0, 256, shape, dtype=np.uint8), np.array(IMAGE_MEAN, np.float32),
                np.array(IMAGE_STD, np.float32))

    return setup


def _nchw_float32(inputs: tuple[np.ndarray, ...]) -> np.ndarray:
    return np.empty(np.moveaxis(inputs[0], -1, 1).shape, np.float32)


def _image_affine(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(images·(1/255) − mean) / std = images·a − b, with a, b of shape (C, 1, 1) for NCHW broadcasting."""
    a = (1.0 / 255.0) / std.astype(np.float64)
    b = mean.astype(np.float64) / std.astype(np.float64)
    return a.astype(np.float32).reshape(-1, 1, 1), b.astype(np.float32).reshape(-1, 1, 1)


def numpy_normalize_image(images, mean, std, *, out):
    """Two ufuncs with out=: multiply the NCHW view of the uint8 images by 1/(255·std), subtract mean/std."""
    a, b = _image_affine(mean, std)
    nchw = images.transpose(0, 3, 1, 2)

    def run() -> None:
        np.multiply(nchw, a, out=out)
        np.subtract(out, b, out=out)

    return run


def torch_normalize_image(images, mean, std, *, out):
    """The same two passes in PyTorch with out= (faster than ToTensor's ``.float().div(255)`` followed by
    Normalize's ``sub_(mean).div_(std)``: two fewer passes, no allocation)."""
    a, b = (torch.from_numpy(v) for v in _image_affine(mean.numpy(), std.numpy()))
    nchw = images.permute(0, 3, 1, 2)

    def run() -> None:
        torch.mul(nchw, a, out=out)
        out.sub_(b)

    return run


def image_op(shape: tuple[int, ...] = IMAGE_SHAPE) -> Op:
    """uint8 NHWC images of ``shape`` → normalized NCHW float32 (5 bytes per element: 1 read, 4 written)."""
    return Op(f"normalize_image uint8 NHWC->NCHW {_label(shape)}", 2, image_setup(shape), (1e-5, 1e-5), (
        (NORMCORE, lambda images, mean, std, *, out: partial(nc.normalize_image, images, mean, std, out=out)),
        (NUMPY, numpy_normalize_image),
        (TORCH, torch_normalize_image),
    ), output=_nchw_float32, bytes_per_element=5, min_speedup=TARGET_IMAGE_SPEEDUP)


def resnet_like(channels: int = 32, blocks: int = 4, classes: int = 10, seed: int = 0) -> Any:
    """A small ResNet-like torch model in eval mode (conv-BN-ReLU stem, residual blocks of two conv-BN with a
    strided 1×1 conv-BN shortcut where the shape changes, pooling, a Linear → BatchNorm1d head), random BatchNorm
    statistics; deterministic for a seed."""
    nn = torch.nn
    torch.manual_seed(seed)

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                          if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.short(x))

    layers: list[Any] = [nn.Conv2d(3, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
    c = channels
    for i in range(blocks):
        stride = 2 if i and i % 2 == 0 else 1
        cout = c * stride
        layers.append(Block(c, cout, stride))
        c = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, c), nn.BatchNorm1d(c), nn.ReLU(),
               nn.Linear(c, classes)]
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def model_setup(shape: tuple[int, ...]) -> Setup:
    def setup(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        return (rng.standard_normal(shape, dtype=np.float32),)

    return setup


def _model_output(inputs: tuple[np.ndarray, ...]) -> np.ndarray:
    return np.empty((inputs[0].shape[0], 10), np.float32)


def _torch_model(fold: bool):
    def build(x, *, out):
        from ..fuse import fuse_torch

        model = resnet_like()
        if fold:
            model = fuse_torch(model)

        def infer():
            with torch.inference_mode():
                return model(x)

        return allocating(infer, out=out)

    return build


#: normcore's column is the folded model (nc.fuse.fuse_torch, run by PyTorch), the peer the original: speed-up =
#: the end-to-end inference speed-up of folding.
MODEL_CONTENDERS = (Contender("torch + nc.fuse.fuse_torch", TORCH, _torch_model(True), "normcore"),
                    Contender("torch (unfolded)", TORCH, _torch_model(False)))


def inference_cases(bn: tuple[int, ...] = BN_SHAPE, image: tuple[int, ...] = IMAGE_SHAPE,
                    model_input: tuple[int, ...] = MODEL_INPUT) -> list[Case]:
    """scale_shift_act with ReLU (NCHW, NHWC) on ``bn``, normalize_image on ``image``, then the folded model on
    ``model_input`` (when PyTorch is installed)."""
    out = [make_case(_ssa_op(bn, last), int(np.prod(bn)), group="inference") for last in (False, True)]
    out.append(make_case(image_op(image), int(np.prod(image)), group="inference", roofline=False))
    if TORCH.available():
        out.append(Case(f"resnet-like eval, BatchNorm folded {_label(model_input)}", "inference",
                        int(np.prod(model_input)), 2, model_setup(model_input), MODEL_CONTENDERS, (1e-4, 1e-4),
                        roofline=False, output=_model_output, bytes_per_element=0))
    return out
