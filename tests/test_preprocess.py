"""nc.preprocess against scikit-learn's StandardScaler (1e-10 in float64), batched fitting, layouts, errors."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc
from normcore import _core
from normcore.preprocess import MeanSubtraction, NotFittedError, Standardizer

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def _data(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (1000.0 + 3.0 * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("with_mean,with_std", [(True, True), (False, True), (True, False), (False, False)])
def test_standardizer_matches_sklearn(with_mean, with_std):
    x = _data((500, 7))
    x[:, 3] = 5.0  # a constant feature: scale 1
    ours = Standardizer(with_mean=with_mean, with_std=with_std).fit(x)
    ref = StandardScaler(with_mean=with_mean, with_std=with_std).fit(x)
    for attr in ("mean_", "var_", "scale_"):
        a, b = getattr(ours, attr), getattr(ref, attr)
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=0)
    assert ours.n_samples_seen_ == ref.n_samples_seen_ == 500
    np.testing.assert_allclose(ours.transform(x), ref.transform(x), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(x)), x, rtol=1e-12)
    np.testing.assert_allclose(ours.fit_transform(x), ref.fit_transform(x), rtol=1e-10, atol=1e-10)


def test_partial_fit_and_batches_equal_full_fit():
    x = _data((3001, 5), seed=1)
    chunks = [x[:1], x[1:700], x[700:2999], x[2999:]]
    full = Standardizer().fit(x)
    ref = StandardScaler()
    for c in chunks:
        ref.partial_fit(c)
    batched = Standardizer().fit_batches(iter(chunks))
    np.testing.assert_allclose(batched.mean_, full.mean_, rtol=1e-13)
    np.testing.assert_allclose(batched.var_, full.var_, rtol=1e-10)
    np.testing.assert_allclose(batched.var_, ref.var_, rtol=1e-10)
    assert batched.n_samples_seen_ == 3001
    with pytest.raises(ValueError, match="no batches"):
        Standardizer().fit_batches([])


@pytest.mark.parametrize("axis", [(0, 2, 3), None, 1, (0, -1)])
def test_axes_match_numpy(axis):
    x = _data((6, 3, 5, 4), seed=2)
    s = Standardizer(axis=axis).fit(x)
    np.testing.assert_allclose(s.mean_, x.mean(axis=axis), rtol=1e-13)
    np.testing.assert_allclose(s.var_, x.var(axis=axis), rtol=1e-10)
    y = s.transform(x)
    np.testing.assert_allclose(y.mean(axis=axis), 0, atol=1e-10)
    np.testing.assert_allclose(y.std(axis=axis), 1, rtol=1e-10)
    m = MeanSubtraction(axis=axis).fit(x)
    np.testing.assert_allclose(m.transform(x), x - x.mean(axis=axis, keepdims=True), rtol=1e-10, atol=1e-10)
    assert m.get_params() == {"axis": axis}


def test_float32_keeps_dtype_and_statistics_in_double():
    x = _data((400, 6), seed=3, dtype=np.float32)
    s = Standardizer().fit(x)
    assert s.mean_.dtype == np.float64 and s.transform(x).dtype == np.float32
    np.testing.assert_allclose(s.mean_, x.astype(np.float64).mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(s.var_, x.astype(np.float64).var(axis=0), rtol=1e-10)


def test_moments_identical_for_any_thread_count():
    x = _data((40_000, 9), seed=4, dtype=np.float32)
    saved = nc.get_num_threads()
    try:
        res = []
        for n in (1, 2, 3):
            nc.set_num_threads(n)
            m, m2 = _core.column_moments(x)
            res.append((m.tobytes(), m2.tobytes()))
    finally:
        nc.set_num_threads(saved)
    assert res[0] == res[1] == res[2]


def test_pipeline_and_params():
    x = _data((200, 4), seed=5)
    pipe = Pipeline([("std", Standardizer()), ("center", MeanSubtraction())])
    np.testing.assert_allclose(pipe.fit_transform(x), StandardScaler().fit_transform(x), rtol=1e-10, atol=1e-10)
    s = Standardizer(axis=(0, 1), with_std=False)
    c = clone(s)
    assert c.get_params() == {"axis": (0, 1), "with_mean": True, "with_std": False}
    assert s.set_params(with_std=True) is s and s.with_std is True
    with pytest.raises(ValueError, match="Invalid parameter"):
        s.set_params(foo=1)


def test_errors():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        Standardizer().transform(np.ones((3, 2)))
    s = Standardizer().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"X of shape \(3, 5\) has \(5,\) features .* fitted with \(2,\)"):
        s.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="fitted with"):
        s.partial_fit(np.ones((3, 2, 1)))
    with pytest.raises(TypeError, match="X has dtype int64"):
        Standardizer().fit(np.ones((3, 2), np.int64))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        Standardizer(axis=2).fit(np.ones((3, 2)))
    with pytest.raises(TypeError, match="axis must be an int, a tuple of ints or None"):
        Standardizer(axis="rows").fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="no samples"):
        Standardizer().fit(np.ones((0, 2)))
    with pytest.raises(ValueError, match="column_moments: x must be 2-D"):
        _core.column_moments(np.ones(3))


@pytest.mark.parametrize("feature_range", [(0, 1), (-1, 1)])
def test_min_max_matches_sklearn(feature_range):
    from sklearn.preprocessing import MinMaxScaler as SkMinMax

    from normcore.preprocess import MinMaxScaler

    x = _data((300, 5), seed=6)
    x[:, 2] = 4.0  # constant feature
    x[7, 1] = np.nan  # ignored by the fit, NaN out
    ours = MinMaxScaler(feature_range).fit(x)
    ref = SkMinMax(feature_range=feature_range).fit(x)
    for attr in ("data_min_", "data_max_", "data_range_", "scale_", "min_"):
        np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.transform(x), ref.transform(x), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(x)), x, rtol=1e-12)
    batched = MinMaxScaler(feature_range).fit_batches([x[:100], x[100:]])
    np.testing.assert_array_equal(batched.data_min_, ours.data_min_)
    np.testing.assert_array_equal(batched.data_max_, ours.data_max_)
    assert batched.n_samples_seen_ == 300
    img = _data((4, 3, 6, 5), seed=7, dtype=np.float32)
    per_channel = MinMaxScaler((-1, 1), axis=(0, 2, 3)).fit(img)
    y = per_channel.transform(img)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.min(axis=(0, 2, 3)), -1, atol=1e-6)
    np.testing.assert_allclose(y.max(axis=(0, 2, 3)), 1, atol=1e-6)
    with pytest.raises(ValueError, match="feature_range must have min < max"):
        MinMaxScaler((1, 0)).fit(x)
    with pytest.raises(TypeError, match="feature_range must be a pair"):
        MinMaxScaler("ab").fit(x)
    with pytest.raises(NotFittedError):
        MinMaxScaler().inverse_transform(x)
    _, mx = _core.column_min_max(np.full((3, 2), np.nan))
    assert np.isnan(mx).all()


def _correlated(n=400, d=6, seed=8):
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) * np.linspace(3, 0.5, d)
    return 5.0 + rng.standard_normal((n, d)) @ mix


@pytest.mark.parametrize("n_components,whiten", [(None, False), (3, True), (6, True)])
def test_pca_matches_sklearn_up_to_signs(n_components, whiten):
    from sklearn.decomposition import PCA as SkPCA

    from normcore.preprocess import PCA

    x = _correlated()
    ours = PCA(n_components, whiten=whiten).fit(x)
    ref = SkPCA(n_components, whiten=whiten, svd_solver="full").fit(x)
    signs = np.sign(np.sum(ours.components_ * ref.components_, axis=1))
    assert np.all(np.abs(signs) == 1)
    np.testing.assert_allclose(ours.components_ * signs[:, None], ref.components_, rtol=1e-10, atol=1e-10)
    for attr in ("explained_variance_", "explained_variance_ratio_", "singular_values_", "mean_"):
        np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-10)
    np.testing.assert_allclose(ours.transform(x) * signs, ref.transform(x), rtol=1e-10, atol=1e-10)
    if n_components in (None, 6):
        np.testing.assert_allclose(ours.inverse_transform(ours.transform(x)), x, rtol=1e-10)
    batched = PCA(n_components, whiten=whiten).partial_fit(x[:150]).partial_fit(x[150:])
    np.testing.assert_allclose(batched.explained_variance_, ours.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(batched.components_ @ ours.components_.T), np.eye(ours.n_components_),
                               atol=1e-8)


@pytest.mark.parametrize("method", ["zca", "pca"])
def test_whitening(method):
    from normcore.preprocess import Whitening

    x = _correlated(seed=9)
    wh = Whitening(method, eps=0.0).fit(x)
    y = wh.transform(x)
    np.testing.assert_allclose(np.cov(y, rowvar=False, bias=True), np.eye(6), atol=1e-10)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-10)
    W = wh.whitening_matrix_
    if method == "zca":
        np.testing.assert_allclose(W, W.T, atol=1e-12)
        # ZCA: W = Σ^(−1/2), the whitening closest to the input (W·Σ·W = I with W symmetric positive definite)
        assert np.all(np.linalg.eigvalsh(W) > 0)
    np.testing.assert_allclose(wh.inverse_transform(y), x, rtol=1e-10)
    reg = Whitening(method, eps=1e-2).fit(x).transform(x)
    assert np.all(np.var(reg, axis=0) < 1)  # eps shrinks the variance below 1
    with pytest.raises(ValueError, match="method must be 'zca' or 'pca'"):
        Whitening("cholesky").fit(x)
    with pytest.raises(ValueError, match="has 3 features, but the estimator was fitted with 6"):
        wh.transform(x[:, :3])


def test_pca_errors():
    from normcore.preprocess import PCA

    with pytest.raises(ValueError, match=r"n_components must be in \[1, 3\]"):
        PCA(5).fit(np.ones((4, 3)))
    with pytest.raises(TypeError, match="n_components must be an int or None"):
        PCA(0.9).fit(np.ones((4, 3)))
    with pytest.raises(NotFittedError):
        PCA().transform(np.ones((4, 3)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        PCA().fit(np.ones(4))
    with pytest.raises(NotFittedError, match="at least 2 samples"):
        PCA().fit(np.ones((1, 3))).transform(np.ones((1, 3)))


# ---------------------------------------------------------------- dask arrays: fitted block by block

@pytest.mark.parametrize("shape,chunks,axis", [
    ((1000, 7), (130, 3), 0),                                # rows and features both chunked
    ((12, 9, 10, 3), (5, 4, 3, 2), (0, 1, 2)),               # per-channel image statistics, NHWC
    ((6, 3, 8, 5), (4, 2, 3, 5), (0, 2, 3)),                 # NCHW
    ((40, 6), (7, 4), None),                                 # one global mean / std
])
def test_standardizer_fits_dask_chunk_by_chunk(shape, chunks, axis):
    da = pytest.importorskip("dask.array")
    x = _data(shape, seed=11)
    lazy = da.from_array(x, chunks=chunks)
    s, ref = Standardizer(axis=axis).fit(lazy), Standardizer(axis=axis).fit(x)
    assert s.mean_.shape == ref.mean_.shape and s.n_samples_seen_ == ref.n_samples_seen_
    np.testing.assert_allclose(s.mean_, x.mean(axis=axis), rtol=1e-12, atol=0)
    np.testing.assert_allclose(s.var_, x.var(axis=axis), rtol=1e-12, atol=0)
    np.testing.assert_allclose(s.var_, ref.var_, rtol=1e-12, atol=0)
    y = s.transform(lazy)  # lazy: still a dask array, same values as the NumPy transform
    assert type(y).__module__.startswith("dask") and y.dtype == np.float64
    np.testing.assert_allclose(y.compute(), ref.transform(x), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(s.inverse_transform(y).compute(), x, rtol=1e-12)


def test_standardizer_dask_partial_fit_merges_with_numpy_batches():
    da = pytest.importorskip("dask.array")
    x = _data((900, 4, 3), seed=12, dtype=np.float32)
    s = Standardizer(axis=(0, 1)).partial_fit(x[:100])  # a NumPy batch, then a dask one
    s.partial_fit(da.from_array(x[100:], chunks=(250, 3, 2)))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(s.mean_, x64.mean(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(s.var_, x64.var(axis=(0, 1)), rtol=1e-10)
    assert s.n_samples_seen_ == 3600 and s.transform(da.from_array(x)).dtype == np.float32
    with pytest.raises(TypeError, match="dtype int64"):
        Standardizer().fit(da.from_array(np.arange(12).reshape(4, 3)))
    unknown = da.from_array(x64[:, 0, 0], chunks=100)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        Standardizer().fit(unknown[unknown > 1000.0])
    with pytest.raises(ValueError, match=r"fitted with \(3,\) features"):
        s.partial_fit(da.from_array(x[:, :, :2]))
