"""Batch, layer, group, instance and RMS norm: forward and backward against float64 references (every layout, awkward
sizes, float32/float64), finite differences, PyTorch parity (forward, autograd, running statistics), stability with
a large mean, constant channels, thread-count determinism, every ISA, and argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc
import reference_normalization as ref
from conftest import needs_torch

# ---- helpers ---------------------------------------------------------------------------------------------------


def to_layout(a, axis):
    """A channels-first array in the layout of channel_axis (1: as is; -1: channels moved last, contiguous)."""
    return a if axis == 1 else np.ascontiguousarray(np.moveaxis(a, 1, -1))


def from_layout(a, axis):
    return a if axis == 1 else np.moveaxis(a, -1, 1)


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)


def close(got, want, dtype, scale=None):
    """got ≈ want, the absolute tolerance scaled by the size of want (sums over many elements)."""
    want = np.asarray(want, dtype=np.float64)
    s = max(1.0, float(np.max(np.abs(want)))) if scale is None else scale
    t = tol(dtype)
    assert np.asarray(got).shape == want.shape
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=t["rtol"], atol=t["atol"] * s)


def dx_scale(rstd, dy, w):
    """Size of the terms of dx = rstd·(g − mean(g) − x̂·mean(g·x̂)): its rounding error is relative to them, not to
    dx (which cancels to 0 for one value per statistic)."""
    return max(1.0, float(np.max(rstd)) * float(np.max(np.abs(dy))) * (1.0 if w is None else float(np.max(np.abs(w)))))


def params(rng, C, dtype, affine=True):
    if not affine:
        return None, None
    return (rng.uniform(0.5, 1.5, C).astype(dtype), rng.standard_normal(C).astype(dtype))


# shapes in channels-first order; awkward sizes around the vector widths (16 floats / 8 doubles)
BN_SHAPES = [(4, 3), (4, 3, 7), (2, 3, 5, 6), (2, 3, 2, 3, 4), (3, 1, 5, 5), (4, 5, 1, 1), (1, 3, 4, 4),
             (5, 17, 33), (2, 40, 301), (2, 2, 9000),
             # rows of more columns than a tile of the column map (512 floats, 256 doubles), last tile partial
             (3, 70, 5, 5), (2, 1100, 3)]
GN_CASES = [((2, 6, 5), 3), ((2, 1100, 3), 10), ((1, 4, 3, 3), 2), ((3, 8), 4), ((2, 6, 1, 1), 6), ((2, 4, 3, 5, 2), 1),
            ((3, 32, 37), 8), ((1, 1, 7), 1),
            # a group's small planes in one pass: planes of exactly one vector, vectors across plane ends
            ((2, 32, 16), 2), ((2, 16, 7, 7), 1), ((1, 6, 1023), 2)]
IN_SHAPES = [(2, 3, 5), (1, 4, 3, 3), (2, 1, 7, 7), (3, 5, 2, 2, 2), (2, 17, 70)]
LN_CASES = [((5, 33), 1), ((2, 3, 4, 5), 2), ((1, 7), 1), ((3, 1), 1), ((2, 3, 4), 3), ((3, 9000), 1), ((4, 16), 1)]

DTYPES = [np.float32, np.float64]
AXES = [1, -1]


# ---- forward and backward against the float64 references -------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batch_norm_reference(shape, axis, dtype, rng):
    if shape[0] * int(np.prod(shape[2:])) == 1:
        pytest.skip("one value per channel")
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    for affine in (True, False):
        w, b = params(rng, C, dtype, affine)
        y, mean, rstd = nc.batch_norm_forward(to_layout(x, axis), w, b, 1e-5, channel_axis=axis)
        ry, rmean, rrstd, _, _ = ref.batch_norm(x, w, b, 1e-5)
        close(from_layout(y, axis), ry, dtype)
        close(mean, rmean, dtype)
        close(rstd, rrstd, dtype)
        assert y.dtype == mean.dtype == rstd.dtype == dtype and mean.shape == rstd.shape == (C,)
        dx, dw, db = nc.batch_norm_backward(to_layout(dy, axis), to_layout(x, axis), mean, rstd, w, channel_axis=axis)
        rdx, rdw, rdb = ref.batch_norm_backward(dy, x, w, 1e-5)
        close(from_layout(dx, axis), rdx, dtype, scale=dx_scale(rrstd, dy, w))
        close(db, rdb, dtype, scale=np.sqrt(x.size))
        if affine:
            close(dw, rdw, dtype, scale=np.sqrt(x.size))
        else:
            assert dw is None


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape", [(4, 3, 7), (2, 17, 5, 6), (4, 5, 1, 1)], ids=str)
def test_batch_norm_eval_reference(shape, axis, dtype, rng):
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    rm = rng.standard_normal(C).astype(dtype)
    rv = rng.uniform(0.1, 3, C).astype(dtype)
    w, b = params(rng, C, dtype)
    y = nc.batch_norm(to_layout(x, axis), rm, rv, w, b, training=False, eps=1e-3, channel_axis=axis)
    close(from_layout(y, axis), ref.batch_norm_eval(x, rm, rv, w, b, 1e-3), dtype)
    y = nc.batch_norm(to_layout(x, axis), rm, rv, channel_axis=axis)
    close(from_layout(y, axis), ref.batch_norm_eval(x, rm, rv, eps=1e-5), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape,groups", GN_CASES, ids=str)
def test_group_norm_reference(shape, groups, axis, dtype, rng):
    C = shape[1]
    x = (rng.standard_normal(shape) * 3 - 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    for affine in (True, False):
        w, b = params(rng, C, dtype, affine)
        y, mean, rstd = nc.group_norm_forward(to_layout(x, axis), groups, w, b, 1e-5, channel_axis=axis)
        ry, rmean, rrstd = ref.group_norm(x, groups, w, b, 1e-5)
        close(from_layout(y, axis), ry, dtype)
        close(mean, rmean, dtype)
        close(rstd, rrstd, dtype)
        assert mean.shape == (shape[0], groups)
        np.testing.assert_array_equal(nc.group_norm(to_layout(x, axis), groups, w, b, channel_axis=axis), y)
        dx, dw, db = nc.group_norm_backward(to_layout(dy, axis), to_layout(x, axis), groups, mean, rstd, w,
                                            channel_axis=axis)
        rdx, rdw, rdb = ref.group_norm_backward(dy, x, groups, w, 1e-5)
        close(from_layout(dx, axis), rdx, dtype, scale=dx_scale(rrstd, dy, w))
        close(db, rdb, dtype, scale=np.sqrt(x.size))
        if affine:
            close(dw, rdw, dtype, scale=np.sqrt(x.size))
        else:
            assert dw is None


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape", IN_SHAPES, ids=str)
def test_instance_norm_reference(shape, axis, dtype, rng):
    C = shape[1]
    x = (rng.standard_normal(shape) * 0.5 + 2).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    for affine in (True, False):
        w, b = params(rng, C, dtype, affine)
        y, mean, rstd = nc.instance_norm_forward(to_layout(x, axis), w, b, 1e-5, channel_axis=axis)
        ry, rmean, rrstd, _ = ref.instance_norm(x, w, b, 1e-5)
        close(from_layout(y, axis), ry, dtype)
        close(mean, rmean, dtype)
        close(rstd, rrstd, dtype)
        np.testing.assert_array_equal(nc.instance_norm(to_layout(x, axis), weight=w, bias=b, channel_axis=axis), y)
        dx, dw, db = nc.instance_norm_backward(to_layout(dy, axis), to_layout(x, axis), mean, rstd, w,
                                               channel_axis=axis)
        rdx, rdw, rdb = ref.instance_norm_backward(dy, x, w, 1e-5)
        close(from_layout(dx, axis), rdx, dtype, scale=dx_scale(rrstd, dy, w))
        close(db, rdb, dtype, scale=np.sqrt(x.size))
        if affine:
            close(dw, rdw, dtype, scale=np.sqrt(x.size))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,k", LN_CASES, ids=str)
def test_layer_norm_reference(shape, k, dtype, rng):
    ns = shape[len(shape) - k:]
    x = (rng.standard_normal(shape) + 3).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    for w, b in [(rng.uniform(0.5, 1.5, ns).astype(dtype), rng.standard_normal(ns).astype(dtype)),
                 (rng.uniform(0.5, 1.5, ns).astype(dtype), None), (None, None)]:
        y, mean, rstd = nc.layer_norm_forward(x, ns, w, b, 1e-5)
        ry, rmean, rrstd = ref.layer_norm(x, k, w, b, 1e-5)
        close(y, ry, dtype)
        close(mean, rmean, dtype)
        close(rstd, rrstd, dtype)
        assert mean.shape == shape[: len(shape) - k]
        np.testing.assert_array_equal(nc.layer_norm(x, ns if k > 1 else ns[0], w, b), y)
        dx, dw, db = nc.layer_norm_backward(dy, x, ns, mean, rstd, w)
        rdx, rdw, rdb = ref.layer_norm_backward(dy, x, k, w, 1e-5)
        close(dx, rdx, dtype, scale=dx_scale(rrstd, dy, w))
        close(db, rdb, dtype, scale=np.sqrt(x.size))  # always returned: the backward does not see the bias
        if w is None:
            assert dw is None
        else:
            close(dw, rdw, dtype, scale=np.sqrt(x.size))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,k", LN_CASES, ids=str)
def test_rms_norm_reference(shape, k, dtype, rng):
    ns = shape[len(shape) - k:]
    x = (rng.standard_normal(shape) + 0.5).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    for w in (rng.uniform(0.5, 1.5, ns).astype(dtype), None):
        for eps in (None, 1e-3):
            y, rstd = nc.rms_norm_forward(x, ns, w, eps)
            ry, rrstd = ref.rms_norm(x, k, w, eps)
            close(y, ry, dtype)
            close(rstd, rrstd, dtype)
            np.testing.assert_array_equal(nc.rms_norm(x, ns, w, eps), y)
            dx, dw = nc.rms_norm_backward(dy, x, ns, rstd, w)
            rdx, rdw = ref.rms_norm_backward(dy, x, k, w, eps)
            close(dx, rdx, dtype, scale=dx_scale(rrstd, dy, w))
            if w is None:
                assert dw is None
            else:
                close(dw, rdw, dtype, scale=np.sqrt(x.size))


# ---- finite differences of every backward (float64) -------------------------------------------------------------


def fd_check(forward, backward, arrays, rng, h=1e-6):
    """Central differences of L = Σ forward(*arrays)·dy with respect to every element of every array, against the
    gradients backward(dy) returns (same order as arrays)."""
    y0 = forward(*arrays)
    dy = rng.standard_normal(y0.shape)
    grads = backward(dy)
    for a, g in zip(arrays, grads):
        num = np.empty(a.shape)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            lp = np.sum(forward(*arrays) * dy)
            a[i] = old - h
            lm = np.sum(forward(*arrays) * dy)
            a[i] = old
            num[i] = (lp - lm) / (2 * h)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("axis", AXES)
def test_batch_norm_finite_differences(axis, rng):
    x = to_layout(rng.standard_normal((3, 2, 5)), axis)
    w, b = rng.uniform(0.5, 1.5, 2), rng.standard_normal(2)

    def fwd(x, w, b):
        return nc.batch_norm_forward(x, w, b, 1e-3, channel_axis=axis)[0]

    def bwd(dy):
        _, m, r = nc.batch_norm_forward(x, w, b, 1e-3, channel_axis=axis)
        return nc.batch_norm_backward(dy, x, m, r, w, channel_axis=axis)

    fd_check(fwd, bwd, [x, w, b], rng)


@pytest.mark.parametrize("axis", AXES)
def test_group_norm_finite_differences(axis, rng):
    x = to_layout(rng.standard_normal((2, 4, 3)), axis)
    w, b = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)

    def fwd(x, w, b):
        return nc.group_norm_forward(x, 2, w, b, 1e-3, channel_axis=axis)[0]

    def bwd(dy):
        _, m, r = nc.group_norm_forward(x, 2, w, b, 1e-3, channel_axis=axis)
        return nc.group_norm_backward(dy, x, 2, m, r, w, channel_axis=axis)

    fd_check(fwd, bwd, [x, w, b], rng)


@pytest.mark.parametrize("axis", AXES)
def test_instance_norm_finite_differences(axis, rng):
    x = to_layout(rng.standard_normal((2, 3, 4)), axis)
    w, b = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)

    def fwd(x, w, b):
        return nc.instance_norm_forward(x, w, b, 1e-3, channel_axis=axis)[0]

    def bwd(dy):
        _, m, r = nc.instance_norm_forward(x, w, b, 1e-3, channel_axis=axis)
        return nc.instance_norm_backward(dy, x, m, r, w, channel_axis=axis)

    fd_check(fwd, bwd, [x, w, b], rng)


def test_layer_norm_finite_differences(rng):
    x = rng.standard_normal((3, 2, 5))
    w, b = rng.uniform(0.5, 1.5, (2, 5)), rng.standard_normal((2, 5))

    def fwd(x, w, b):
        return nc.layer_norm_forward(x, (2, 5), w, b, 1e-3)[0]

    def bwd(dy):
        _, m, r = nc.layer_norm_forward(x, (2, 5), w, b, 1e-3)
        return nc.layer_norm_backward(dy, x, (2, 5), m, r, w)

    fd_check(fwd, bwd, [x, w, b], rng)


def test_rms_norm_finite_differences(rng):
    x = rng.standard_normal((4, 6))
    w = rng.uniform(0.5, 1.5, 6)

    def fwd(x, w):
        return nc.rms_norm_forward(x, 6, w, 1e-3)[0]

    def bwd(dy):
        _, r = nc.rms_norm_forward(x, 6, w, 1e-3)
        return nc.rms_norm_backward(dy, x, 6, r, w)

    fd_check(fwd, bwd, [x, w], rng)


# ---- running statistics -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("axis", AXES)
def test_batch_norm_running_statistics(axis, unbiased, rng):
    C = 5
    rm, rv = np.zeros(C), np.ones(C)
    want_m, want_v = rm.copy(), rv.copy()
    for step, momentum in enumerate([0.1, 0.3, 1.0, 0.0]):
        x = rng.standard_normal((4, C, 3, 2)) * (step + 1) + step
        y = nc.batch_norm(to_layout(x, axis), rm, rv, training=True, momentum=momentum,
                          channel_axis=axis, unbiased_running_var=unbiased)
        ry, mean, _, var, uvar = ref.batch_norm(x)
        close(from_layout(y, axis), ry, np.float64)
        want_m = (1 - momentum) * want_m + momentum * mean
        want_v = (1 - momentum) * want_v + momentum * (uvar if unbiased else var)
        np.testing.assert_allclose(rm, want_m, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(rv, want_v, rtol=1e-13, atol=1e-14)
    # the forward variant updates them the same way
    rm2, rv2 = np.zeros(C), np.ones(C)
    nc.batch_norm_forward(to_layout(x, axis), None, None, channel_axis=axis, running_mean=rm2, running_var=rv2,
                          momentum=0.5, unbiased_running_var=unbiased)
    np.testing.assert_allclose(rm2, 0.5 * mean, rtol=1e-13)
    np.testing.assert_allclose(rv2, 0.5 + 0.5 * (uvar if unbiased else var), rtol=1e-13)


def test_batch_norm_momentum_none():
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match="num_batches_tracked"):
        nc.batch_norm(x, np.zeros(3), np.ones(3), training=True, momentum=None)
    with pytest.raises(ValueError, match="num_batches_tracked"):
        nc.batch_norm_forward(x, None, None, running_mean=np.zeros(3), momentum=None)
    # nothing to update, or evaluation: momentum is unused
    nc.batch_norm(x, None, None, training=True, momentum=None)
    nc.batch_norm(x, np.zeros(3), np.ones(3), training=False, momentum=None)


def test_instance_norm_running_statistics(rng):
    x = rng.standard_normal((3, 4, 5, 2))
    rm, rv = np.full(4, 0.5), np.full(4, 2.0)
    y = nc.instance_norm(x, rm, rv, momentum=0.25)
    ry, mean, _, uvar = ref.instance_norm(x)
    close(y, ry, np.float64)
    np.testing.assert_allclose(rm, 0.75 * 0.5 + 0.25 * mean.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(rv, 0.75 * 2.0 + 0.25 * uvar.mean(axis=0), rtol=1e-13)
    # use_input_stats=False normalizes with the running statistics
    y = nc.instance_norm(x, rm, rv, use_input_stats=False, eps=1e-4)
    close(y, ref.batch_norm_eval(x, rm, rv, eps=1e-4), np.float64)
    with pytest.raises(ValueError, match="use_input_stats"):
        nc.instance_norm(x, use_input_stats=False)


# ---- numerics: large mean, constant channels ---------------------------------------------------------------------


def _stability_cases(x, axis):
    """(name, our y, float64 reference y) for every norm on x (channels-first, float32)."""
    xl = to_layout(x, axis)
    f = from_layout
    C = x.shape[1]
    yield "batch", f(nc.batch_norm_forward(xl, None, None, channel_axis=axis)[0], axis), ref.batch_norm(x)[0]
    # eval mode (the fused scale-shift pass centred on the running mean): no cancellation for |mean| ≫ std
    x64 = x.astype(np.float64)
    rm = x64.mean(axis=(0, 2, 3)).astype(x.dtype)
    rv = x64.var(axis=(0, 2, 3)).astype(x.dtype)
    yield "batch eval", f(nc.batch_norm(xl, rm, rv, channel_axis=axis), axis), ref.batch_norm_eval(x, rm, rv)
    yield "group", f(nc.group_norm(xl, C // 2, channel_axis=axis), axis), ref.group_norm(x, C // 2)[0]
    yield "instance", f(nc.instance_norm(xl, channel_axis=axis), axis), ref.instance_norm(x)[0]
    if axis == 1:
        ns = x.shape[1:]
        yield "layer", nc.layer_norm(x, ns), ref.layer_norm(x, x.ndim - 1)[0]


@pytest.mark.parametrize("axis", AXES)
def test_large_mean_float32(axis, rng):
    """1e4 + N(0, 1) in float32: y within 2e-3 of the float64 result of the same input (the issue's bound; PyTorch's
    LayerNorm misses it); the two-pass double statistics and the (hi, lo) mean give float32 accuracy."""
    x = (1e4 + rng.standard_normal((4, 6, 40, 41))).astype(np.float32)
    for name, got, want in _stability_cases(x, axis):
        err = np.max(np.abs(got - want))
        assert err < 2e-3, name
        assert err < 2e-6, (name, err)
    rms_y = nc.rms_norm(x, x.shape[1:])
    assert np.max(np.abs(rms_y - ref.rms_norm(x, 3)[0])) < 2e-6


@pytest.mark.parametrize("axis", AXES)
def test_outlier_first_value_float32(axis, rng):
    """Float32 statistics take one pass shifted by a chunk's first value: an extreme first value (the worst case of
    the shift, |x − mean| up to √(n − 1)·std) must still give float32-accurate statistics."""
    x = (1e3 + rng.standard_normal((2, 3, 64, 128))).astype(np.float32)
    x[:, :, 0, 0] = 1e3 + 3e4  # first value of every (n, c) plane / channel
    x[0, 0, 0, :] = 5e4        # and a whole first row far away
    y, m, r = nc.batch_norm_forward(to_layout(x, axis), None, None, channel_axis=axis)
    ry, rm, rr, _, _ = ref.batch_norm(x)
    np.testing.assert_allclose(m, rm, rtol=1e-7)
    np.testing.assert_allclose(r, rr, rtol=2e-7)
    np.testing.assert_allclose(from_layout(y, axis), ry, rtol=1e-6, atol=1e-6)
    y, m, r = nc.instance_norm_forward(to_layout(x, axis), None, None, channel_axis=axis)
    ry, rm, rr, _ = ref.instance_norm(x)
    np.testing.assert_allclose(r, rr, rtol=2e-7)
    np.testing.assert_allclose(from_layout(y, axis), ry, rtol=1e-6, atol=1e-6)
    rows = x.reshape(-1, 8192)
    y, m, r = nc.layer_norm_forward(rows, 8192, None, None)
    ry, rm, rr = ref.layer_norm(rows, 1)
    np.testing.assert_allclose(r, rr, rtol=2e-7)
    np.testing.assert_allclose(y, ry, rtol=1e-6, atol=1e-6)


def test_each_span_shifted_by_its_own_first_value(rng):
    """Adjacent spans (layer norm rows, instance norm planes, group norm groups) are reduced a batch at a time, each
    span's shift (its first value) read a span ahead: a shift taken from a neighbour (means 2e5 apart, std 1) would
    cancel ~1e-3 of the variance, far above float32 accuracy."""
    N, C, H, W = 6, 8, 16, 16
    x = rng.standard_normal((N, C, H, W))
    sign = np.where(np.arange(N * C // 2) % 2 == 0, 1.0, -1.0).reshape(N, C // 2, 1, 1, 1)
    x = (x.reshape(N, C // 2, 2, H, W) + 1e5 * sign).reshape(N, C, H, W).astype(np.float32)
    _, m, r = nc.group_norm_forward(x, C // 2, None, None)
    _, rm, rr = ref.group_norm(x, C // 2)
    np.testing.assert_allclose(m, rm, rtol=1e-7)
    np.testing.assert_allclose(r, rr, rtol=2e-7)
    planes = x.reshape(N, C, H * W)[:, ::2]  # every plane 2e5 away from the next
    planes = np.ascontiguousarray(planes)
    y, m, r = nc.instance_norm_forward(planes, None, None)
    ry, rm, rr, _ = ref.instance_norm(planes)
    np.testing.assert_allclose(r, rr, rtol=2e-7)
    np.testing.assert_allclose(y, ry, rtol=1e-5, atol=1e-5)
    rows = planes.reshape(-1, H * W)
    y, m, r = nc.layer_norm_forward(rows, H * W, None, None)
    ry, rm, rr = ref.layer_norm(rows, 1)
    np.testing.assert_allclose(r, rr, rtol=2e-7)
    np.testing.assert_allclose(y, ry, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_pipelined_rows_match_batches(dtype, rng):
    """Float32 rows of >= 512 elements written to an aligned output are normalized while the next row's moments (or
    RMSNorm's Σx²) are read (one loop; float64 takes the batches either way); an output one element off its
    alignment takes the batches. The bits must agree, and match the float64 reference (rows 2e5 apart, so a row
    shifted by another row's value would fail)."""
    rows, D = 2053, 1024  # 8 MiB and more: a streamed output (smaller ones take the batches)
    x = (rng.standard_normal((rows, D)) + 1e5 * (-1.0) ** np.arange(rows)[:, None]).astype(dtype)
    w, b = rng.standard_normal(D).astype(dtype), rng.standard_normal(D).astype(dtype)
    def out_at(misalign):  # an output `misalign` elements past a 64-byte boundary
        buf = np.empty(rows * D + 64, dtype)
        start = (-buf.ctypes.data % 64) // buf.itemsize + misalign
        return buf[start:start + rows * D].reshape(rows, D)

    y, off = out_at(0), out_at(1)
    nc.layer_norm(x, D, w, b, out=y)
    nc.layer_norm(x, D, w, b, out=off)
    np.testing.assert_array_equal(off, y)
    np.testing.assert_array_equal(nc.layer_norm(x, D, w, b), y)
    ry = ref.layer_norm(x, 1, w, b)[0]
    tol = 1e-5 if dtype == np.float32 else 1e-9  # float64: 1e5·2^-53 of the inputs' offset
    np.testing.assert_allclose(y, ry, rtol=tol, atol=tol)
    planes = x[:37].reshape(1, 37, 32, 32)
    np.testing.assert_allclose(nc.instance_norm(planes), ref.instance_norm(planes)[0], rtol=tol, atol=tol)
    # RMSNorm's rows the same way (each row's Σx² while the previous row is normalized); 1000 rows (4 MiB) take the
    # row-by-row loop
    yr = nc.rms_norm(x, D, w)
    np.testing.assert_array_equal(nc.rms_norm(x[:1000], D, w), yr[:1000])
    np.testing.assert_allclose(yr, ref.rms_norm(x, 1, w)[0], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", AXES)
def test_constant_channels_give_bias(axis, dtype, rng):
    C = 4
    x = np.empty((3, C, 5, 7), dtype)
    for c, v in enumerate([3.7, -1e4, 0.1, 0.0]):
        x[:, c] = v
    w, b = params(rng, C, dtype)
    xl = to_layout(x, axis)
    bias = b.reshape(1, C, 1, 1) * np.ones_like(x)
    for y in (nc.batch_norm_forward(xl, w, b, channel_axis=axis)[0], nc.group_norm(xl, C, w, b, channel_axis=axis),
              nc.instance_norm(xl, weight=w, bias=b, channel_axis=axis)):
        y = from_layout(y, axis)
        assert np.all(np.isfinite(y))
        np.testing.assert_array_equal(y, bias)
    _, m, r = nc.batch_norm_forward(xl, w, b, channel_axis=axis)
    dx, dw, db = nc.batch_norm_backward(to_layout(rng.standard_normal(x.shape).astype(dtype), axis), xl, m, r, w,
                                        channel_axis=axis)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dw)) and np.all(np.isfinite(db))
    rows = x.reshape(-1, 35)
    yl, ml, rl = nc.layer_norm_forward(rows, 35, None, None)
    np.testing.assert_array_equal(yl, np.zeros_like(rows))
    dxl = nc.layer_norm_backward(np.ones_like(rows), rows, 35, ml, rl, None)[0]
    assert np.all(np.isfinite(dxl))
    yr = nc.rms_norm(np.zeros((2, 9), dtype), 9)
    np.testing.assert_array_equal(yr, np.zeros((2, 9), dtype))


def _backward_cases(x, dy, eps=1e-5):
    """(name, normcore's dx, the reference's, rstd) of every norm over channels-first x without weight; rows of the
    trailing axis for layer and RMS norm."""
    G = x.shape[1] // 2
    y, m, r = nc.group_norm_forward(x, G, None, None, eps)
    yield "group", nc.group_norm_backward(dy, x, G, m, r, None)[0], ref.group_norm_backward(dy, x, G, None, eps)[0], r
    y, m, r = nc.instance_norm_forward(x, None, None, eps)
    yield "instance", nc.instance_norm_backward(dy, x, m, r, None)[0], ref.instance_norm_backward(dy, x, None, eps)[0], r
    y, m, r = nc.batch_norm_forward(x, None, None, eps)
    yield "batch", nc.batch_norm_backward(dy, x, m, r, None)[0], ref.batch_norm_backward(dy, x, None, eps)[0], r
    rows, drows, D = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1]), x.shape[-1]
    y, m, r = nc.layer_norm_forward(rows, D, None, None, eps)
    yield "layer", nc.layer_norm_backward(drows, rows, D, m, r, None)[0], ref.layer_norm_backward(drows, rows, 1, None,
                                                                                                    eps)[0], r
    y, r = nc.rms_norm_forward(rows, D, None, eps)
    yield "rms", nc.rms_norm_backward(drows, rows, D, r, None)[0], ref.rms_norm_backward(drows, rows, 1, None, eps)[0], r


@pytest.mark.parametrize("scale", [1e-15, 1e-30], ids=["x 1e-15", "x 1e-30"])
def test_backward_sums_at_tiny_scales(scale, rng):
    """Float32 backward sums add float terms dy·x̂ (x̂ = (x − mean)·rstd): scaled by rstd, they keep their precision
    for data of any scale (eps = 0: rstd 1e15 and 1e30; terms dy·(x − mean) of 1e-15 data and 1e-30 gradients
    would lie below float's normal range)."""
    x = (rng.standard_normal((2, 4, 16, 80)) * scale).astype(np.float32)
    dy = (rng.standard_normal(x.shape) * 1e-30).astype(np.float32)
    for name, got, want, r in _backward_cases(x, dy, eps=0.0):
        size = float(np.max(r)) * float(np.max(np.abs(dy)))  # of dx's terms (dx_scale without its floor of 1)
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=2e-5, atol=2e-5 * size, err_msg=name)


def test_backward_sums_overflowing_float_terms(rng):
    """Float32 backward sums whose float terms overflow (2e38 + 2e38 in one lane of a partial, cancelled by two terms
    of −2e38 further on: the exact sums are finite) are added again in double: dx is finite and accurate."""
    x = rng.standard_normal((2, 4, 16, 80)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    for q in range(4):  # at the start of a plane and of a row
        x[0, q, 0, [0, 8, 64, 72]] = 1.0
        dy[0, q, 0, [0, 8]], dy[0, q, 0, [64, 72]] = 2e38, -2e38
    for name, got, want, r in _backward_cases(x, dy):
        assert np.all(np.isfinite(got)), name
        close(got.reshape(want.shape), want, np.float32, scale=dx_scale(r, dy, None))


def test_nan_propagates():
    x = np.ones((2, 3, 4))
    x[0, 1, 2] = np.nan
    y = nc.batch_norm_forward(x, None, None)[0]
    assert np.all(np.isnan(y[:, 1])) and not np.any(np.isnan(y[:, [0, 2]]))
    y = nc.layer_norm(x, 4)
    assert np.all(np.isnan(y[0, 1])) and np.isnan(y).sum() == 4


# ---- thread-count determinism ------------------------------------------------------------------------------------


def _all_outputs(case, rng, dtype=np.float32):
    """Every output (forward y and statistics, backward gradients) of one large case, as a flat list."""
    kind, shape, axis, extra = case
    x = (rng.standard_normal(shape) + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    if kind in ("layer", "rms"):
        D = shape[-1]
        w, b = rng.uniform(0.5, 1.5, D).astype(dtype), rng.standard_normal(D).astype(dtype)
        if kind == "layer":
            y, m, r = nc.layer_norm_forward(x, D, w, b)
            return [y, m, r, *nc.layer_norm_backward(dy, x, D, m, r, w)]
        y, r = nc.rms_norm_forward(x, D, w)
        return [y, r, *nc.rms_norm_backward(dy, x, D, r, w)]
    C = shape[axis]
    w, b = rng.uniform(0.5, 1.5, C).astype(dtype), rng.standard_normal(C).astype(dtype)
    if kind == "batch":
        rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
        y, m, r = nc.batch_norm_forward(x, w, b, channel_axis=axis, running_mean=rm, running_var=rv)
        return [y, m, r, rm, rv, *nc.batch_norm_backward(dy, x, m, r, w, channel_axis=axis)]
    if kind == "group":
        y, m, r = nc.group_norm_forward(x, extra, w, b, channel_axis=axis)
        return [y, m, r, *nc.group_norm_backward(dy, x, extra, m, r, w, channel_axis=axis)]
    y, m, r = nc.instance_norm_forward(x, w, b, channel_axis=axis)
    return [y, m, r, *nc.instance_norm_backward(dy, x, m, r, w, channel_axis=axis)]


DETERMINISM_CASES = [
    ("batch", (16, 16, 1024), 1, None),   # fused per channel with 1 and 2 threads
    ("batch", (8, 2, 16384), 1, None),    # 2 channels: split into chunks with 2 threads, fused with 1
    ("batch", (8, 1024, 32), -1, None),   # channels-last column blocks
    ("batch", (4096, 16, 7), 1, None),    # short spans: read as 4096 rows of 16·7 columns
    ("batch", (32, 256, 16), 1, None),    # ... one sample of 4096 columns: cut in two column ranges with 2 threads
    ("batch", (64, 512, 9), 1, None),     # ... cut where a tile boundary is a channel's (2304 = 9 tiles)
    ("group", (1, 48, 1536), -1, 4),      # one channels-last sample cut at 768 (3 tiles, 2 groups of 384 columns)
    ("batch", (16, 4, 100), 1, None),     # short planes: channels sample by sample with 1 thread, split with 2
    ("batch", (80, 4, 50), 1, None),      # the same with more planes per channel than fit on the stack
    ("batch", (700, 4, 50), 1, None),     # channels too large to batch: one channel per call with 1 thread
    ("batch", (16384, 24), 1, None),      # (N, C)
    ("batch", (16, 64, 4096), 1, None),   # 16 MiB of planes >= 512: split with 1 thread, fused per channel with 2
    ("group", (32, 64, 1024), 1, 32),     # 8 MiB, 2-plane groups: each group's moments with the previous one's map
    ("group", (16, 64, 3136), 1, 32),     # the same with 24.5 KiB groups (pipelined up to 32 KiB)
    ("instance", (32, 64, 1024), 1, None),  # the same with one plane a group
    ("group", (44, 256, 196), 1, 32),     # 8.4 MiB of small planes: whole vectors across planes streamed
    ("rms", (2048, 1024), None, None),    # 8 MiB: each row's Σx² with the previous row's map
    ("group", (600, 64, 2), 1, 32),       # groups of 4 elements: samples as rows of segments, 8 at a time (forward)
    ("layer", (2048, 1024), None, None),  # the same with rows
    ("group", (8, 32, 1024), 1, 8),
    ("group", (1, 32, 4096), 1, 4),       # 4 groups: their spans split into chunks with 2 threads, fused with 1
    ("group", (8, 1024, 32), -1, 4),      # fused per sample with 1 and 2 threads
    ("group", (4096, 64), 1, 8),          # S = 1: blocks of whole samples
    ("group", (16400, 64, 2), 1, 8),      # the same for the backward: 2^20 planes, their sums past the scratch cache
    ("instance", (4, 16, 4096), 1, None),
    ("instance", (1, 4, 200), 1, None),   # small planes: one call per batch with 1 thread, split with 2
    ("group", (1, 8, 100), 1, 4),         # small planes of 2-plane groups: the same
    ("group", (1, 8, 16), 1, 4),          # tiny planes: the batch through the span kernels with 1 thread
    ("group", (1, 16, 33), 1, 2),         # small planes with scalar tails: the batch's sums in one call with 1 thread
    ("group", (1, 24, 7), 1, 3),          # planes shorter than a double vector: tails only
    ("instance", (4, 4096, 16), -1, None),  # 4 samples: split with 2 threads, fused per sample with 1
    ("layer", (512, 520), None, None),
    ("layer", (2, 70000), None, None),    # 2 rows: chunks in parallel with 2 threads
    ("layer", (4096, 64), None, None),    # 4 blocks of dweight/dbias partial sums
    ("layer", (4097, 48), None, None),    # blocks of an odd number of rows: the backward's last pair is one row
    ("rms", (512, 520), None, None),
    ("rms", (333, 1030), None, None),     # odd blocks, rows not a multiple of the vector width
    # the parameter-gradient terms in the first pass (short rows) or in a pass of their own (long rows)
    ("layer", (300, 700), None, None),
    ("layer", (300, 1000), None, None),
    ("layer", (300, 1100), None, None),   # past the fused limit: partials of 16 rows in float, then double
    ("rms", (300, 2000), None, None),
    ("rms", (300, 2100), None, None),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", DETERMINISM_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_bitwise_identical_for_any_thread_count(case, dtype, threads):
    """float64 too: a float32 output can hide a difference in the last bits of the double statistics."""
    results = []
    for n in (1, 2):
        nc.set_num_threads(n)
        results.append(_all_outputs(case, np.random.default_rng(5), dtype))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("groups", [None, 32, 16, 8, 4], ids=lambda g: "instance" if g is None else f"G={g}")
def test_norm_backward_large_equals_per_sample(groups):
    """A large channels-first input (streamed, planes of >= 2048: each plane's sums computed while plane j of the
    previous group has its dx written; instance norm and group norm of up to 8 planes a group) gives every sample's
    dx with the same bits as that sample alone (small: sums, then dx, in batches), and matches float64."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((20, 64, 2048)) * 2 + 1).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 64).astype(np.float32)
    if groups is None:
        _, m, r = nc.instance_norm_forward(x, w, None)
        run = lambda s: nc.instance_norm_backward(dy[s], x[s], m[s], r[s], w)
        rdx, rdw, rdb = ref.group_norm_backward(dy, x, 64, w, 1e-5)
    else:
        _, m, r = nc.group_norm_forward(x, groups, w, None)
        run = lambda s: nc.group_norm_backward(dy[s], x[s], groups, m[s], r[s], w)
        rdx, rdw, rdb = ref.group_norm_backward(dy, x, groups, w, 1e-5)
    dx, dw, db = run(slice(None))
    close(dx, rdx, np.float32, scale=dx_scale(r.astype(np.float64), dy, w))
    close(dw, rdw, np.float32, scale=np.sqrt(x.size))
    close(db, rdb, np.float32, scale=np.sqrt(x.size))
    for n in (0, 1, 11, 19):
        np.testing.assert_array_equal(dx[n:n + 1], run(slice(n, n + 1))[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("D", [1, 7, 64, 1030, 2000])
def test_layer_norm_backward_row_independent_of_its_neighbours(D, dtype, rng):
    """The backward sweeps rows in pairs (the last of an odd count alone): a row's dx has the same bits as when
    that row is the whole input; dweight matches its float64 sum."""
    rows = 5
    x = (rng.standard_normal((rows, D)) * 2 + 3).astype(dtype)
    dy = rng.standard_normal((rows, D)).astype(dtype)
    w = rng.uniform(0.5, 1.5, D).astype(dtype)
    for kind in ("layer", "rms"):
        if kind == "layer":
            _, m, r = nc.layer_norm_forward(x, D, w, None)
            dx, dw, db = nc.layer_norm_backward(dy, x, D, m, r, w)
            singles = [nc.layer_norm_backward(dy[i:i + 1], x[i:i + 1], D, m[i:i + 1], r[i:i + 1], w)
                       for i in range(rows)]
        else:
            _, r = nc.rms_norm_forward(x, D, w)
            dx, dw = nc.rms_norm_backward(dy, x, D, r, w)
            singles = [nc.rms_norm_backward(dy[i:i + 1], x[i:i + 1], D, r[i:i + 1], w) for i in range(rows)]
        for i in range(rows):
            np.testing.assert_array_equal(dx[i], singles[i][0][0])
        ref_w = ref_layer_dw(dy, x, m if kind == "layer" else None, r)
        np.testing.assert_allclose(dw, ref_w, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def ref_layer_dw(dy, x, mean, rstd):
    d = x.astype(np.float64) - (0.0 if mean is None else mean.astype(np.float64)[:, None])
    return (dy.astype(np.float64) * d * rstd.astype(np.float64)[:, None]).sum(axis=0)


# ---- every instruction set -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_every_isa(isa, dtype, rng):
    """One case per norm and layout on each instruction-set variant, sizes not a multiple of any vector width."""
    x = (rng.standard_normal((3, 19, 5, 7)) * 2 + 5).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    w, b = params(rng, 19, dtype)
    for axis in AXES:
        xl, dyl = to_layout(x, axis), to_layout(dy, axis)
        y, m, r = nc.batch_norm_forward(xl, w, b, channel_axis=axis)
        close(from_layout(y, axis), ref.batch_norm(x, w, b)[0], dtype)
        dx, dw, db = nc.batch_norm_backward(dyl, xl, m, r, w, channel_axis=axis)
        for got, want in zip((from_layout(dx, axis), dw, db), ref.batch_norm_backward(dy, x, w)):
            close(got, want, dtype, scale=np.sqrt(x.size))
        y, m, r = nc.instance_norm_forward(xl, w, b, channel_axis=axis)
        close(from_layout(y, axis), ref.instance_norm(x, w, b)[0], dtype)
        dx, dw, db = nc.instance_norm_backward(dyl, xl, m, r, w, channel_axis=axis)
        for got, want in zip((from_layout(dx, axis), dw, db), ref.instance_norm_backward(dy, x, w)):
            close(got, want, dtype, scale=np.sqrt(x.size))
    xg = np.concatenate([x, x[:, :1]], axis=1)  # 20 channels, 4 groups
    dyg = np.concatenate([dy, dy[:, :1]], axis=1)
    wg, bg = params(rng, 20, dtype)
    y, m, r = nc.group_norm_forward(xg, 4, wg, bg)
    close(y, ref.group_norm(xg, 4, wg, bg)[0], dtype)
    for got, want in zip(nc.group_norm_backward(dyg, xg, 4, m, r, wg), ref.group_norm_backward(dyg, xg, 4, wg)):
        close(got, want, dtype, scale=np.sqrt(x.size))
    rows, drows = x.reshape(-1, 35), dy.reshape(-1, 35)
    wl, bl = params(rng, 35, dtype)
    y, m, r = nc.layer_norm_forward(rows, 35, wl, bl)
    close(y, ref.layer_norm(rows, 1, wl, bl)[0], dtype)
    for got, want in zip(nc.layer_norm_backward(drows, rows, 35, m, r, wl), ref.layer_norm_backward(drows, rows, 1, wl)):
        close(got, want, dtype, scale=np.sqrt(x.size))
    y, r = nc.rms_norm_forward(rows, 35, wl)
    close(y, ref.rms_norm(rows, 1, wl)[0], dtype)
    for got, want in zip(nc.rms_norm_backward(drows, rows, 35, r, wl), ref.rms_norm_backward(drows, rows, 1, wl)):
        close(got, want, dtype, scale=np.sqrt(x.size))


def test_narrow_sums_every_isa(isa, rng):
    """Float32 backward sums of spans of >= 128 elements in float terms (NarrowGradSums) on each instruction-set
    variant (2, 4 or 8 double lanes): instance norm planes of 300 (flushes, partial blocks and a scalar tail), group
    norm segments of 4 planes of 35, layer and RMS norm rows of 300 with weights (the rows' parameter partials) and
    without, each against the float64 reference."""
    x = (rng.standard_normal((3, 4, 300)) * 2 + 5).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    y, m, r = nc.instance_norm_forward(x, w, None)
    for got, want in zip(nc.instance_norm_backward(dy, x, m, r, w), ref.instance_norm_backward(dy, x, w)):
        close(got, want, np.float32, scale=np.sqrt(x.size))
    xg, dyg = x[:, :, :105].reshape(3, 12, 5, 7).copy(), dy[:, :, :105].reshape(3, 12, 5, 7).copy()
    wg = rng.uniform(0.5, 1.5, 12).astype(np.float32)
    y, m, r = nc.group_norm_forward(xg, 3, wg, None)
    for got, want in zip(nc.group_norm_backward(dyg, xg, 3, m, r, wg), ref.group_norm_backward(dyg, xg, 3, wg)):
        close(got, want, np.float32, scale=np.sqrt(xg.size))
    rows, drows = x.reshape(-1, 300), dy.reshape(-1, 300)
    for wl in (rng.uniform(0.5, 1.5, 300).astype(np.float32), None):
        y, m, r = nc.layer_norm_forward(rows, 300, wl, None)
        got, want = nc.layer_norm_backward(drows, rows, 300, m, r, wl), ref.layer_norm_backward(drows, rows, 1, wl)
        for g, wv in zip(got, want):
            if g is not None:
                close(g, wv, np.float32, scale=np.sqrt(rows.size))
        y, r = nc.rms_norm_forward(rows, 300, wl)
        got, want = nc.rms_norm_backward(drows, rows, 300, r, wl), ref.rms_norm_backward(drows, rows, 1, wl)
        for g, wv in zip(got, want):
            if g is not None:
                close(g, wv, np.float32, scale=np.sqrt(rows.size))


# group norm's tiny planes (S below a vector): S = 1 as one span with per-element coefficients (any group size),
# S < lanes with at most 16 planes a group through per-lane lookups (vectors across plane ends), more planes one at
# a time; channels-first
TINY_GN_CASES = [((5, 64), 8), ((3, 64), 2), ((4, 12), 3), ((3, 16, 3), 1), ((2, 14, 5), 2), ((6, 64, 2, 2), 8),
                 ((2, 16, 3, 3), 4), ((2, 64, 3), 2), ((2, 8, 1, 1), 1),
                 # (group norm's channels-first groups of 4 or more elements in planes of 2..36 take the segment
                 # rows below; groups of fewer elements stay here)
                 ((3, 32, 3), 16), ((4, 16, 2, 2), 8), ((2, 64, 4, 4), 32), ((3, 24, 5), 8), ((3, 16, 3), 16),
                 ((2, 12, 2), 12)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_group_norm_tiny_planes_every_isa(isa, dtype, rng):
    for shape, groups in TINY_GN_CASES:
        C = shape[1]
        x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        w, b = params(rng, C, dtype)
        y, m, r = nc.group_norm_forward(x, groups, w, b)
        close(y, ref.group_norm(x, groups, w, b)[0], dtype)
        for got, want in zip(nc.group_norm_backward(dy, x, groups, m, r, w), ref.group_norm_backward(dy, x, groups, w)):
            close(got, want, dtype, scale=np.sqrt(x.size))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,groups", [((512, 64, 2, 2), 8), ((4096, 64), 8), ((256, 64, 3, 3), 16)], ids=str)
def test_group_norm_tiny_planes_threads(shape, groups, dtype, threads, rng):
    """The same bits (y, mean, rstd, every gradient) on 1 and 2 threads, batches of many tiny-plane groups."""
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = params(rng, shape[1], dtype)
    got = []
    for n in (1, 2):
        nc.set_num_threads(n)
        y, m, r = nc.group_norm_forward(x, groups, w, b)
        got.append((y, m, r, *nc.group_norm_backward(dy, x, groups, m, r, w)))
    for a, c in zip(*got):
        np.testing.assert_array_equal(a, c)
    close(got[0][0], ref.group_norm(x.astype(np.float64), groups, w, b)[0], dtype)


# group norm's channels-first planes of 2..36 elements (up to 64 in samples of up to 8192) in groups of 4 or more
# elements: each sample a row of segments, one a group (rows_backward, the parameter terms in the first pass): rows
# in blocks, segments split across tasks (few samples), tails of segments that are not whole vectors, no weight.
# Instance norm's planes (groups None) take them too.
SEGMENT_GN_CASES = [((6, 64, 2, 2), 8), ((5, 48, 5), 3), ((3, 256, 3, 3), 32), ((4, 32, 7), 2), ((40, 64, 4, 4), 16),
                    ((2, 512, 9), 32), ((300, 16, 2), 1), ((3, 20, 31), 5), ((7, 64, 2), 32), ((3, 36, 6, 6), 18),
                    ((5, 24, 2, 4), 24), ((5, 24, 4, 4), None), ((3, 16, 8), None), ((40, 10, 2, 2), None),
                    ((2, 300, 16), None), ((4, 12, 3, 3), None), ((3, 32, 7, 7), 8), ((2, 64, 64), 16),
                    ((2, 1024, 9), 1)]  # the last: segments longer than a chunk


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,groups", SEGMENT_GN_CASES, ids=str)
def test_group_norm_segment_rows(shape, groups, dtype, threads, rng):
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    for affine in (True, False):
        w, b = params(rng, shape[1], dtype, affine)
        if groups is None:
            _, m, r = nc.instance_norm_forward(x, w, b)
            backward = lambda: nc.instance_norm_backward(dy, x, m, r, w)
        else:
            _, m, r = nc.group_norm_forward(x, groups, w, b)
            backward = lambda: nc.group_norm_backward(dy, x, groups, m, r, w)
        got = []
        for n in (1, 2):
            nc.set_num_threads(n)
            got.append(backward())
        for a, c in zip(*got):
            if a is None:
                assert c is None and not affine
            else:
                np.testing.assert_array_equal(a, c)
        dx, dw, db = got[0]
        want_dx, want_dw, want_db = ref.group_norm_backward(dy, x, shape[1] if groups is None else groups, w)
        close(dx, want_dx, dtype, scale=dx_scale(r, dy, w))
        close(db, want_db, dtype, scale=np.sqrt(x.size))
        if affine:
            close(dw, want_dw, dtype, scale=np.sqrt(x.size))


# The forward of channels-first groups of L = (C/G)·S elements, L = 2 or 4 in samples of a multiple of 8 elements
# or L a multiple of 8 up to 48 (up to 16 for one plane a group): each sample a row of segments, 8 segments' sums at
# a time (segments_forward). L from 2 to 48, segment counts that are not a multiple of 8 (and fewer than 8), many
# tasks, instance norm (groups None, with running statistics), weight and bias each optional; against the float64
# reference, and the same bits on 1 and 2 threads; on every instruction set (2, 4 or 8 double lanes).
SEGMENT_FWD_CASES = [((5, 16), 8), ((3, 32, 1), 8), ((7, 64), 8), ((3, 8, 2, 2), 4), ((5, 24, 4), 6), ((3, 8, 4), 1),
                     ((2, 40, 5), 5), ((5, 12, 4), 2), ((900, 64, 2, 2), 32), ((600, 64), 8), ((3, 4, 4, 4), None),
                     ((7, 6, 2, 4), None), ((300, 10, 2, 4), None), ((2, 96, 16), 32)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,groups", SEGMENT_FWD_CASES, ids=str)
def test_group_norm_segments_forward(shape, groups, dtype, isa, threads, rng):
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    C = shape[1]
    w, b = params(rng, C, dtype)
    for weight, bias in ((w, b), (None, None), (w, None), (None, b)):
        got = []
        for n in (1, 2):
            nc.set_num_threads(n)
            if groups is None:
                rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
                y = nc.instance_norm(x, rm, rv, weight, bias, momentum=0.5)
                got.append((y, rm, rv, *nc.instance_norm_forward(x, weight, bias)[1:]))
            else:
                got.append(nc.group_norm_forward(x, groups, weight, bias))
        for a, c in zip(*got):
            np.testing.assert_array_equal(a, c)
        if groups is None:
            want_y, want_m, want_r, unbiased = ref.instance_norm(x, weight, bias)
            y, rm, rv, m, r = got[0]
            close(rm, 0.5 * want_m.mean(axis=0), dtype)
            close(rv, 0.5 + 0.5 * unbiased.mean(axis=0), dtype)
        else:
            want_y, want_m, want_r = ref.group_norm(x, groups, weight, bias)
            y, m, r = got[0]
        close(y, want_y, dtype)
        close(m, want_m.reshape(m.shape), dtype)
        close(r, want_r.reshape(r.shape), dtype)


def test_group_norm_segments_forward_special_values(rng):
    """A NaN or an infinity spoils its own group only; constant groups give finite zeros; groups offset by 1e4 keep
    float precision (float32, L = 8 and 32)."""
    for shape, groups in (((64, 64), 8), ((16, 64, 2, 2), 8)):
        x = (rng.standard_normal(shape) + 1e4).astype(np.float32)
        x[3, :8] = 7.0  # sample 3's first group: constant
        x[5, 9] = np.nan  # sample 5's second group
        x[6, 17] = np.inf  # sample 6's third group
        y, m, r = nc.group_norm_forward(x, groups, None, None)
        yg = y.reshape(shape[0], groups, -1)
        assert np.isnan(yg[5, 1]).all() and np.isnan(m[5, 1]) and np.isnan(yg[6, 2]).all()
        assert np.array_equal(yg[3, 0], np.zeros_like(yg[3, 0])) and m[3, 0] == 7.0
        ok = np.ones(yg.shape[:2], bool)
        ok[5, 1] = ok[6, 2] = False
        assert np.isfinite(yg[ok]).all()
        with np.errstate(invalid="ignore"):
            want = ref.group_norm(x, groups)[0].reshape(yg.shape)
        np.testing.assert_allclose(yg[ok], want[ok], atol=2e-3)


# group norm of (N, C) input: blocks of whole samples (kRowGroupElems = 4096 elements), dweight/dbias as partial
# sums over blocks of samples merged in order: many blocks and a last partial one, C above the block size (one
# sample a block), groups of 2 and 3 elements, no weight or bias; and the backward of planes of 2 elements whose
# per-plane sums (16 bytes a plane) would outgrow the scratch cache (16 MiB). (dx of 2-element groups cancels: its
# tolerance is relative to its terms, dx_scale.)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,groups,affine", [((1000, 64), 8, True), ((777, 48), 16, True), ((70, 4100), 4, True),
                                                 ((2051, 6), 3, True), ((600, 64), 32, False),
                                                 ((16400, 64, 2), 8, True)], ids=str)
def test_group_norm_rows_reference(shape, groups, affine, dtype, threads, rng):
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = params(rng, shape[1], dtype) if affine else (None, None)
    for axis in (1, -1) if x.ndim == 2 else (1,):  # the same axis for 2-D input
        y, m, r = nc.group_norm_forward(x, groups, w, b, channel_axis=axis)
        want_y, want_m, want_r = ref.group_norm(x, groups, w, b)
        close(y, want_y, dtype)
        close(m, want_m.reshape(m.shape), dtype)
        close(r, want_r.reshape(r.shape), dtype)
        dx, dw, db = nc.group_norm_backward(dy, x, groups, m, r, w, channel_axis=axis)
        want_dx, want_dw, want_db = ref.group_norm_backward(dy, x, groups, w)
        close(dx, want_dx, dtype, scale=dx_scale(want_r, dy, w))
        close(db, want_db, dtype, scale=np.sqrt(x.size))
        if affine:
            close(dw, want_dw, dtype, scale=np.sqrt(x.size))
        else:
            assert dw is None


# ---- out=, in place, array-likes ----------------------------------------------------------------------------------


def test_out_and_in_place(rng):
    x = rng.standard_normal((4, 3, 6)).astype(np.float32)
    want = nc.batch_norm(x, None, None, training=True)
    out = np.empty_like(x)
    assert nc.batch_norm(x, None, None, training=True, out=out) is out
    np.testing.assert_array_equal(out, want)
    xi = x.copy()
    nc.batch_norm(xi, None, None, training=True, out=xi)
    np.testing.assert_array_equal(xi, want)
    want = nc.layer_norm(x, 6)
    xi = x.copy()
    assert nc.layer_norm(xi, 6, out=xi) is xi
    np.testing.assert_array_equal(xi, want)
    with pytest.raises(ValueError, match="shape"):
        nc.layer_norm(x, 6, out=np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        nc.batch_norm(x, None, None, training=True, out=np.empty(x.shape))
    # non-contiguous input and nested lists
    xt = rng.standard_normal((6, 3, 4)).transpose(2, 1, 0)
    np.testing.assert_array_equal(nc.batch_norm_forward(xt, None, None)[0],
                                  nc.batch_norm_forward(np.ascontiguousarray(xt), None, None)[0])
    assert nc.layer_norm([[1.0, 2.0, 4.0]], 3).dtype == np.float64


# ---- argument checks ----------------------------------------------------------------------------------------------


def _calls(x):
    """One call of each function on x (float32-shaped (N, C, L) arguments otherwise valid)."""
    C = 4
    w = np.ones(C, np.float32)
    s = np.ones(C, np.float32)
    g = np.ones((2, 2), np.float32)
    i = np.ones((2, C), np.float32)
    ln = np.ones((2, C), np.float32)
    return [
        lambda: nc.batch_norm(x, None, None, training=True),
        lambda: nc.batch_norm_forward(x, w, w),
        lambda: nc.batch_norm_backward(x, x, s, s, w),
        lambda: nc.group_norm(x, 2),
        lambda: nc.group_norm_backward(x, x, 2, g, g, w),
        lambda: nc.instance_norm(x),
        lambda: nc.instance_norm_backward(x, x, i, i, w),
        lambda: nc.layer_norm(x, 3),
        lambda: nc.layer_norm_backward(x, x, 3, ln, ln, None),
        lambda: nc.rms_norm(x, 3),
        lambda: nc.rms_norm_backward(x, x, 3, ln, None),
    ]


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.bool_, np.complex64])
def test_non_float_input_is_type_error(dtype):
    x = np.ones((2, 4, 3), dtype)
    for call in _calls(x):
        with pytest.raises(TypeError, match=np.dtype(dtype).name):
            call()


def test_valid_calls_pass():
    for call in _calls(np.ones((2, 4, 3), np.float32)):
        call()


def test_bad_shapes_and_values():
    x = np.ones((2, 4, 3), np.float32)
    f64 = np.ones(4)
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected \(4,\)"):
        nc.batch_norm_forward(x, np.ones(3, np.float32), None)
    with pytest.raises(ValueError, match=r"bias has shape \(5,\)"):
        nc.group_norm(x, 2, None, np.ones(5, np.float32))
    with pytest.raises(TypeError, match="weight has dtype float64 but x has dtype float32"):
        nc.instance_norm(x, weight=f64)
    with pytest.raises(ValueError, match=r"num_groups \(3\).*channels \(4\)"):
        nc.group_norm(x, 3)
    with pytest.raises(ValueError, match="num_groups"):
        nc.group_norm(x, 0)
    with pytest.raises(TypeError, match="num_groups"):
        nc.group_norm(x, 2.0)
    with pytest.raises(ValueError, match=r"normalized_shape \(4, 4\) does not match.*\(2, 4, 3\)"):
        nc.layer_norm(x, (4, 4))
    with pytest.raises(ValueError, match="does not match"):
        nc.rms_norm(x, (1, 2, 4, 3))
    with pytest.raises(ValueError, match="at least one"):
        nc.layer_norm(x, ())
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected \(4, 3\)"):
        nc.layer_norm(x, (4, 3), np.ones(3, np.float32))
    for fn in (lambda e: nc.batch_norm(x, None, None, training=True, eps=e), lambda e: nc.layer_norm(x, 3, eps=e),
               lambda e: nc.group_norm(x, 2, eps=e), lambda e: nc.instance_norm(x, eps=e),
               lambda e: nc.rms_norm(x, 3, eps=e)):
        with pytest.raises(ValueError, match="eps"):
            fn(-1e-5)
        with pytest.raises(ValueError, match="eps"):
            fn(float("nan"))
        with pytest.raises(TypeError, match="eps"):
            fn("1e-5")
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 4\)"):
        nc.batch_norm(np.ones((1, 4)), None, None, training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nc.batch_norm_forward(np.ones((1, 4, 1, 1)), None, None)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        nc.instance_norm(np.ones((3, 4, 1)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nc.batch_norm_forward(np.ones(4), None, None)
    with pytest.raises(ValueError, match="channel_axis"):
        nc.batch_norm_forward(np.ones((2, 3, 4, 5)), None, None, channel_axis=2)
    with pytest.raises(ValueError, match="channel_axis"):
        nc.group_norm(np.ones((2, 3, 4)), 1, channel_axis=0)
    with pytest.raises(TypeError, match="channel_axis"):
        nc.instance_norm(x, channel_axis="1")
    with pytest.raises(ValueError, match="grad_output has shape"):
        nc.batch_norm_backward(np.ones((2, 4, 2), np.float32), x, np.ones(4, np.float32), np.ones(4, np.float32), None)
    with pytest.raises(ValueError, match=r"mean has shape \(4,\), expected \(2, 2\)"):
        nc.group_norm_backward(x, x, 2, np.ones(4, np.float32), np.ones((2, 2), np.float32), None)
    with pytest.raises(TypeError, match="rstd"):
        nc.layer_norm_backward(x, x, 3, np.ones((2, 4), np.float32), None, None)


def test_running_statistics_checks():
    x = np.ones((2, 4, 3), np.float32)
    rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
    with pytest.raises(TypeError, match="running_mean has dtype float64"):
        nc.batch_norm(x, np.zeros(4), rv, training=True)
    with pytest.raises(ValueError, match=r"running_var has shape \(3,\)"):
        nc.batch_norm(x, rm, np.ones(3, np.float32), training=True)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        nc.batch_norm(x, [0.0] * 4, rv, training=True)
    ro = rm.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        nc.batch_norm(x, ro, rv, training=True)
    with pytest.raises(ValueError, match="C-contiguous"):
        nc.instance_norm(x, np.zeros(8, np.float32)[::2], rv)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        nc.batch_norm(x, None, None, training=False)
    with pytest.raises(TypeError, match="dtype"):
        nc.batch_norm(x, np.zeros(4), np.ones(4), training=False)
    # evaluation only reads them: read-only arrays are fine
    nc.batch_norm(x, ro, rv, training=False)
    with pytest.raises(TypeError, match="momentum"):
        nc.batch_norm(x, rm, rv, training=True, momentum="0.1")


# ---- PyTorch parity ------------------------------------------------------------------------------------------------

TORCH_BN = [(4, 3), (4, 3, 7), (2, 3, 5, 6), (2, 3, 2, 3, 4), (3, 1, 5, 5), (4, 5, 1, 1)]


def _torch_grads(fn, x, params_, dy):
    import torch

    xt = torch.tensor(x, requires_grad=True)
    pt = [None if p is None else torch.tensor(p, requires_grad=True) for p in params_]
    yt = fn(xt, *pt)
    yt.backward(torch.tensor(dy))
    return yt.detach().numpy(), xt.grad.numpy(), [None if p is None else p.grad.numpy() for p in pt]


def _torch_close(got, want, dtype, scale=1.0):
    t = dict(rtol=2e-5, atol=2e-5 * scale) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), **t)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape", TORCH_BN, ids=str)
def test_torch_batch_norm(shape, axis, dtype, rng):
    import torch
    import torch.nn.functional as F

    C = shape[1]
    w, b = params(rng, C, dtype)
    rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
    trm, trv = torch.zeros(C, dtype=torch.float64 if dtype == np.float64 else torch.float32), None
    trv = torch.ones_like(trm)
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        ty, tdx, (tdw, tdb) = _torch_grads(lambda xt, wt, bt: F.batch_norm(xt, trm, trv, wt, bt, True, 0.2, 1e-5),
                                           x, [w, b], dy)
        y, m, r = nc.batch_norm_forward(to_layout(x, axis), w, b, channel_axis=axis, running_mean=rm, running_var=rv,
                                        momentum=0.2)
        _torch_close(from_layout(y, axis), ty, dtype)
        _torch_close(rm, trm.numpy(), dtype)
        _torch_close(rv, trv.numpy(), dtype)
        dx, dw, db = nc.batch_norm_backward(to_layout(dy, axis), to_layout(x, axis), m, r, w, channel_axis=axis)
        _torch_close(from_layout(dx, axis), tdx, dtype, dx_scale(r, dy, w))
        _torch_close(dw, tdw, dtype, np.sqrt(x.size))
        _torch_close(db, tdb, dtype, np.sqrt(x.size))
    ye = nc.batch_norm(to_layout(x, axis), rm, rv, w, b, channel_axis=axis)
    _torch_close(from_layout(ye, axis), F.batch_norm(torch.tensor(x), trm, trv, torch.tensor(w), torch.tensor(b)),
                 dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((1, 4, 3, 3), 2), ((3, 8), 4), ((2, 6, 1, 1), 6),
                                          ((1, 4, 3, 5, 2), 1)], ids=str)
def test_torch_group_norm(shape, groups, axis, dtype, rng):
    import torch.nn.functional as F

    w, b = params(rng, shape[1], dtype)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    ty, tdx, (tdw, tdb) = _torch_grads(lambda xt, wt, bt: F.group_norm(xt, groups, wt, bt, 1e-5), x, [w, b], dy)
    y, m, r = nc.group_norm_forward(to_layout(x, axis), groups, w, b, channel_axis=axis)
    _torch_close(from_layout(y, axis), ty, dtype)
    dx, dw, db = nc.group_norm_backward(to_layout(dy, axis), to_layout(x, axis), groups, m, r, w, channel_axis=axis)
    _torch_close(from_layout(dx, axis), tdx, dtype, dx_scale(r, dy, w))
    if x[0].size // groups == 1:
        # one value per group: x̂ = 0 exactly, so grad_weight = 0 (PyTorch's float32 x̂ is rounding noise times
        # 1/√eps there)
        np.testing.assert_array_equal(dw, 0)
    else:
        _torch_close(dw, tdw, dtype, np.sqrt(x.size))
    _torch_close(db, tdb, dtype, np.sqrt(x.size))


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape", [(2, 3, 5), (1, 4, 3, 3), (2, 1, 7, 7), (3, 5, 2, 2, 2)], ids=str)
def test_torch_instance_norm(shape, axis, dtype, rng):
    import torch
    import torch.nn.functional as F

    C = shape[1]
    w, b = params(rng, C, dtype)
    rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
    tt = torch.float64 if dtype == np.float64 else torch.float32
    trm, trv = torch.zeros(C, dtype=tt), torch.ones(C, dtype=tt)
    for step in range(2):
        x = (rng.standard_normal(shape) + step).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        ty, tdx, (tdw, tdb) = _torch_grads(
            lambda xt, wt, bt: F.instance_norm(xt, trm, trv, wt, bt, True, 0.3, 1e-5), x, [w, b], dy)
        y = nc.instance_norm(to_layout(x, axis), rm, rv, w, b, momentum=0.3, channel_axis=axis)
        _torch_close(from_layout(y, axis), ty, dtype)
        _torch_close(rm, trm.numpy(), dtype)
        _torch_close(rv, trv.numpy(), dtype)
        _, m, r = nc.instance_norm_forward(to_layout(x, axis), w, b, channel_axis=axis)
        dx, dw, db = nc.instance_norm_backward(to_layout(dy, axis), to_layout(x, axis), m, r, w, channel_axis=axis)
        _torch_close(from_layout(dx, axis), tdx, dtype, dx_scale(r, dy, w))
        _torch_close(dw, tdw, dtype, np.sqrt(x.size))
        _torch_close(db, tdb, dtype, np.sqrt(x.size))


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape,k", [((5, 33), 1), ((2, 3, 4, 5), 2), ((1, 7), 1), ((3, 1), 1), ((2, 3, 4), 3)],
                         ids=str)
def test_torch_layer_and_rms_norm(shape, k, dtype, rng):
    import torch.nn.functional as F

    ns = shape[len(shape) - k:]
    x = (rng.standard_normal(shape) + 2).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = rng.uniform(0.5, 1.5, ns).astype(dtype), rng.standard_normal(ns).astype(dtype)
    ty, tdx, (tdw, tdb) = _torch_grads(lambda xt, wt, bt: F.layer_norm(xt, ns, wt, bt, 1e-5), x, [w, b], dy)
    y, m, r = nc.layer_norm_forward(x, ns, w, b)
    _torch_close(y, ty, dtype)
    dx, dw, db = nc.layer_norm_backward(dy, x, ns, m, r, w)
    _torch_close(dx, tdx, dtype, dx_scale(r, dy, w))
    _torch_close(dw, tdw, dtype, np.sqrt(x.size))
    _torch_close(db, tdb, dtype, np.sqrt(x.size))
    ty, tdx, (tdw,) = _torch_grads(lambda xt, wt: F.rms_norm(xt, ns, wt), x, [w], dy)  # eps=None on both sides
    y, r = nc.rms_norm_forward(x, ns, w)
    _torch_close(y, ty, dtype)
    dx, dw = nc.rms_norm_backward(dy, x, ns, r, w)
    _torch_close(dx, tdx, dtype, dx_scale(r, dy, w))
    _torch_close(dw, tdw, dtype, np.sqrt(x.size))


def test_stub_lists_the_normalization_functions():
    """_core.pyi declares every compiled normalization entry point with its parameter names."""
    import inspect
    import re
    from pathlib import Path

    from normcore import _core

    stub = (Path(nc.__file__).parent / "_core.pyi").read_text()
    for name in ("batch_norm_forward", "batch_norm_inference", "batch_norm_backward", "group_norm_forward",
                 "group_norm_backward", "instance_norm_forward", "instance_norm_backward", "layer_norm_forward",
                 "layer_norm_backward", "rms_norm_forward", "rms_norm_backward"):
        m = re.search(rf"^def {name}\((.*?)\) ->", stub, re.M | re.S)
        assert m, name
        stub_params = re.findall(r"(\w+):", m.group(1))
        doc = getattr(_core, name).__doc__
        compiled = re.findall(r"(\w+): ", doc.split("(", 1)[1].split(") ->", 1)[0])
        assert stub_params == compiled, name
    assert inspect.isfunction(nc.batch_norm)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape", [(0, 3, 4), (2, 3, 0), (2, 0, 4)], ids=str)
def test_empty_inputs(shape, axis):
    """Empty arrays: empty outputs, statistics of empty sets NaN, parameter gradients 0 (no crash)."""
    x = np.zeros(shape, np.float32)
    C = x.shape[axis]
    y, m, r = nc.batch_norm_forward(x, None, None, channel_axis=axis)
    assert y.shape == shape and m.shape == r.shape == (C,)
    assert np.all(np.isnan(m)) and np.all(np.isnan(r))  # every channel has no values
    dx, dw, db = nc.batch_norm_backward(x, x, m, r, np.ones(C, np.float32), channel_axis=axis)
    assert dx.shape == shape and np.all(dw == 0) and np.all(db == 0)
    y, m, r = nc.group_norm_forward(x, 1, None, None, channel_axis=axis)
    assert y.shape == shape and m.shape == (shape[0], 1)
    y, m, r = nc.layer_norm_forward(x, shape[-1], None, None)
    assert y.shape == shape and m.shape == shape[:-1]
    dx, dw, db = nc.layer_norm_backward(x, x, shape[-1], m, r, np.ones(shape[-1], np.float32))
    assert dx.shape == shape and np.all(dw == 0) and np.all(db == 0)


# ---- channels-last maps over rows of whole vectors -------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_channels_last_rows_of_whole_vectors(isa, dtype, threads, rng):
    """Rows of C = 1..5 whole vectors of any variant (C = 4·k, the coefficients held in registers for up to four
    vectors) and rows that are not: channels-last batch-norm inference has the bits of channels-first, into
    streamed, aligned and misaligned outputs, on 1 and 2 threads; training forward and backward match float64."""
    from conftest import lanes
    W = lanes(dtype)
    itemsize = np.dtype(dtype).itemsize
    for C in (4, 8, W // 2, W, 2 * W, 3 * W, 4 * W, 5 * W, W + 4):
        n_rows = (9 << 20) // (itemsize * C) + 3 if C in (W, 4 * W) else 301  # > 8 MiB: streamed stores
        x = (rng.standard_normal((n_rows, C)) * 2 + 3).astype(dtype)
        w, b = params(rng, C, dtype)
        rm, rv = rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
        want = nc.batch_norm(np.ascontiguousarray(x.T)[None], rm, rv, w, b)[0].T
        buf = np.empty(x.size + 1, dtype)
        for n in (1, 2):
            nc.set_num_threads(n)
            for out in (np.empty_like(x), buf[1:].reshape(x.shape)):
                got = nc.batch_norm(x, rm, rv, w, b, channel_axis=-1, out=out)
                np.testing.assert_array_equal(got, want)
        if n_rows > 1000:
            continue
        x3 = x.reshape(7, 43, C)
        dy = rng.standard_normal(x3.shape).astype(dtype)
        y, m, r = nc.batch_norm_forward(x3, w, b, channel_axis=-1)
        close(y, ref.batch_norm(np.moveaxis(x3, -1, 1), w, b)[0].transpose(0, 2, 1), dtype)
        dx, dw, db = nc.batch_norm_backward(dy, x3, m, r, w, channel_axis=-1)
        rdx, rdw, rdb = ref.batch_norm_backward(np.moveaxis(dy, -1, 1), np.moveaxis(x3, -1, 1), w)
        close(dx, np.moveaxis(rdx, 1, -1), dtype, scale=np.sqrt(x.size))
        close(dw, rdw, dtype, scale=np.sqrt(x.size))
        close(db, rdb, dtype, scale=np.sqrt(x.size))
