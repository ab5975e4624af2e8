"""relu, leaky_relu, sigmoid: forward and backward on every ISA against float64 references, awkward sizes,
in place, special values, finite differences, thread-count determinism and PyTorch parity."""

from __future__ import annotations

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
    forward: Callable  # nc forward(x, **params, out=None)
    backward: Callable  # nc backward(dy, x, **params, out=None)
    ref_forward: Callable
    ref_grad: Callable
    params: dict = field(default_factory=dict)
    exact: bool = False  # piecewise linear: the result is exactly the float64 result rounded
    from_output: bool = True  # backward accepts y= (PyTorch's form)

    def __str__(self):
        return self.name + "".join(f"[{k}={v}]" for k, v in self.params.items())


OPS = [
    Op("relu", nc.relu, nc.relu_backward, ref.relu, ref.relu_grad, exact=True),
    Op("leaky_relu", nc.leaky_relu, nc.leaky_relu_backward, ref.leaky_relu, ref.leaky_relu_grad, exact=True),
    Op("leaky_relu", nc.leaky_relu, nc.leaky_relu_backward, ref.leaky_relu, ref.leaky_relu_grad,
       {"negative_slope": 0.2}, exact=True),
    Op("sigmoid", nc.sigmoid, nc.sigmoid_backward, ref.sigmoid, ref.sigmoid_grad),
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


def assert_forward_close(op: Op, got, x, dtype):
    want = op.ref_forward(x, **op.params)
    assert got.dtype == dtype and got.shape == x.shape
    if op.exact:
        # the float64 formula rounded once; a product slope·x is off by at most one rounding of the slope
        err = ref.ulp_error(got, want.astype(dtype), dtype)
        assert np.max(err, initial=0) <= (0 if op.name == "relu" else 1), op
        return
    if dtype == np.float32:
        normal = ~np.isfinite(want) | (np.abs(want) >= np.finfo(np.float32).tiny) | (want == 0)
        err = ref.ulp_error(got, want, dtype)[normal]
        assert np.max(err, initial=0) <= 4, (op, x[normal][np.argmax(err)])
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def assert_grad_close(got, want, dtype):
    both_nan = np.isnan(got) & np.isnan(want)
    if dtype == np.float32:
        tol = 2.0**-21 * np.maximum(1.0, np.abs(want))
    else:
        tol = 1e-12 * np.abs(want) + 1e-300
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
        assert_grad_close(dx, dy * op.ref_grad(x, **op.params), dtype)
        if op.from_output:
            dx_y = op.backward(dy, y=y, **op.params)
            if op.name == "sigmoid":  # PyTorch's form dy·y·(1 − y), from the y we returned
                y64 = y.astype(np.float64)
                assert_grad_close(dx_y, dy * (y64 * (1 - y64)), dtype)
            else:
                assert np.array_equal(dx_y, dx, equal_nan=True)


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


@pytest.mark.parametrize("op", OPS, ids=str)
def test_backward_by_finite_differences(op, rng):
    x = rng.uniform(-6, 6, 2000)
    x = x[np.abs(x) > 1e-3]  # away from the kink at 0
    dy = rng.standard_normal(x.size)
    h = 1e-6
    fd = (op.forward(x + h, **op.params) - op.forward(x - h, **op.params)) / (2 * h)
    np.testing.assert_allclose(op.backward(dy, x, **op.params), dy * fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("op", [op for op in OPS if not op.exact], ids=str)
def test_ulp_dense_sweep(op, isa):
    """Max error over 2^20 float32 values spread over the bit patterns of [−90, 90] (+ specials)."""
    x = ref.float32_sweep()
    want = op.ref_forward(x)
    normal = ~np.isfinite(want) | (np.abs(want) >= np.finfo(np.float32).tiny) | (want == 0)
    err = ref.ulp_error(op.forward(x), want)[normal]
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


# ---- PyTorch parity ------------------------------------------------------------------------------------

def torch_fns(op: Op):
    import torch
    import torch.nn.functional as F

    if op.name == "relu":
        return F.relu
    if op.name == "leaky_relu":
        return lambda t: F.leaky_relu(t, **op.params)
    return torch.sigmoid


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS, ids=str)
def test_matches_pytorch(op, dtype, rng):
    import torch

    x = np.concatenate([inputs(5000, dtype, rng), special_values(dtype)])
    t = torch.tensor(x, requires_grad=True)
    yt = torch_fns(op)(t)
    dy = rng.standard_normal(x.size).astype(dtype)
    (gt,) = torch.autograd.grad(yt, t, torch.from_numpy(dy))
    y = op.forward(x, **op.params)
    # PyTorch computes relu/leaky_relu/sigmoid gradients from the output; compare like with like (our
    # x-form of sigmoid is more exact than y·(1 − y) in the tails and is checked against the reference)
    dx = op.backward(dy, y=y, **op.params) if op.from_output else op.backward(dy, x, **op.params)
    if op.exact or dtype == np.float64:
        rtol = 0 if op.exact else 1e-10
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=rtol, atol=0)
        np.testing.assert_allclose(dx, gt.numpy(), rtol=rtol, atol=1e-300)
    else:  # float32 sigmoid: both within a few ulp of exact
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=5e-7, atol=1e-37)
        np.testing.assert_allclose(op.backward(dy, y=yt.detach().numpy(), **op.params), gt.numpy(),
                                   rtol=1e-6, atol=1e-30)
