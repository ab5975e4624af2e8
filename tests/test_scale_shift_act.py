"""nc.scale_shift_act: y = act(x·scale + shift [+ residual]) per channel, against float64 references, nc.NAME and
PyTorch's batch_norm (eval) + activation."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc
import reference as ref
from conftest import lanes
from normcore.inference import _SPECS

NONDEFAULT = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.7}, "celu": {"alpha": 2.0},
              "gelu": {"approximate": "tanh"}, "softplus": {"beta": 2.0, "threshold": 5.0},
              "hardtanh": {"min_val": -0.5, "max_val": 2.0}, "swish": {"beta": 1.5}, "isru": {"alpha": 0.5}}


@pytest.mark.parametrize("name", sorted(_SPECS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_affine_is_the_activation(name, dtype, rng):
    """scale 1, shift 0: bit for bit nc.NAME (same op, same parameters)."""
    x = (rng.standard_normal((2, 3, 37)) * 4).astype(dtype)
    x[0, 0, :3] = [np.nan, np.inf, -np.inf]
    ones, zeros = np.ones(3, dtype), np.zeros(3, dtype)
    params = NONDEFAULT.get(name, {})
    got = nc.scale_shift_act(x, ones, zeros, name, **params)
    want = getattr(nc, name)(x, **params)
    np.testing.assert_array_equal(got, want)


REFS = {"relu": ref.relu, "gelu": ref.gelu, "sigmoid": ref.sigmoid, "silu": ref.silu, "tanh": ref.tanh,
        None: ref.identity, "leaky_relu": lambda z: ref.leaky_relu(z, 0.1)}


def _reference(x, s, t, r, name, axis):
    shape = [1] * x.ndim
    shape[axis] = -1
    z = x.astype(np.float64) * s.astype(np.float64).reshape(shape) + t.astype(np.float64).reshape(shape)
    if r is not None:
        z = z + r.astype(np.float64)
    return REFS[name](z)


@pytest.mark.parametrize("name", list(REFS), ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [1, -1])
@pytest.mark.parametrize("with_residual", [False, True])
def test_against_float64_reference(isa, name, dtype, axis, with_residual, rng):
    W = lanes(dtype)
    for C, S in [(1, 1), (3, W - 1), (W + 1, W), (5, 61), (W, 3), (2 * W, 5), (8 * W, 2), (9 * W, 2)]:
        shape = (2, C, S) if axis == 1 else (2, S, C)
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        s = rng.standard_normal(C).astype(dtype)
        t = rng.standard_normal(C).astype(dtype)
        r = rng.standard_normal(shape).astype(dtype) if with_residual else None
        params = {"negative_slope": 0.1} if name == "leaky_relu" else {}
        got = nc.scale_shift_act(x, s, t, name, channel_axis=axis, residual=r, **params)
        want = _reference(x, s, t, r, name, axis if axis == 1 else x.ndim - 1)
        shape_b = [1] * x.ndim
        shape_b[1 if axis == 1 else -1] = -1
        mag = np.abs(x * s.reshape(shape_b)) + np.abs(t.reshape(shape_b)) + (0 if r is None else np.abs(r))
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(got, want, rtol=4 * eps, atol=4 * eps * mag.max())
        assert got.dtype == dtype and got.shape == shape


@pytest.mark.parametrize("C", [16, 64, 40])
def test_channels_last_large_streamed_equals_channels_first(isa, C, threads, rng):
    """Channels-last rows of whole vectors (the flat array from the first aligned output vector, coefficients in
    registers, streaming stores) and other rows give the bits of the channels-first kernel, into outputs at every
    float offset from a 64-byte boundary that changes the head (0, 1, 4, 15), with and without a residual, on 1 and
    2 threads."""
    n_rows = (9 << 20) // (4 * C) + 3  # > 8 MiB of float32 output: streamed
    # (N, S, C) = (2, n_rows / 2, C): 3 dimensions, so that channel_axis=-1 is channels-last (for 2, axis -1 is 1)
    xl = rng.standard_normal((2, n_rows // 2, C)).astype(np.float32)
    s, t = rng.standard_normal(C).astype(np.float32), rng.standard_normal(C).astype(np.float32)
    r = rng.standard_normal(xl.shape).astype(np.float32)
    buf = np.empty(xl.size + 32, np.float32)
    base = (-buf.ctypes.data // 4) % 16  # first 64-byte-aligned float of buf
    for residual in (r, None):
        cf = (lambda a: np.ascontiguousarray(a.transpose(0, 2, 1)))
        rt = None if residual is None else cf(residual)
        want = nc.scale_shift_act(cf(xl), s, t, "silu", residual=rt).transpose(0, 2, 1)
        for n in (1, 2):
            nc.set_num_threads(n)
            for off in (0, 1, 4, 15):
                out = buf[base + off:base + off + xl.size].reshape(xl.shape)
                out[...] = np.nan
                got = nc.scale_shift_act(xl, s, t, "silu", channel_axis=-1, residual=residual, out=out)
                np.testing.assert_array_equal(got, want, err_msg=f"offset {off} floats, residual {residual is not None}")


@pytest.mark.parametrize("n", [7, (9 << 20) // 256 + 5])  # small, and > 8 MiB of output (streamed)
@pytest.mark.parametrize("C", [64, 17])  # rows of whole vectors, and not
def test_two_dimensional_input(isa, n, C, rng):
    """(N, C) input (BatchNorm1d's layout; channel_axis 1 and -1 name the same axis) runs as channels-last rows and
    gives the bits of the (N, 1, C) channels-last call, which match the float64 reference."""
    x = (rng.standard_normal((n, C)) * 3).astype(np.float32)
    s, t = rng.standard_normal(C).astype(np.float32), rng.standard_normal(C).astype(np.float32)
    want = nc.scale_shift_act(x.reshape(n, 1, C), s, t, "silu", channel_axis=-1).reshape(n, C)
    for axis in (1, -1):
        np.testing.assert_array_equal(nc.scale_shift_act(x, s, t, "silu", channel_axis=axis), want)
    ref = _reference(x[:1000], s, t, None, "silu", 1)
    np.testing.assert_allclose(want[:1000], ref, rtol=4e-7, atol=4e-7 * np.abs(ref).max())


def test_in_place_and_threads(threads, rng):
    x = rng.standard_normal((2, 8, 40000)).astype(np.float32)
    s, t = rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    nc.set_num_threads(1)
    one = nc.scale_shift_act(x, s, t, "gelu")
    nc.set_num_threads(2)
    two = nc.scale_shift_act(x, s, t, "gelu")
    np.testing.assert_array_equal(one, two)
    xl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    nc.set_num_threads(1)
    one = nc.scale_shift_act(xl, s, t, "silu", channel_axis=-1)
    nc.set_num_threads(2)
    np.testing.assert_array_equal(one, nc.scale_shift_act(xl, s, t, "silu", channel_axis=-1))
    y = x.copy()
    assert nc.scale_shift_act(y, s, t, "relu", out=y) is y
    np.testing.assert_array_equal(y, nc.scale_shift_act(x, s, t, "relu"))


@pytest.mark.parametrize("channels_last", [False, True])
def test_torch_batch_norm_eval_relu(channels_last, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((2, 16, 7, 9)).astype(np.float32)
    res = rng.standard_normal(x.shape).astype(np.float32)
    mean, var = rng.standard_normal(16).astype(np.float32), (rng.random(16) + 0.2).astype(np.float32)
    w, b = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    want = F.relu(F.batch_norm(torch.from_numpy(x), torch.from_numpy(mean), torch.from_numpy(var),
                               torch.from_numpy(w), torch.from_numpy(b), training=False, eps=1e-5)
                  + torch.from_numpy(res)).numpy()
    s = w.astype(np.float64) / np.sqrt(var.astype(np.float64) + 1e-5)
    t = b - mean * s
    s, t = s.astype(np.float32), t.astype(np.float32)
    if channels_last:
        xl, rl = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (x, res))
        got = nc.scale_shift_act(xl, s, t, "relu", channel_axis=-1, residual=rl).transpose(0, 3, 1, 2)
    else:
        got = nc.scale_shift_act(x, s, t, "relu", residual=res)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_bad_input():
    x = np.zeros((2, 3, 4), np.float32)
    c3 = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"scale has shape \(4,\).*\(2, 3, 4\)"):
        nc.scale_shift_act(x, np.ones(4, np.float32), c3)
    with pytest.raises(TypeError, match="shift has dtype float64"):
        nc.scale_shift_act(x, c3, np.ones(3))
    with pytest.raises(TypeError, match="int64"):
        nc.scale_shift_act(x.astype(np.int64), c3, c3)
    with pytest.raises(ValueError, match="channel_axis"):
        nc.scale_shift_act(np.zeros((2, 3, 4, 5), np.float32), c3, c3, channel_axis=2)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nc.scale_shift_act(np.zeros(3, np.float32), c3, c3)
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        nc.scale_shift_act(x, c3, c3, "rellu")
    with pytest.raises(ValueError, match="not elementwise"):
        nc.scale_shift_act(x, c3, c3, "softmax")
    with pytest.raises(TypeError, match="unknown parameter"):
        nc.scale_shift_act(x, c3, c3, "relu", negative_slope=0.1)
    with pytest.raises(ValueError, match="shape"):
        nc.scale_shift_act(x, c3, c3, residual=np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="approximate"):
        nc.scale_shift_act(x, c3, c3, "gelu", approximate="fast")
