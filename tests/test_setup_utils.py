"""nc.spectral_norm and nc.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest

import normcore as nc
from normcore import _core

torch = pytest.importorskip("torch")

SIZES = [(3, 5), (4097,), (0,), (1,), (64, 65), (2, 3, 4)]


def _grads(dtype, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(s)).astype(dtype) for s in SIZES]


def _torch_clip(grads, max_norm, p, **kw):
    params = []
    for g in grads:
        if math.isinf(p) and g.size == 0:
            continue  # torch's _foreach_norm refuses the inf norm of an empty tensor
        t = torch.zeros(g.shape, dtype=torch.float64 if g.dtype == np.float64 else torch.float32, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        params.append(t)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=p, **kw)
    return float(total), [t.grad.numpy() for t in params]


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("p", [1.0, 2.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e9])
def test_clip_grad_norm_matches_torch(dtype, rtol, p, max_norm):
    grads = _grads(dtype)
    expect_total, expect = _torch_clip(grads, max_norm, p)
    before = [g.copy() for g in grads]
    total = nc.clip_grad_norm_(grads, max_norm, norm_type=p)
    assert isinstance(total, float)
    assert total == pytest.approx(expect_total, rel=rtol)
    if math.isinf(p):
        grads, before = [g for g in grads if g.size], [b for b in before if b.size]
    for g, e, b in zip(grads, expect, before):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=0)
        if max_norm > total:
            np.testing.assert_array_equal(g, b)  # clip_coef clamped to 1
    if max_norm < total:
        flat = np.concatenate([g.ravel().astype(np.float64) for g in grads])
        new = np.abs(flat).max() if math.isinf(p) else (np.abs(flat) ** p).sum() ** (1 / p)
        assert new == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_mixed_dtypes_single_array_and_views():
    g32 = _grads(np.float32, 1)[:2]
    g64 = _grads(np.float64, 2)[2:]
    expect_total = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in g32 + g64))
    assert nc.clip_grad_norm_(g32 + g64, 1.0) == pytest.approx(expect_total, rel=1e-12)
    one = np.full(10, 2.0)
    assert nc.clip_grad_norm_(one, 1.0) == pytest.approx(math.sqrt(40))
    np.testing.assert_allclose(one, 2.0 / (math.sqrt(40) + 1e-6))
    base = np.full((4, 4), 3.0, np.float32)
    view = base[:, ::2]  # non-contiguous: scaled in place through the view
    nc.clip_grad_norm_([view], 1.0)
    assert base[0, 1] == 3.0 and base[0, 0] == pytest.approx(3.0 / (math.sqrt(72) + 1e-6), rel=1e-6)
    assert nc.clip_grad_norm_([], 1.0) == 0.0
    assert nc.clip_grad_norm_(_grads(np.float64), 1.0, "inf") == pytest.approx(
        max(np.abs(g).max() for g in _grads(np.float64) if g.size))


@pytest.mark.parametrize("bad", [np.inf, np.nan])
@pytest.mark.parametrize("p", [2.0, math.inf])
def test_clip_grad_norm_nonfinite(bad, p):
    grads = _grads(np.float64)
    grads[0][1, 2] = bad
    expect_total, expect = _torch_clip(grads, 1.0, p)
    before = [g.copy() for g in grads]
    with pytest.raises(RuntimeError, match="non-finite"):
        nc.clip_grad_norm_(grads, 1.0, p, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        _torch_clip(grads, 1.0, p, error_if_nonfinite=True)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)  # untouched when raising
    total = nc.clip_grad_norm_(grads, 1.0, p)
    np.testing.assert_equal(total, expect_total)
    for g, e in zip([g for g in grads if g.size], [e for e in expect if e.size]):
        np.testing.assert_array_equal(g, e)


def test_norm_is_identical_for_any_thread_count():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(n).astype(np.float32) for n in (300_000, 12_345, 1, 200_001)]
    saved = nc.get_num_threads()
    try:
        results = {}
        for n in (1, 2, 3, 7):
            nc.set_num_threads(n)
            results[n] = [_core.sum_abs_pow(arrays, p) for p in (1.0, 2.0, 3.0, math.inf)]
    finally:
        nc.set_num_threads(saved)
    for n in results:
        assert results[n] == results[1]  # bitwise
    flat = np.concatenate(arrays).astype(np.float64)
    np.testing.assert_allclose(results[1][:3], [np.abs(flat).sum(), (flat**2).sum(), (np.abs(flat) ** 3).sum()],
                               rtol=1e-12)
    assert results[1][3] == np.abs(flat).max()


def test_clip_grad_norm_errors():
    g = [np.ones(3)]
    with pytest.raises(TypeError, match=r"grads\[0\] must be a numpy.ndarray, got list"):
        nc.clip_grad_norm_([[1.0, 2.0]], 1.0)
    with pytest.raises(TypeError, match=r"grads\[1\] has dtype int64"):
        nc.clip_grad_norm_([np.ones(2), np.ones(2, np.int64)], 1.0)
    with pytest.raises(TypeError, match="grads must be an ndarray or an iterable"):
        nc.clip_grad_norm_(3.0, 1.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        nc.clip_grad_norm_(g, 1.0, 0.0)
    with pytest.raises(ValueError, match="norm_type must be a positive number or 'inf'"):
        nc.clip_grad_norm_(g, 1.0, "fro")
    with pytest.raises(TypeError, match="max_norm must be a real number"):
        nc.clip_grad_norm_(g, None)
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        nc.clip_grad_norm_([ro], 1.0)
    with pytest.raises(TypeError, match="sequence of arrays"):
        _core.sum_abs_pow(np.ones(3), 2.0)
    with pytest.raises(ValueError, match="p must be > 0"):
        _core.sum_abs_pow([np.ones(3)], -1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value_matches_torch(dtype):
    grads = _grads(dtype)
    grads[0][0, 0] = np.nan
    ts = [torch.from_numpy(g.copy()) for g in grads]
    params = []
    for t in ts:
        p = torch.zeros(t.shape, dtype=t.dtype, requires_grad=True)
        p.grad = t
        params.append(p)
    torch.nn.utils.clip_grad_value_(params, 0.7)
    assert nc.clip_grad_value_(grads, 0.7) is None
    for g, p in zip(grads, params):
        np.testing.assert_array_equal(g, p.grad.numpy())
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        nc.clip_grad_value_(grads, -1.0)
    with pytest.raises(TypeError, match="clip_value must be a real number"):
        nc.clip_grad_value_(grads, "1")


# ---------------------------------------------------------------- spectral norm
@pytest.mark.parametrize("shape,dim,n_it", [((6, 10), 0, 1), ((10, 6), 0, 3), ((8, 4, 3, 3), 0, 1),
                                            ((4, 8, 3, 3), 1, 2), ((5, 7, 2), 2, 1)])
def test_spectral_norm_matches_torch(shape, dim, n_it):
    rng = np.random.default_rng(4)
    w = rng.standard_normal(shape)
    h = shape[dim]
    u0 = rng.standard_normal(h)
    u0 /= np.linalg.norm(u0)
    mod = torch.nn.Module()
    mod.weight = torch.nn.Parameter(torch.from_numpy(w.copy()))
    torch.nn.utils.spectral_norm(mod, n_power_iterations=n_it, dim=dim)
    mod.weight_u.copy_(torch.from_numpy(u0))
    mod.train()
    mod._forward_pre_hooks[next(iter(mod._forward_pre_hooks))](mod, None)  # one training step's hook
    w_sn, u, sigma = nc.spectral_norm(w, u0, n_power_iterations=n_it, dim=dim)
    t_w = mod.weight.detach().numpy()
    np.testing.assert_allclose(u, mod.weight_u.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(w_sn, t_w, rtol=1e-10, atol=0)
    assert sigma == pytest.approx(float((torch.from_numpy(w) / mod.weight.detach()).flatten()[0]), rel=1e-10)
    assert w_sn.shape == shape and u.shape == (h,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spectral_norm_converges_to_largest_singular_value(dtype):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((20, 30)).astype(dtype)
    s_max = np.linalg.svd(w.astype(np.float64), compute_uv=False)[0]
    w_sn, u, sigma = nc.spectral_norm(w, n_power_iterations=500, rng=0)
    assert sigma == pytest.approx(s_max, rel=1e-10)
    assert w_sn.dtype == dtype and u.dtype == dtype
    assert np.linalg.svd(w_sn.astype(np.float64), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-6)
    # keeping u between steps (one iteration each) converges too, as in a training loop
    u = None
    for step in range(300):
        _, u, sigma = nc.spectral_norm(w.astype(np.float64), u, rng=1)
    assert sigma == pytest.approx(s_max, rel=1e-8)
    # same seed, same u
    np.testing.assert_array_equal(nc.spectral_norm(w, rng=3)[1], nc.spectral_norm(w, rng=3)[1])


def test_spectral_norm_errors():
    w = np.ones((3, 4))
    with pytest.raises(TypeError, match="weight has dtype int64"):
        nc.spectral_norm(np.ones((3, 4), np.int64))
    with pytest.raises(ValueError, match=r"u has shape \(4,\), expected \(3,\)"):
        nc.spectral_norm(w, np.ones(4))
    with pytest.raises(ValueError, match="n_power_iterations must be >= 1"):
        nc.spectral_norm(w, n_power_iterations=0)
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        nc.spectral_norm(w, dim=2)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        nc.spectral_norm(np.float64(2.0))
    with pytest.raises(ValueError, match="eps must be > 0"):
        nc.spectral_norm(w, eps=0.0)
