"""relu, leaky_relu, sigmoid: forward and backward on every ISA against float64 references, awkward sizes,
in place, special values, finite differences, thread-count determinism and PyTorch parity."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import normcore as nc
import reference as ref
from conftest import awkward_sizes, needs_torch, special_values


@dataclass
class Op:
    name: str
    params: dict = field(default_factory=dict)
    tol: str = "ulp"  # "exact" (bitwise the rounded float64 result), "ulp" (≤ 4 ulp in float32), "abs"
    from_output: bool = False  # backward accepts y= (PyTorch's form)

    @property
    def forward(self) -> Callable:
        if self.name == "gelu_tanh":
            return functools.partial(nc.gelu, approximate="tanh")
        return getattr(nc, self.name)

    @property
    def backward(self) -> Callable:
        if self.name == "gelu_tanh":
            return functools.partial(nc.gelu_backward, approximate="tanh")
        return getattr(nc, self.name + "_backward")

    def ref_forward(self, x):
        return getattr(ref, self.name)(x, **self.params)

    def ref_grad(self, x):
        return getattr(ref, self.name + "_grad")(x, **self.params)

    @property
    def exact(self) -> bool:
        return self.tol == "exact"

    def __str__(self):
        return self.name + "".join(f"[{k}={v}]" for k, v in self.params.items())


OPS = [
    Op("identity", tol="exact"),
    Op("binary_step", tol="exact"),
    Op("binary_step", {"threshold": 0.5}, tol="exact"),
    Op("relu", tol="exact", from_output=True),
    Op("relu6", tol="exact", from_output=True),
    Op("hardtanh", tol="exact", from_output=True),
    Op("hardtanh", {"min_val": -2.0, "max_val": 3.0}, tol="exact", from_output=True),
    Op("leaky_relu", from_output=True),
    Op("leaky_relu", {"negative_slope": 0.2}, from_output=True),
    Op("thresholded_relu", tol="exact"),
    Op("thresholded_relu", {"alpha": 0.0}, tol="exact"),
    Op("elu", from_output=True),
    Op("elu", {"alpha": 0.5}, from_output=True),
    Op("selu", from_output=True),
    Op("celu", from_output=True),
    Op("celu", {"alpha": 2.0}, from_output=True),
    Op("gelu"),
    Op("gelu_tanh"),
    Op("silu"),
    Op("swish", {"beta": 1.5}),
    Op("mish"),
    Op("sigmoid", from_output=True),
    Op("log_sigmoid"),
    Op("hardsigmoid", tol="abs"),
    Op("hardsigmoid", {"alpha": 0.2, "beta": 0.5}, tol="abs"),
    Op("tanh", from_output=True),
    Op("hardswish", tol="abs"),
    Op("softplus"),
    Op("softplus", {"beta": 2.0, "threshold": 10.0}),
    Op("softsign"),
    Op("arctan"),
    Op("sinc"),
    Op("isru"),
    Op("isru", {"alpha": 0.5}),
    Op("isrlu"),
    Op("sqnl", tol="abs"),
]
DTYPES = [np.float32, np.float64]


def inputs(n, dtype, rng):
    """N(0, 5) values with the special values sprinkled in."""
    x = (rng.standard_normal(n) * 5).astype(dtype)
    sp = special_values(dtype)
    k = min(n, sp.size)
    if k:
        x[rng.choice(n, k, replace=False)] = sp[:k]
    return x


@np.errstate(invalid="ignore", over="ignore")
def assert_forward_close(op: Op, got, x, dtype):
    want = op.ref_forward(x)
    assert got.dtype == dtype and got.shape == x.shape
    if op.exact:
        assert np.array_equal(got, want.astype(dtype), equal_nan=True), op
    elif op.tol == "abs" or dtype == np.float64:
        rtol = 2.0**-21 if dtype == np.float32 else 1e-12
        both_nan = np.isnan(got) & np.isnan(want)
        same_inf = np.isinf(want) & (got == want)
        bad = ~both_nan & ~same_inf & ~(np.abs(got - want) <= rtol * np.maximum(1.0, np.abs(want)))
        if op.tol != "abs":  # float64 of a smooth function: relative error
            bad = ~both_nan & ~same_inf & ~(np.abs(got - want) <= 1e-12 * np.abs(want) + 1e-300)
        assert not bad.any(), (op, x[bad][:5], got[bad][:5], want[bad][:5])
    else:
        normal = ~np.isfinite(want) | (np.abs(want) >= np.finfo(np.float32).tiny) | (want == 0)
        err = ref.ulp_error(got, want, dtype)[normal]
        assert np.max(err, initial=0) <= 4, (op, x[normal][np.argmax(err)], np.max(err))


@np.errstate(invalid="ignore", over="ignore")
def assert_grad_close(got, want, dtype, loose=False, scale=0.0):
    """float32: within 2^-21·max(1, |ref|); float64: 1e-12 relative (loose: the output form, 1e-12·max(1, |ref|))."""
    both_nan = np.isnan(got) & np.isnan(want)
    if dtype == np.float32:
        tol = 2.0**-21 * np.maximum(1.0, np.abs(want))
    elif loose:
        tol = 1e-12 * np.maximum(1.0, np.abs(want))
    else:  # f' may cross zero: allow 1e-15 of the upstream gradient's scale there
        tol = 1e-12 * np.abs(want) + 1e-15 * scale + 1e-300
    bad = ~both_nan & ~(np.abs(got - want) <= tol)
    assert not bad.any(), (got[bad][:5], want[bad][:5])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS, ids=str)
def test_forward_backward_every_isa_and_size(op, dtype, isa, rng):
    for n in awkward_sizes(dtype):
        x = inputs(n, dtype, rng)
        y = op.forward(x, **op.params)
        assert_forward_close(op, y, x, dtype)

        dy = rng.standard_normal(n).astype(dtype)
        dx = op.backward(dy, x, **op.params)
        assert dx.dtype == dtype
        assert_grad_close(dx, dy * op.ref_grad(x), dtype, scale=np.abs(dy))
        if op.from_output:  # PyTorch's form, from the y we returned: close to the exact gradient
            dx_y = op.backward(dy, y=y, **op.params)
            finite = np.isfinite(x)
            assert_grad_close(dx_y[finite], (dy * op.ref_grad(x))[finite], dtype, loose=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS, ids=str)
def test_in_place_and_out(op, dtype, isa, rng):
    x = inputs(1000, dtype, rng).reshape(10, 100)
    want = op.forward(x, **op.params)
    out = np.empty_like(x)
    assert op.forward(x, **op.params, out=out) is out
    assert np.array_equal(out, want, equal_nan=True)
    xi = x.copy()
    assert op.forward(xi, **op.params, out=xi) is xi
    assert np.array_equal(xi, want, equal_nan=True)
    # backward in place over dy
    dy = rng.standard_normal(x.shape).astype(dtype)
    dx = op.backward(dy, x, **op.params)
    assert op.backward(dy, x, **op.params, out=dy) is dy
    assert np.array_equal(dy, dx, equal_nan=True)


@pytest.mark.parametrize("op", OPS, ids=str)
def test_partially_overlapping_out(op, rng):
    """out overlapping the input at an offset must not read already-written values."""
    buf = inputs(10_001, np.float32, rng)
    x = buf[1:]
    want = op.forward(x.copy(), **op.params)
    got = op.forward(x, **op.params, out=buf[:-1])
    assert np.array_equal(got, want, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_special_values(dtype, isa):
    inf, nan = np.inf, np.nan
    x = np.array([nan, inf, -inf, 0.0, -0.0], dtype=dtype)
    np.testing.assert_array_equal(nc.sigmoid(x), np.array([nan, 1, 0, 0.5, 0.5], dtype=dtype))
    np.testing.assert_array_equal(nc.relu(x), np.array([nan, inf, 0, 0, 0], dtype=dtype))
    np.testing.assert_array_equal(nc.leaky_relu(x), np.array([nan, inf, -inf, 0, 0], dtype=dtype))
    ones = np.ones_like(x)
    # PyTorch's subgradients: relu' = 0 at 0 and NaN passes; leaky' = slope at 0
    np.testing.assert_array_equal(nc.relu_backward(ones, x), np.array([1, 1, 0, 0, 0], dtype=dtype))
    np.testing.assert_array_equal(nc.leaky_relu_backward(ones, x, 0.1),
                                  np.array([0.1, 1, 0.1, 0.1, 0.1], dtype=dtype))
    np.testing.assert_array_equal(nc.sigmoid_backward(ones, x), np.array([nan, 0, 0, 0.25, 0.25], dtype=dtype))
    # NaN in dy propagates
    assert np.isnan(nc.sigmoid_backward(np.array([nan], dtype), np.array([1.0], dtype)))[0]
    # sigmoid's tails are exact where 1 − σ would cancel
    far = np.array([30.0, -30.0], dtype=dtype)
    np.testing.assert_allclose(nc.sigmoid_backward(np.ones_like(far), far), ref.sigmoid_grad(far), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sinc_argument_reduction(dtype, isa, rng):
    """sin and cos are reduced by k·π/2 in vectors up to |x| = 1e6, through libm beyond: the values next to multiples
    of π (where sin x/x is tiny and an error in the reduction shows), both sides of the switch, and vectors mixing
    them with huge and infinite values."""
    k = rng.integers(-300000, 300000, 500)
    near = np.concatenate([k * np.pi, np.nextafter(k * np.pi, np.inf), np.nextafter(k * np.pi, -np.inf)])
    far = [1e6, -1e6, np.nextafter(1e6, np.inf), -3e7, 1e30, np.inf, -np.inf, 2.5, -7.0, 0.0, 0.3, 1e-8]
    x = rng.permutation(np.concatenate([near, far])).astype(dtype)
    op = next(o for o in OPS if o.name == "sinc")
    assert_forward_close(op, nc.sinc(x), x, dtype)
    assert_grad_close(nc.sinc_backward(np.ones_like(x), x), ref.sinc_grad(x), dtype, scale=1.0)


@pytest.mark.parametrize("op", OPS, ids=str)
def test_backward_by_finite_differences(op, rng):
    x = rng.uniform(-6, 6, 2000)
    x = x[np.abs(x) > 1e-3]  # away from the kink at 0
    dy = rng.standard_normal(x.size)
    if op.name == "hardsigmoid":
        a, b = op.params.get("alpha", 1 / 6), op.params.get("beta", 0.5)
        keep = (np.abs(a * x + b) > 1e-3) & (np.abs(a * x + b - 1) > 1e-3)
        x, dy = x[keep], dy[keep]
    h = 1e-6
    if op.name in ("binary_step",):
        x = x[np.abs(x - op.params.get("threshold", 0.0)) > 1e-3]
        dy = dy[: x.size]
    for kink in (-3.0, 3.0, -2.0, 2.0, 6.0, -1.0, 1.0, *op.params.values()):  # hard* ends
        keep = np.abs(x - kink) > 1e-3
        x, dy = x[keep], dy[keep]
    fd = (op.forward(x + h, **op.params) - op.forward(x - h, **op.params)) / (2 * h)
    np.testing.assert_allclose(op.backward(dy, x, **op.params), dy * fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("op", [op for op in OPS if op.tol == "ulp"], ids=str)
def test_ulp_dense_sweep(op, isa):
    """Max error over 2^20 float32 values spread over the bit patterns of [−90, 90] (+ specials)."""
    x = ref.float32_sweep()
    want = op.ref_forward(x)
    normal = ~np.isfinite(want) | (np.abs(want) >= np.finfo(np.float32).tiny) | (want == 0)
    err = ref.ulp_error(op.forward(x, **op.params), want)[normal]
    assert err.max() <= 4, (x[normal][np.argmax(err)], err.max())


@pytest.mark.parametrize("op", OPS, ids=str)
def test_bitwise_identical_for_any_thread_count(op, threads, rng):
    x = inputs(3 * (1 << 20) + 13, np.float32, rng)  # large enough to split and to stream
    dy = rng.standard_normal(x.size).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        nc.set_num_threads(n)
        results.append((op.forward(x, **op.params), op.backward(dy, x, **op.params)))
    for y, dx in results[1:]:
        assert np.array_equal(y, results[0][0], equal_nan=True)
        assert np.array_equal(dx, results[0][1], equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS, ids=str)
def test_element_independent_of_its_vector(op, dtype, isa, rng):
    """An element's result does not depend on the other lanes of its vector: a far-tail lane (x = -800, where the
    x·σ(z) family scales its small side by 2^64) or one past a 32-interval table (x = ±18: softplus and
    log_sigmoid take the table below |x| = 15.75 on AVX-512) next to ordinary ones leaves their bits as they are
    alone."""
    x = (rng.standard_normal(64) * 3).astype(dtype)
    dy = rng.standard_normal(64).astype(dtype)
    far = x.copy()
    far[::8] = -800.0  # one far-tail lane in every vector of every ISA
    far[4::16], far[12::16] = 18.0, -18.0
    keep = np.ones(64, bool)
    keep[::4] = False
    y, y_far = op.forward(x, **op.params), op.forward(far, **op.params)
    dx, dx_far = op.backward(dy, x, **op.params), op.backward(dy, far, **op.params)
    np.testing.assert_array_equal(y_far[keep], y[keep])
    np.testing.assert_array_equal(dx_far[keep], dx[keep])


# ---- PyTorch parity ------------------------------------------------------------------------------------

def torch_fn(op: Op):
    """The torch.nn.functional counterpart of op (None where PyTorch has none)."""
    import torch
    import torch.nn.functional as F

    p = op.params
    table = {
        "identity": lambda t: t * 1,
        "relu": F.relu,
        "relu6": F.relu6,
        "hardtanh": lambda t: F.hardtanh(t, **p),
        "leaky_relu": lambda t: F.leaky_relu(t, **p),
        "elu": lambda t: F.elu(t, **p),
        "selu": F.selu,
        "celu": lambda t: F.celu(t, **p),
        "gelu": F.gelu,
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
        "silu": F.silu,
        "mish": F.mish,
        "sigmoid": torch.sigmoid,
        "log_sigmoid": F.logsigmoid,
        "hardsigmoid": F.hardsigmoid if not p else None,
        "tanh": torch.tanh,
        "hardswish": F.hardswish,
        "softplus": lambda t: F.softplus(t, **p),
        "softsign": F.softsign,
        "arctan": torch.atan,
        "sinc": lambda t: torch.sinc(t / math.pi),
    }
    return table.get(op.name)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS, ids=str)
def test_matches_pytorch(op, dtype, rng):
    import torch

    fn = torch_fn(op)
    if fn is None:
        pytest.skip(f"PyTorch has no {op.name}")
    if op.name == "sinc" and dtype == np.float32:
        pytest.skip("torch.sinc is normalized: in float32 the rounding of x/π dominates (float64 is compared)")
    x = inputs(5000, dtype, rng)
    if not op.exact:  # PyTorch's formulas turn some infinities into NaN or overflow near the float max
        x = x[np.abs(x) < 1e30]
    t = torch.tensor(x, requires_grad=True)
    yt = fn(t)
    dy = rng.standard_normal(x.size).astype(dtype)
    (gt,) = torch.autograd.grad(yt, t, torch.from_numpy(dy))
    y = op.forward(x, **op.params)
    # PyTorch computes relu/leaky_relu/hardtanh/elu/sigmoid/tanh gradients from the output: compare like with
    # like (our x-forms are more exact in the tails and are checked against the reference above)
    dx = op.backward(dy, y=y, **op.params) if op.from_output else op.backward(dy, x, **op.params)
    if op.exact:
        np.testing.assert_array_equal(y, yt.detach().numpy())
        np.testing.assert_array_equal(dx, gt.numpy())
    elif dtype == np.float64:
        # PyTorch's hardsigmoid uses the float constant 1.0f/6.0f even in double (3e-8 off); its tanh-form
        # gelu cancels in 1 + tanh(u) in the negative tail (absolute error ~1e-16): compare absolutely there
        rtol = 1e-7 if op.name == "hardsigmoid" else 1e-10
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=rtol, atol=1e-15)
        np.testing.assert_allclose(dx, gt.numpy(), rtol=rtol, atol=1e-12)
    else:  # float32: PyTorch's own rounding (e.g. 1 + tanh(u) → 0 in gelu's tail) dominates
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(dx, gt.numpy(), rtol=2e-6, atol=1e-5)
