"""nc.init against torch.nn.init: formulas (gains, fans, bounds, stds), structure (eye, dirac, orthogonal,
sparse), reproducibility and argument errors. Statistical checks use fixed seeds and tolerances of a few
standard errors, so a wrong formula (e.g. a √2 or a fan_in/fan_out swap) fails."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import normcore as nc

torch = pytest.importorskip("torch")
init = nc.init

SHAPES = [(256, 128), (64, 32, 3, 3), (32, 16, 5), (8, 4, 3, 3, 3)]


@pytest.mark.parametrize("name", ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"])
def test_calculate_gain_matches_torch(name):
    assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name), rel=1e-15)


@pytest.mark.parametrize("param", [0, 0.2, 1, 5.0])
def test_leaky_relu_gain_matches_torch(param):
    assert init.calculate_gain("leaky_relu", param) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", param), rel=1e-15)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(TypeError, match="nonlinearity must be a str"):
        init.calculate_gain(3)


@pytest.mark.parametrize("shape", SHAPES + [(5, 7), (3, 0, 2)])
def test_fans_match_torch(shape):
    expect = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fan_in_and_fan_out(shape) == tuple(expect)
    assert init.fan_in_and_fan_out(np.empty(shape)) == tuple(expect)


@pytest.mark.parametrize("shape", [(), (5,), 7])
def test_fans_need_two_dims(shape):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fan_in_and_fan_out(shape)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform(shape)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.kaiming_normal(shape)


def _uniform_check(w, bound):
    """Within [-bound, bound], reaching close to both ends, mean 0 and std bound/√3 within ~5 standard errors."""
    n = w.size
    assert w.min() >= -bound and w.max() <= bound
    assert w.min() < -0.98 * bound and w.max() > 0.98 * bound
    assert abs(w.mean()) < 5 * bound / math.sqrt(3 * n)
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=3 / math.sqrt(n))


def _normal_check(w, std, mean=0.0):
    """Mean and std within ~5 standard errors; a normal (≈4.55% beyond 2 std), not a uniform of that std."""
    n = w.size
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(n) + 1e-12
    assert w.std() == pytest.approx(std, rel=4 / math.sqrt(n))
    assert abs(np.mean(np.abs(w - mean) > 2 * std) - 0.0455) < 4 * 0.21 / math.sqrt(n)


def _fans(shape):
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(shape, gain):
    fi, fo = _fans(shape)
    std = gain * math.sqrt(2.0 / (fi + fo))
    _uniform_check(init.xavier_uniform(shape, gain, rng=1), math.sqrt(3) * std)
    _normal_check(init.xavier_normal(shape, gain=gain, rng=2, dtype=np.float64), std)
    assert init.glorot_uniform is init.xavier_uniform and init.glorot_normal_ is init.xavier_normal_


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a,mode,nonlinearity", [(0, "fan_in", "leaky_relu"), (0.1, "fan_out", "leaky_relu"),
                                                 (0, "fan_in", "relu"), (0, "fan_out", "tanh")])
def test_kaiming(shape, a, mode, nonlinearity):
    fi, fo = _fans(shape)
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fi if mode == "fan_in" else fo)
    _uniform_check(init.kaiming_uniform(shape, a, mode, nonlinearity, rng=3), math.sqrt(3) * std)
    _normal_check(init.kaiming_normal(shape, a=a, mode=mode, nonlinearity=nonlinearity, rng=4), std)


def test_kaiming_defaults_and_keras_aliases():
    std = math.sqrt(2.0 / 128)
    _uniform_check(init.he_uniform((256, 128), rng=5), math.sqrt(3) * std)
    _normal_check(init.he_normal((256, 128), rng=6), std)
    assert inspect.signature(init.kaiming_uniform).parameters["nonlinearity"].default == "leaky_relu"
    assert inspect.signature(init.kaiming_normal_).parameters["mode"].default == "fan_in"
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform((4, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.kaiming_normal((4, 4), nonlinearity="softmax")


@pytest.mark.parametrize("shape", SHAPES)
def test_lecun(shape):
    fi, _ = _fans(shape)
    _uniform_check(init.lecun_uniform(shape, rng=7), math.sqrt(3.0 / fi))
    _normal_check(init.lecun_normal(shape, rng=8), math.sqrt(1.0 / fi))


def test_uniform_normal_constant():
    _uniform_check(init.uniform((200, 200), -0.5, 0.5, rng=9) , 0.5)
    w = init.uniform((100, 100), 2.0, 3.0, rng=9)
    assert w.min() >= 2 and w.max() <= 3 and w.mean() == pytest.approx(2.5, abs=0.01)
    _normal_check(init.normal((200, 200), 3.0, 0.5, rng=10), 0.5, mean=3.0)
    assert np.all(init.constant((3, 4), 0.25) == np.float32(0.25))
    assert np.all(init.zeros((3,)) == 0) and np.all(init.ones(5, dtype=np.float64) == 1)
    with pytest.raises(ValueError, match="need a <= b"):
        init.uniform((3,), 1.0, 0.0)
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal((3,), 0.0, -1.0)
    with pytest.raises(TypeError, match="missing a required argument: 'val'"):
        init.constant((3,))


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_eye_matches_torch(shape):
    np.testing.assert_array_equal(init.eye(shape), torch.nn.init.eye_(torch.empty(shape)).numpy())
    with pytest.raises(ValueError, match="only 2-dimensional"):
        init.eye((2, 2, 2))


@pytest.mark.parametrize("shape,groups", [((6, 4, 3), 1), ((6, 4, 3, 3), 2), ((4, 6, 3, 2), 1),
                                          ((6, 2, 3, 3, 3), 3), ((8, 8, 5, 5), 4)])
def test_dirac_matches_torch(shape, groups):
    expect = torch.nn.init.dirac_(torch.empty(shape), groups).numpy()
    np.testing.assert_array_equal(init.dirac(shape, groups), expect)
    np.testing.assert_array_equal(init.dirac_(np.full(shape, 7.0), groups=groups), expect)


def test_dirac_errors():
    with pytest.raises(ValueError, match="only 3, 4 and 5-dimensional"):
        init.dirac((4, 4))
    with pytest.raises(ValueError, match="groups must be >= 1 and divide dim 0"):
        init.dirac((6, 4, 3), groups=4)


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (16, 4, 3, 3), (30, 30)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    q = init.orthogonal(shape, gain, rng=11, dtype=np.float64).reshape(shape[0], -1)
    rows, cols = q.shape
    prod = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(prod, gain**2 * np.eye(min(rows, cols)), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal((5,))


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (1.0, 0.5, 0.0, 3.0), (0.0, 0.02, -0.04, 0.04),
                                          (0.0, 1.0, 1.0, 1.5)])
def test_trunc_normal_bounds_and_moments(mean, std, a, b):
    w = init.trunc_normal((200, 200), mean, std, a, b, rng=12, dtype=np.float64)
    assert w.min() >= a and w.max() <= b
    t = torch.nn.init.trunc_normal_(torch.empty(200, 200, dtype=torch.float64), mean, std, a, b,
                                    generator=torch.Generator().manual_seed(0)).numpy()
    # Same distribution as PyTorch's: mean and std within a few standard errors of torch's sample.
    se = t.std() / 200
    assert abs(w.mean() - t.mean()) < 6 * se
    assert w.std() == pytest.approx(t.std(), rel=0.02)
    with pytest.raises(ValueError, match="need a < b"):
        init.trunc_normal((3,), a=1.0, b=1.0)
    with pytest.raises(ValueError, match="mass"):
        init.trunc_normal((3,), 0.0, 1.0, 10.0, 11.0)


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.9])
def test_sparse_columns(sparsity):
    rows, cols = 40, 30
    w = init.sparse((rows, cols), sparsity, std=0.5, rng=13, dtype=np.float64)
    zeros_per_col = (w == 0).sum(axis=0)
    np.testing.assert_array_equal(zeros_per_col, math.ceil(sparsity * rows))
    t = torch.nn.init.sparse_(torch.empty(rows, cols), sparsity)
    np.testing.assert_array_equal((t == 0).sum(dim=0).numpy(), zeros_per_col)
    # the zeros sit in different rows per column (drawn at random), not in one band
    if 0 < sparsity < 1:
        assert len({tuple(np.flatnonzero(w[:, c] == 0)) for c in range(cols)}) > cols // 2
    with pytest.raises(ValueError, match="only 2-dimensional"):
        init.sparse((3, 3, 3), 0.1)
    with pytest.raises(ValueError, match="sparsity must be in"):
        init.sparse((3, 3), 1.5)


ALL = ["uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
       "lecun_uniform", "lecun_normal", "orthogonal", "trunc_normal"]


@pytest.mark.parametrize("name", ALL + ["sparse"])
def test_rng_reproducible_and_inplace(name):
    f, f_ = getattr(init, name), getattr(init, name + "_")
    args = (0.3,) if name == "sparse" else ()
    shape = (12, 8, 3)[:2] if name == "sparse" else (12, 8, 3)
    a = f(shape, *args, rng=42)
    b = f(shape, *args, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == shape
    assert not np.array_equal(a, f(shape, *args, rng=43))
    buf = np.zeros(shape, np.float64)
    out = f_(buf, *args, rng=42)
    assert out is buf
    np.testing.assert_array_equal(buf.astype(np.float32), a)  # float64 draws rounded to float32
    gen = np.random.default_rng(0)
    assert not np.array_equal(f(shape, *args, rng=gen), f(shape, *args, rng=gen))  # a Generator advances


def test_init_argument_errors():
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        init.xavier_uniform((3, 3), dtype=np.int32)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init.xavier_uniform((3, 3), rng="seed")
    with pytest.raises(TypeError, match="rng must be"):
        init.xavier_uniform((3, 3), rng=True)
    with pytest.raises(TypeError, match="xavier_uniform_: array must be a numpy.ndarray"):
        init.xavier_uniform_([[1.0, 2.0]])
    with pytest.raises(TypeError, match="array has dtype int64"):
        init.xavier_uniform_(np.zeros((3, 3), np.int64))
    ro = np.zeros((3, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        init.ones_(ro)
    with pytest.raises(ValueError, match="negative sizes"):
        init.zeros((3, -1))
    with pytest.raises(TypeError, match="shape must be an int or a tuple of ints"):
        init.zeros((3, 1.5))
    with pytest.raises(TypeError, match="gain must be a real number"):
        init.xavier_normal((3, 3), "1")
    with pytest.raises(TypeError, match="unexpected keyword argument 'generator'"):
        init.normal((3, 3), generator=None)


def test_empty_shapes():
    assert init.kaiming_uniform((0, 3)).shape == (0, 3)
    assert init.orthogonal((0, 3)).shape == (0, 3)
    assert init.trunc_normal((0,)).shape == (0,)


# ---------------------------------------------------------------- LSUV
def test_lsuv_numpy_weights_with_forward():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 64))
    w1, w2, w3 = (rng.standard_normal(s) * 5 for s in [(100, 64), (80, 100), (10, 80)])

    def forward(h):
        h1 = h @ w1.T
        h2 = np.tanh(h1) @ w2.T
        return [h1, h2, np.maximum(h2, 0) @ w3.T]

    out = init.lsuv([w1, w2, w3], x, forward, tol=0.05, rng=1)
    assert len(out) == 3 and all(abs(v - 1) < 0.05 for v in out)
    for h in forward(x):
        assert abs(h.var() - 1) < 0.05 or h is None
    # orthogonal pre-initialisation: rows of w1 (100 > 64) have orthogonal columns up to one scale
    g = w1.T @ w1
    np.testing.assert_allclose(g, g[0, 0] * np.eye(64), atol=1e-10 * g[0, 0])


class _Linear:
    def __init__(self, n_in, n_out, rng):
        self.weight = rng.standard_normal((n_out, n_in)).astype(np.float32)

    def __call__(self, x):
        return x @ self.weight.T


def test_lsuv_chain_of_layers_with_nn_modules():
    rng = np.random.default_rng(1)
    layers = [_Linear(32, 64, rng), nc.nn.ReLU(), _Linear(64, 64, rng), nc.nn.Tanh(), _Linear(64, 8, rng)]
    x = rng.standard_normal((256, 32)).astype(np.float32)
    out = init.lsuv(layers, x, tol=0.02, orthogonal_init=False)
    assert len(out) == 3 and all(abs(v - 1) < 0.02 for v in out)
    h = x
    for layer in layers:
        h = layer(h)
    assert abs(h.var() - 1) < 0.02


def test_lsuv_errors():
    w = np.ones((3, 3))
    with pytest.raises(TypeError, match="layers\\[0\\] must be an ndarray or have an ndarray .weight"):
        init.lsuv(["w"], np.ones((2, 3)), lambda x: [x])
    with pytest.raises(ValueError, match="forward returned 2 outputs for 1 layers"):
        init.lsuv([w], np.ones((2, 3)), lambda x: [x, x])
    w = np.ones((3, 3))
    with pytest.raises(ValueError, match="variance 0.0"):
        init.lsuv([w], np.ones((4, 3)), lambda x: [x @ w.T], orthogonal_init=False)
    with pytest.raises(TypeError, match="layers\\[0\\] must be callable"):
        init.lsuv([w], np.ones((2, 3)))
    with pytest.raises(ValueError, match="tol must be > 0"):
        init.lsuv([w], np.ones((2, 3)), lambda x: [x], tol=0)
