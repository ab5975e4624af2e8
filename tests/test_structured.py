"""Structured activations (prelu, rrelu, bipolar_relu, abrelu, maxout, softmax, log_softmax): every ISA and
dtype against the references in reference_structured.py, awkward shapes, in place, special values, finite
differences, thread-count determinism, argument checks and PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc
import reference as ref
import reference_structured as rs
from conftest import needs_torch

DTYPES = [np.float32, np.float64]
DT_IDS = ["f32", "f64"]

# (shape, axis): inner == 1 and > 1, lines not a multiple of any vector width, size-1 dims, 1-D, empty
AXIS_CASES = [
    ((5, 33), -1),
    ((3, 4, 5, 6), 1),
    ((2, 19, 1), 1),
    ((4, 6, 21), -2),
    ((3, 1000), 1),
    ((37, 5), -1),           # short rows: W rows at a time, the last group partial
    ((19, 31), 1),
    ((1, 1), 0),
    ((7,), 0),
    ((0, 4), 1),
    ((3, 0), 1),
    ((2, 0, 3), 1),
]


def case_id(case):
    return "x".join(map(str, case[0])) + f"_ax{case[1]}" + "".join(f"_{v}" for v in case[2:])


def eps(dtype):
    return float(np.finfo(dtype).eps)


def with_specials(x, rng, values=(np.nan, np.inf, -np.inf, 0.0, -0.0)):
    """x with a few special values at random places."""
    flat = x.reshape(-1)
    k = min(flat.size // 4, len(values))
    if k:
        flat[rng.choice(flat.size, k, replace=False)] = np.array(values[:k], dtype=x.dtype)
    return x


def assert_close(got, want, tol, what=""):
    """|got − want| ≤ tol elementwise, NaN where the reference is NaN, infinities equal."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    both_nan = np.isnan(got) & np.isnan(want)
    with np.errstate(invalid="ignore"):
        ok = both_nan | (got == want) | (np.abs(got - want) <= tol)
    assert ok.all(), (what, got[~ok][:5], want[~ok][:5])


def fd_grad(f, x, dy, h=1e-6):
    """d(Σ dy·f(x))/dx by central differences, one element at a time (float64)."""
    g = np.empty_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += h
        xm.flat[i] -= h
        g.flat[i] = np.sum(dy * (f(xp) - f(xm))) / (2 * h)
    return g


# ---- softmax, log_softmax --------------------------------------------------------------------------------------

SOFTMAX = {
    "softmax": (nc.softmax, nc.softmax_backward, rs.softmax, rs.softmax_grad),
    "log_softmax": (nc.log_softmax, nc.log_softmax_backward, rs.log_softmax, rs.log_softmax_grad),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("case", AXIS_CASES, ids=case_id)
@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_family_every_isa(name, case, dtype, isa, rng):
    fwd, bwd, ref_fwd, ref_grad = SOFTMAX[name]
    shape, axis = case
    x = (rng.standard_normal(shape) * 6).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    y = fwd(x, axis)
    assert y.dtype == dtype and y.shape == x.shape
    # ≤ 4 ulp of the result (the rounding of x − max is carried into the exponential; sums in double or
    # compensated; log Σ through log1p)
    assert ref.ulp_error(y, ref_fwd(x, axis), dtype).max(initial=0) <= 4
    want = ref_grad(dy, x, axis)
    # the scale of the terms: p·(|dy| + Σ|dy|), and |dy| itself for log_softmax
    p = rs.softmax(x, axis)
    scale = p * (np.abs(dy) + np.abs(dy).sum(axis=axis, keepdims=True)) + (name == "log_softmax") * np.abs(dy)
    tol = 16 * eps(dtype) * (np.abs(want) + scale)
    assert_close(bwd(dy, x, axis), want, tol, "from x")
    assert_close(bwd(dy, axis=axis, y=y), want, tol, "from y")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_softmax_special_values(dtype, isa):
    """PyTorch's results (torch 2.x): a row holding NaN or +inf, or only −inf, is NaN; −inf entries give 0 / −inf."""
    inf, nan = np.inf, np.nan
    x = np.array([[nan, 1.0, 2.0], [inf, 1.0, 0.0], [-inf, -inf, -inf], [-inf, 0.0, -inf], [inf, -inf, 1.0],
                  [0.0, -800.0, 0.0]], dtype=dtype)
    for axis_x in (x, np.ascontiguousarray(x.T)):  # along the contiguous axis and across it
        axis = -1 if axis_x is x else 0
        y, ly = nc.softmax(axis_x, axis), nc.log_softmax(axis_x, axis)
        if axis == 0:
            y, ly = y.T, ly.T
        assert np.isnan(y[:3]).all() and np.isnan(ly[:3]).all() and np.isnan(y[4]).all()
        np.testing.assert_array_equal(y[3], [0, 1, 0])
        np.testing.assert_array_equal(ly[3], [-inf, 0, -inf])
        np.testing.assert_array_equal(y[5], [0.5, 0, 0.5])
        np.testing.assert_allclose(ly[5], [-np.log(2), -800 - np.log(2), -np.log(2)], rtol=eps(dtype))
    # NaN in the input or in the upstream gradient: that row's gradient is NaN, the others are not
    dy = np.ones((3, 3), dtype)
    dy[2, 1] = nan
    for bwd in (nc.softmax_backward, nc.log_softmax_backward):
        dx = bwd(dy, x[[0, 3, 5]])
        assert np.isnan(dx[0]).all() and not np.isnan(dx[1]).any() and np.isnan(dx[2]).any()


def test_softmax_tiny_probabilities_and_sums_near_one():
    """Where the naive forms lose precision: e^(x − m) for |x − m| large (float32), log Σ for Σ close to 1."""
    x = np.array([[0.0, -87.3, -30.5, -0.001]], dtype=np.float32)
    assert ref.ulp_error(nc.softmax(x), rs.softmax(x)).max() <= 4
    x = np.array([[0.0, -25.0, -30.0]])
    got, want = nc.log_softmax(x)[0, 0], rs.log_softmax(x)[0, 0]  # −log(1 + e^−25 + e^−30) ≈ −1.4e-11
    assert abs(got - want) <= 2 * eps(np.float64) * abs(want)


@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_backward_by_finite_differences(name, rng):
    fwd, bwd, _, _ = SOFTMAX[name]
    for shape, axis in [((3, 5, 4), 1), ((4, 6), -1)]:
        x = rng.standard_normal(shape) * 2
        dy = rng.standard_normal(shape)
        fd = fd_grad(lambda v: fwd(v, axis), x, dy)
        np.testing.assert_allclose(bwd(dy, x, axis), fd, rtol=1e-6, atol=1e-8)


# ---- prelu ---------------------------------------------------------------------------------------------------

# (x shape, axis, weight size)
PRELU_CASES = [
    ((4, 37), 1, 37),        # inner == 1: the lanes are channels
    ((2, 3, 5, 7), 1, 3),    # inner = 35
    ((2, 3, 5, 7), -1, 7),
    ((3, 20, 1), 1, 20),
    ((6, 5), 1, 1),          # shared weight
    ((9,), 1, 1),            # 1-D: a single channel (PyTorch); axis unused
    ((), 1, 1),              # 0-D
    ((0, 3), 1, 3),
    ((2, 3, 0), 1, 3),
]


def prelu_inputs(shape, nw, dtype, rng, specials=True):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    if specials:
        x = with_specials(x, rng)
    w = rng.uniform(-0.5, 1.5, nw).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    return x, w, dy


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("case", PRELU_CASES, ids=case_id)
def test_prelu_every_isa(case, dtype, isa, rng):
    shape, axis, nw = case
    x, w, dy = prelu_inputs(shape, nw, dtype, rng)
    y = nc.prelu(x, w, axis)
    assert y.dtype == dtype and y.shape == x.shape
    # one rounding of a product of two dtype values: exactly the float64 reference rounded
    np.testing.assert_array_equal(y, rs.prelu(x, w, axis).astype(dtype))
    dx, dw = nc.prelu_backward(dy, x, w, axis)
    want_dx, want_dw = rs.prelu_grad(dy, x, w, axis)
    np.testing.assert_array_equal(dx, want_dx.astype(dtype))
    assert dw.dtype == dtype and dw.shape == w.shape
    magnitude = np.abs(rs.prelu_grad(np.abs(dy), -np.abs(x), w, axis)[1])  # Σ |x·dy| per channel
    assert_close(dw, want_dw, 2 * eps(dtype) * np.abs(want_dw) + 1e-15 * magnitude, "grad_weight")


def test_prelu_pytorch_rule_at_zero():
    """x > 0 ? x : w·x: +0 takes the slope, so a negative slope turns +0 into −0 (as torch)."""
    y = nc.prelu(np.array([0.0, -0.0, np.nan]), np.array([-0.5]))
    assert np.signbit(y[0]) and not np.signbit(y[1]) and np.isnan(y[2])
    dx, dw = nc.prelu_backward(np.ones(3), np.array([0.0, -1.0, np.nan]), np.array([0.25]))
    np.testing.assert_array_equal(dx, [0.25, 0.25, 0.25])  # the slope at 0 and at NaN
    assert np.isnan(dw[0])  # NaN·dy enters the weight's gradient


def test_prelu_backward_by_finite_differences(rng):
    for shape, axis, nw in [((3, 4, 5), 1, 4), ((5, 6), -1, 6), ((7,), 1, 1)]:
        x, w, dy = prelu_inputs(shape, nw, np.float64, rng, specials=False)
        x[np.abs(x) < 1e-3] = 0.5
        dx, dw = nc.prelu_backward(dy, x, w, axis)
        np.testing.assert_allclose(dx, fd_grad(lambda v: nc.prelu(v, w, axis), x, dy), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(dw, fd_grad(lambda v: nc.prelu(x, v, axis), w, dy), rtol=1e-6, atol=1e-8)


# ---- bipolar_relu ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("case", AXIS_CASES, ids=case_id)
def test_bipolar_relu_every_isa(case, dtype, isa, rng):
    shape, axis = case
    x = with_specials((rng.standard_normal(shape) * 3).astype(dtype), rng)
    dy = rng.standard_normal(shape).astype(dtype)
    y = nc.bipolar_relu(x, axis)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, rs.bipolar_relu(x, axis).astype(dtype))
    np.testing.assert_array_equal(nc.bipolar_relu_backward(dy, x, axis), dy * rs.bipolar_relu_grad(x, axis))


def test_bipolar_relu_backward_by_finite_differences(rng):
    x = rng.standard_normal((3, 5, 4))
    x[np.abs(x) < 1e-3] = 0.5
    dy = rng.standard_normal(x.shape)
    for axis in (1, -1):
        np.testing.assert_allclose(nc.bipolar_relu_backward(dy, x, axis),
                                   fd_grad(lambda v: nc.bipolar_relu(v, axis), x, dy), rtol=1e-6, atol=1e-8)


# ---- abrelu ----------------------------------------------------------------------------------------------------

ABRELU_SHAPES = [(4, 3, 5), (6, 33), (2, 1000), (7,), (), (3, 1), (0, 5), (2, 0)]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", ABRELU_SHAPES, ids=str)
def test_abrelu_every_isa(shape, dtype, isa, rng):
    for alpha in (1.0, 0.5, -0.7):
        x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        y = nc.abrelu(x, alpha)
        assert y.dtype == dtype and y.shape == x.shape
        want = rs.abrelu(x, alpha)
        beta = np.abs(want - np.maximum(x, 0)).max(initial=0) + np.abs(x).max(initial=0)
        assert_close(y, want, 4 * eps(dtype) * beta, "forward")
        want = rs.abrelu_grad(dy, x, alpha)
        assert_close(nc.abrelu_backward(dy, x, alpha), want, 16 * eps(dtype) * np.abs(dy).max(initial=0), "backward")


def test_abrelu_batch_axis_and_nan():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    np.testing.assert_allclose(nc.abrelu(x), [[0, 0, 1], [0, 0, 2]])  # β = mean of each sample (row)
    np.testing.assert_allclose(nc.abrelu(x[0]), [0, 0, 1])  # 1-D: one sample
    y = nc.abrelu(np.array([[1.0, np.nan], [1.0, 2.0]]))
    assert np.isnan(y[0]).all() and not np.isnan(y[1]).any()


def test_abrelu_backward_by_finite_differences(rng):
    """The gradient through β = α·mean: every element moves every output of its sample."""
    for shape, alpha in [((3, 4, 5), 1.0), ((2, 7), 0.6), ((9,), -0.4)]:
        x = rng.standard_normal(shape) + 0.3
        s = x.reshape(1 if x.ndim < 2 else x.shape[0], -1)
        assert np.abs(s - alpha * s.mean(axis=1, keepdims=True)).min() > 1e-3  # away from the kink
        dy = rng.standard_normal(shape)
        np.testing.assert_allclose(nc.abrelu_backward(dy, x, alpha),
                                   fd_grad(lambda v: nc.abrelu(v, alpha), x, dy), rtol=1e-6, atol=1e-8)


# ---- maxout ----------------------------------------------------------------------------------------------------

# (shape, axis, pieces)
MAXOUT_CASES = [
    ((4, 12), 1, 3),
    ((2, 6, 5, 7), 1, 2),
    ((3, 10, 21), -2, 5),
    ((5, 8), -1, 1),
    ((5, 14), -1, 2),        # 35 groups: W at a time, the last partial
    ((2, 4, 1), 1, 4),
    ((9,), 0, 3),
    ((0, 6), 1, 3),
    ((3, 0, 2), 1, 2),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("case", MAXOUT_CASES, ids=case_id)
def test_maxout_every_isa(case, dtype, isa, rng):
    shape, axis, pieces = case
    x = rng.integers(-3, 4, shape).astype(dtype)  # many ties: the gradient goes to the first maximum
    x = with_specials(x, rng, (np.nan, np.inf, -np.inf, np.nan))
    y = nc.maxout(x, pieces, axis)
    want = rs.maxout(x, pieces, axis)
    assert y.dtype == dtype and y.shape == want.shape
    np.testing.assert_array_equal(y, want)
    dy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_array_equal(nc.maxout_backward(dy, x, pieces, axis), rs.maxout_grad(dy, x, pieces, axis))


def test_maxout_nan_inf_and_first_maximum():
    x = np.array([[1.0, np.nan, 3.0, 2.0, -np.inf, -np.inf, np.inf, 1.0, 5.0, 5.0]])
    np.testing.assert_array_equal(nc.maxout(x, 2), [[np.nan, 3, -np.inf, np.inf, 5]])
    np.testing.assert_array_equal(nc.maxout_backward(np.arange(1.0, 6.0)[None], x, 2),
                                  [[0, 1, 2, 0, 3, 0, 4, 0, 5, 0]])
    x = np.array([[2.0, np.nan, 7.0, np.nan]])
    np.testing.assert_array_equal(nc.maxout_backward(np.ones((1, 1)), x, 4), [[0, 1, 0, 0]])  # the first NaN


def test_maxout_backward_by_finite_differences(rng):
    x = rng.standard_normal((3, 6, 4))
    dy = rng.standard_normal((3, 2, 4))
    np.testing.assert_allclose(nc.maxout_backward(dy, x, 3), fd_grad(lambda v: nc.maxout(v, 3), x, dy),
                               rtol=1e-6, atol=1e-8)


# ---- rrelu -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_rrelu_eval_is_leaky_relu_with_the_mean_slope(dtype, isa, rng):
    x = with_specials((rng.standard_normal((5, 33)) * 3).astype(dtype), rng)
    dy = rng.standard_normal(x.shape).astype(dtype)
    # the slope rounded to dtype first, as PyTorch (its leaky_relu multiplies in the tensor's type)
    for lower, upper in [(1 / 8, 1 / 3), (0.1, 0.3)]:
        np.testing.assert_array_equal(nc.rrelu(x, lower, upper), np.where(x > 0, x, x * dtype((lower + upper) / 2)))
    if dtype == np.float64:
        np.testing.assert_array_equal(nc.rrelu(x), rs.rrelu_eval(x))
    slope = dtype((1 / 8 + 1 / 3) / 2)
    np.testing.assert_array_equal(nc.rrelu_backward(dy, x), np.where(x > 0, dy, dy * slope))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_rrelu_training(dtype, rng):
    lower, upper = 0.1, 0.3
    x = with_specials((rng.standard_normal(10_007) * 3).astype(dtype), rng)
    noise = np.empty_like(x)
    y = nc.rrelu(x, lower, upper, True, 1234, noise=noise)
    # PyTorch's sides: x ≤ 0 (±0 included) draws a slope, x > 0 and NaN get 1
    draws = ~(x > 0) & ~np.isnan(x)
    assert (noise[~draws] == 1).all()
    assert (noise[draws] >= dtype(lower)).all() and (noise[draws] <= dtype(upper)).all()
    assert np.unique(noise[draws]).size > 0.9 * draws.sum()  # really drawn per element
    np.testing.assert_array_equal(y, x * noise)
    # the same seed (int or Generator) gives the same result; another one does not
    noise2 = np.empty_like(x)
    np.testing.assert_array_equal(nc.rrelu(x, lower, upper, True, np.random.default_rng(1234), noise=noise2), y)
    np.testing.assert_array_equal(noise2, noise)
    assert not np.array_equal(nc.rrelu(x, lower, upper, True, 99, noise=noise2), y)
    assert nc.rrelu(x, lower, upper, True).shape == x.shape  # no rng, no noise: fine
    # the backward uses the noise
    dy = rng.standard_normal(x.shape).astype(dtype)
    np.testing.assert_array_equal(nc.rrelu_backward(dy, x, lower, upper, True, noise=noise), dy * noise)
    with pytest.raises(ValueError, match="noise"):
        nc.rrelu_backward(dy, x, lower, upper, True)


def test_rrelu_training_finite_differences_and_in_place(rng):
    x = rng.standard_normal((4, 9))
    x[np.abs(x) < 1e-3] = 0.5
    dy = rng.standard_normal(x.shape)
    noise = np.empty_like(x)
    nc.rrelu(x, training=True, rng=7, noise=noise)
    fd = fd_grad(lambda v: nc.rrelu(v, training=True, rng=7), x, dy)  # the same seed: the same slopes
    np.testing.assert_allclose(nc.rrelu_backward(dy, x, training=True, noise=noise), fd, rtol=1e-6)
    xi = x.copy()
    assert nc.rrelu(xi, training=True, rng=7, out=xi) is xi
    np.testing.assert_array_equal(xi, x * noise)


def test_rrelu_argument_checks():
    x = np.ones(4)
    with pytest.raises(ValueError, match="lower"):
        nc.rrelu(x, 0.5, 0.2)
    with pytest.raises(ValueError, match="lower"):
        nc.rrelu(x, 0.5, 0.2, True)
    with pytest.raises(TypeError, match="rng"):
        nc.rrelu(x, training=True, rng="seed")
    with pytest.raises(TypeError, match="training"):
        nc.rrelu(x, training=1)
    with pytest.raises(ValueError, match="share memory"):
        nc.rrelu(x, training=True, noise=x)
    with pytest.raises(ValueError, match=r"noise has shape"):
        nc.rrelu(x, training=True, noise=np.empty(3))
    with pytest.raises(TypeError, match="noise"):
        nc.rrelu(x, training=True, noise=np.empty(4, np.float32))


# ---- in place, threads ---------------------------------------------------------------------------------------

def test_in_place(rng):
    x = with_specials(rng.standard_normal((4, 6, 5)), rng)
    dy = rng.standard_normal(x.shape)
    w = rng.uniform(0, 1, 6)
    forwards = [lambda v, **k: nc.prelu(v, w, **k), nc.bipolar_relu, nc.abrelu, nc.softmax, nc.log_softmax,
                lambda v, **k: nc.softmax(v, 1, **k), lambda v, **k: nc.log_softmax(v, 1, **k)]
    for f in forwards:
        want, xi = f(x), x.copy()
        assert f(xi, out=xi) is xi
        np.testing.assert_array_equal(xi, want)
    y = nc.softmax(x, 1)
    backwards = [lambda g, **k: nc.bipolar_relu_backward(g, x, **k), lambda g, **k: nc.abrelu_backward(g, x, **k),
                 lambda g, **k: nc.softmax_backward(g, x, 1, **k),
                 lambda g, **k: nc.softmax_backward(g, y=y, axis=1, **k),
                 lambda g, **k: nc.log_softmax_backward(g, x, **k)]
    for f in backwards:
        want, gi = f(dy), dy.copy()
        assert f(gi, out=gi) is gi
        np.testing.assert_array_equal(gi, want)
    dx, dw = nc.prelu_backward(dy, x, w)
    gi, wi = dy.copy(), w.copy()
    got = nc.prelu_backward(gi, x, wi, out=(gi, wi))
    assert got[0] is gi and got[1] is wi
    np.testing.assert_array_equal(gi, dx)
    np.testing.assert_array_equal(wi, dw)
    want, xi = nc.maxout_backward(dy[:, :3], x, 2), x.copy()
    assert nc.maxout_backward(dy[:, :3], xi, 2, out=xi) is xi
    np.testing.assert_array_equal(xi, want)


def test_non_contiguous_and_list_input(rng):
    base = rng.standard_normal((6, 8, 10)).astype(np.float32)
    w = rng.uniform(0, 1, 8).astype(np.float32)
    for f in (lambda v: nc.softmax(v, 1), lambda v: nc.prelu(v, w), lambda v: nc.maxout(v, 2),
              lambda v: nc.abrelu(v), lambda v: nc.bipolar_relu(v, -1)):
        view = base[:, :, ::2]
        np.testing.assert_array_equal(f(view), f(np.ascontiguousarray(view)))
        np.testing.assert_array_equal(f(np.asfortranarray(base)), f(base))
    np.testing.assert_allclose(nc.softmax([1.0, 2.0, 3.0]), rs.softmax(np.array([1.0, 2.0, 3.0])), rtol=1e-15)


def test_bitwise_identical_for_any_thread_count(threads, rng):
    """prelu's weight gradient, abrelu's means and the softmax sums: fixed blocks, fixed order."""
    x = rng.standard_normal((64, 8, 4096)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    w = rng.uniform(0, 1, 8).astype(np.float32)
    xt = x.reshape(-1, 64)  # inner == 1
    dyt = dy.reshape(xt.shape)
    wt = rng.uniform(0, 1, 64).astype(np.float32)
    runs = []
    for n in (1, 2):
        nc.set_num_threads(n)
        runs.append([*nc.prelu_backward(dy, x, w), *nc.prelu_backward(dyt, xt, wt), nc.softmax(x, 1),
                     nc.softmax(xt), nc.log_softmax(xt.reshape(-1, 8)), nc.log_softmax_backward(dyt, xt),
                     nc.abrelu_backward(dy, x), nc.maxout(xt, 4)])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


# ---- argument checks -----------------------------------------------------------------------------------------

AXIS_FUNCTIONS = {
    "prelu": lambda x, axis: nc.prelu(x, np.ones(x.shape[1] if x.ndim > 1 else 1, x.dtype), axis),
    "bipolar_relu": lambda x, axis: nc.bipolar_relu(x, axis),
    "maxout": lambda x, axis: nc.maxout(x, 1, axis),
    "softmax": lambda x, axis: nc.softmax(x, axis),
    "log_softmax": lambda x, axis: nc.log_softmax(x, axis),
    "softmax_backward": lambda x, axis: nc.softmax_backward(x, x, axis),
    "maxout_backward": lambda x, axis: nc.maxout_backward(x, x, 1, axis),
}
FORWARDS = {
    **{k: v for k, v in AXIS_FUNCTIONS.items() if "backward" not in k},
    "abrelu": lambda x, axis: nc.abrelu(x),
    "rrelu": lambda x, axis: nc.rrelu(x, training=True),
}


@pytest.mark.parametrize("name", AXIS_FUNCTIONS)
def test_bad_axis(name):
    f = AXIS_FUNCTIONS[name]
    x = np.ones((2, 3, 4))
    for axis in (3, -4, 10):
        with pytest.raises(ValueError, match=f"axis {axis} is out of range"):
            f(x, axis)
    with pytest.raises(TypeError, match="axis"):
        f(x, 1.0)
    if name != "prelu":  # a shared weight takes any x, 0-D included (PyTorch)
        with pytest.raises(ValueError, match="out of range"):
            f(np.ones(()), 0)


@pytest.mark.parametrize("name", FORWARDS)
def test_integer_input_is_type_error(name):
    with pytest.raises(TypeError, match="int64"):
        FORWARDS[name](np.arange(6).reshape(2, 3), 1)


def test_maxout_checks():
    x = np.ones((2, 10))
    with pytest.raises(ValueError, match=r"10 channels.*pieces = 4"):
        nc.maxout(x, 4)
    with pytest.raises(ValueError, match=r"10 channels.*pieces = 3"):
        nc.maxout_backward(np.ones((2, 3)), x, 3)
    with pytest.raises(ValueError, match="pieces must be >= 1"):
        nc.maxout(x, 0)
    with pytest.raises(TypeError, match="pieces"):
        nc.maxout(x, 2.0)
    with pytest.raises(ValueError, match=r"grad_output has shape \(2, 4\).*\(2, 5\)"):
        nc.maxout_backward(np.ones((2, 4)), x, 2)
    with pytest.raises(ValueError, match=r"out has shape \(2, 10\), expected \(2, 5\)"):
        nc.maxout(x, 2, out=np.empty((2, 10)))


def test_prelu_checks():
    x = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match="weight has 4 elements.*3 channels"):
        nc.prelu(x, np.ones(4))
    with pytest.raises(ValueError, match="scalar or a 1-D"):
        nc.prelu(x, np.ones((3, 1)))
    with pytest.raises(ValueError, match="single channel"):
        nc.prelu(np.ones(5), np.ones(5))
    with pytest.raises(TypeError, match="float32"):
        nc.prelu(x, np.ones(3, np.float32))
    np.testing.assert_array_equal(nc.prelu(-x, np.array(0.5)), -0.5 * x)  # a 0-D weight is shared
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 3, 4\)"):
        nc.prelu_backward(np.ones((2, 3)), x, np.ones(3))
    with pytest.raises(TypeError, match="pair"):
        nc.prelu_backward(x, x, np.ones(3), out=np.empty_like(x))
    with pytest.raises(ValueError, match=r"grad_weight\) has shape"):
        nc.prelu_backward(x, x, np.ones(3), out=(None, np.empty(4)))


def test_backward_argument_checks():
    x = np.ones((2, 3))
    for bwd in (nc.softmax_backward, nc.log_softmax_backward):
        with pytest.raises(nc.ArgumentError):
            bwd(x)
        with pytest.raises(nc.ArgumentError):
            bwd(x, x, y=x)
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
            bwd(x, x.T.copy())
    for bwd in (lambda g, v: nc.bipolar_relu_backward(g, v), lambda g, v: nc.abrelu_backward(g, v),
                lambda g, v: nc.rrelu_backward(g, v)):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
            bwd(x, x.T.copy())
        with pytest.raises(TypeError, match="float32"):
            bwd(x, x.astype(np.float32))
    with pytest.raises(TypeError, match="alpha"):
        nc.abrelu(x, "1")


# ---- PyTorch parity ------------------------------------------------------------------------------------------

@needs_torch
def test_prelu_matches_pytorch(rng):
    import torch
    import torch.nn.functional as F

    for shape, nw in [((2, 3, 4, 5), 3), ((6, 7), 7), ((5,), 1), ((4, 6), 1), ((3, 5, 1), 5)]:
        x = with_specials(rng.standard_normal(shape), rng, (0.0, -0.0, np.inf, -np.inf))
        w = rng.uniform(-0.5, 1.5, nw)
        dy = rng.standard_normal(shape)
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        yt = F.prelu(xt, wt)
        gx, gw = torch.autograd.grad(yt, (xt, wt), torch.from_numpy(dy))
        np.testing.assert_array_equal(nc.prelu(x, w), yt.detach().numpy())
        dx, dw = nc.prelu_backward(dy, x, w)
        np.testing.assert_array_equal(dx, gx.numpy())
        np.testing.assert_allclose(dw, gw.numpy(), rtol=1e-10)


@needs_torch
def test_rrelu_eval_matches_pytorch(rng):
    import torch
    import torch.nn.functional as F

    x = with_specials(rng.standard_normal(1000) * 3, rng)
    dy = rng.standard_normal(x.size)
    for lower, upper in [(1 / 8, 1 / 3), (0.05, 0.4)]:
        xt = torch.tensor(x, requires_grad=True)
        yt = F.rrelu(xt, lower, upper, training=False)
        (gt,) = torch.autograd.grad(yt, xt, torch.from_numpy(dy))
        np.testing.assert_allclose(nc.rrelu(x, lower, upper), yt.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(nc.rrelu_backward(dy, x, lower, upper), gt.numpy(), rtol=1e-10)


@needs_torch
@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_family_matches_pytorch(name, rng):
    import torch
    import torch.nn.functional as F

    fwd, bwd, _, _ = SOFTMAX[name]
    tfn = F.softmax if name == "softmax" else F.log_softmax
    inf, nan = np.inf, np.nan
    special = np.array([[nan, 1, 2, 0], [inf, 1, 0, 2], [-inf, -inf, -inf, -inf], [-inf, 0, -inf, 3],
                        [0, -800, 0, 1]])
    for x, axis in [(rng.standard_normal((4, 7, 3)) * 5, 1), (rng.standard_normal((5, 33)) * 5, -1),
                    (special, -1), (special, 0)]:
        dy = rng.standard_normal(x.shape)
        xt = torch.tensor(x, requires_grad=True)
        yt = tfn(xt, axis)
        (gt,) = torch.autograd.grad(yt, xt, torch.from_numpy(dy))
        y = fwd(x, axis)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(bwd(dy, y=y, axis=axis), gt.numpy(), rtol=1e-10, atol=1e-12)
        finite = np.isfinite(x).all(axis=axis, keepdims=True) & np.ones(x.shape, bool)
        np.testing.assert_allclose(bwd(dy, x, axis)[finite], gt.numpy()[finite], rtol=1e-10, atol=1e-12)
