"""What is measured: operations, each spelled once per library, and the cases (operation × size) built from them.

To add a benchmark, add an :class:`Op` to :data:`ACTIVATION_OPS` (or a new list): its input setup, how many
array streams it moves, the tolerance against normcore's answer, and one builder per library. A builder gets the
library's views of the preallocated input buffers and ``out=`` and returns the zero-argument callable to time;
it must not allocate inside that callable (scratch space is allocated by the builder, outside the timing).
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
EXACT = (0.0, 0.0)  # (rtol, atol): must be bitwise equal (up to the sign of zero)
FLOAT32_TOL = (1e-5, 1e-6)

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

    @property
    def size(self) -> str:
        return size_label(self.n)

    @property
    def label(self) -> str:
        """``"sigmoid fwd 16M"``: what ``--filter`` searches and what the progress lines show."""
        return f"{self.name} {self.size}"

    @property
    def bytes_moved(self) -> int:
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


def setup_dy_y(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Backward from the forward's output (PyTorch's form for sigmoid): dy ~ N(0, 1), y = sigmoid(x ~ N(0, 3))."""
    dy, x = setup_dy_x(rng, n)
    return dy, nc.sigmoid(x, out=x)


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
                roofline=roofline)


def default_cases(sizes: tuple[int, ...] = DEFAULT_SIZES, overhead_n: int | None = OVERHEAD_N) -> list[Case]:
    """Every activation op at every size (op-major), then the per-call overhead case (unless overhead_n is None)."""
    cases = [make_case(op, n) for op in ACTIVATION_OPS for n in sizes]
    if overhead_n is not None:
        cases.append(make_case(OVERHEAD_OP, overhead_n, group="overhead", unit="us", roofline=False))
    return cases
