"""Input preprocessing as scikit-learn-compatible estimators (fit / partial_fit / transform / fit_transform /
inverse_transform, get_params / set_params; usable inside ``sklearn.pipeline.Pipeline``).

The statistics pass is C++ (``_core.column_moments``: per-column mean and M2 in double over fixed row blocks,
merged with Chan et al.'s formula, so it is bitwise identical for any thread count); ``partial_fit`` merges batch
statistics exactly with the same formula, so a dataset that does not fit in memory is fitted from an iterable of
batches (``fit_batches``). The elementwise transform is NumPy broadcasting.

``Standardizer`` (and ``MeanSubtraction``) also fit a ``dask.array`` without loading it: one dask task per block
computes the block's (mean, M2), on whichever scheduler or cluster is active, and the blocks are merged with the
same exact formula; transform / inverse_transform of a dask array return a lazy dask array. dask is optional and
not imported unless a dask array is given; the other estimators turn a dask array into a NumPy one.

Implemented here: ``Standardizer``, ``MeanSubtraction``, ``MinMaxScaler``, ``PCA`` and ``Whitening`` (their
covariance is a BLAS matmul of the centred data; the eigendecomposition is NumPy's ``eigh``).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core

__all__ = ["NotFittedError", "Standardizer", "MeanSubtraction", "MinMaxScaler", "PCA", "Whitening"]

try:  # scikit-learn's bases give get_params / set_params / clone / tags / set_output exactly as sklearn expects
    from sklearn.base import BaseEstimator as _Base, TransformerMixin as _Mixin
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    import inspect

    class _Base:
        @classmethod
        def _get_param_names(cls):
            return sorted(p for p in inspect.signature(cls.__init__).parameters if p != "self")

        def get_params(self, deep=True):
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"Invalid parameter {k!r} for estimator {type(self).__name__}; valid: {valid}")
                setattr(self, k, v)
            return self

    class _Mixin:
        def fit_transform(self, X, y=None, **fit_params):
            return self.fit(X, y, **fit_params).transform(X)


class NotFittedError(ValueError, AttributeError):
    """transform / inverse_transform before fit (the same bases as scikit-learn's NotFittedError)."""


def _is_dask(X):
    """A dask array (told without importing dask, which is optional)."""
    return type(X).__module__.startswith("dask.")


def _array(X, fname, lazy=False):
    """X as a NumPy array, or kept as it is when ``lazy`` and it is a dask array (then not computed here)."""
    x = X if lazy and _is_dask(X) else np.asarray(X)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{fname}: X has dtype {x.dtype}; only float32 and float64 are supported")
    if x.ndim < 1:
        raise ValueError(f"{fname}: X must have at least 1 dimension, got shape {x.shape}")
    if any(isinstance(s, float) and np.isnan(s) for s in x.shape):
        raise ValueError(f"{fname}: the dask array X has unknown chunk sizes (shape {x.shape}); call "
                         "X.compute_chunk_sizes() first")
    return x


def _chan(n0, mean0, m20, n1, mean1, m21):
    """Chan et al.'s exact merge of two sets' (count, mean, M2) → the union's (count, mean, M2)."""
    total = n0 + n1
    delta = mean1 - mean0
    return total, mean0 + delta * (n1 / total), m20 + m21 + delta * delta * (n0 * n1 / total)


def _rows(x, axes, n):
    """X seen as (n values, features): the reduced axes first, flattened."""
    return np.moveaxis(x, axes, tuple(range(len(axes)))).reshape(n, -1)


def _block_moments(block, axes):
    n = int(np.prod([block.shape[i] for i in axes]))
    return _core.column_moments(_rows(block, axes, n))


def _dask_moments(x, axes):
    """Per-feature (mean, M2) over the reduced ``axes`` of the dask array x, flattened like the NumPy path: each
    block's moments are computed by dask (one task per block, on whichever scheduler is active), then the blocks
    along the reduced axes are merged here with Chan's formula."""
    import dask

    blocks = x.to_delayed()
    task = dask.delayed(_block_moments, pure=True)
    indices = [i for i in np.ndindex(*x.numblocks) if all(x.chunks[a][i[a]] > 0 for a in range(x.ndim))]
    moments = dask.compute(*[task(blocks[i], axes) for i in indices])
    kept = [a for a in range(x.ndim) if a not in axes]
    start = [np.concatenate(([0], np.cumsum(c))).astype(int) for c in x.chunks]
    mean, m2 = np.zeros([x.shape[a] for a in kept]), np.zeros([x.shape[a] for a in kept])
    merged = {}  # kept-axes block index → (count, mean, M2) over the reduced axes so far
    for i, (bmean, bm2) in zip(indices, moments):
        n = int(np.prod([x.chunks[a][i[a]] for a in axes]))
        key = tuple(i[a] for a in kept)
        merged[key] = (n, bmean, bm2) if key not in merged else _chan(*merged[key], n, bmean, bm2)
    for key, (_, bmean, bm2) in merged.items():
        where = tuple(slice(start[a][k], start[a][k + 1]) for a, k in zip(kept, key))
        shape = [x.chunks[a][k] for a, k in zip(kept, key)]
        mean[where], m2[where] = bmean.reshape(shape), bm2.reshape(shape)
    return mean.ravel(), m2.ravel()


class _AxisEstimator(_Mixin, _Base):
    """Statistics per position of the dimensions not in ``axis``; subclasses define ``_merge(x2, n)`` (x2 = X seen
    as (n values, features), merged into the fitted state) and the transforms."""

    _STATE = ("_kept", "_ndim", "n_samples_seen_")
    _LAZY = False  # True: dask arrays are fitted block by block and transformed lazily (else made NumPy arrays)

    # ---------------------------------------------------------------- shapes
    def _axes(self, x, fname):
        axis = self.axis
        if axis is None:
            return tuple(range(x.ndim))
        items = axis if isinstance(axis, tuple) else (axis,)
        axes = []
        for a in items:
            if isinstance(a, bool) or not isinstance(a, numbers.Integral):
                raise TypeError(f"{fname}: axis must be an int, a tuple of ints or None, got {self.axis!r}")
            if not -x.ndim <= a < x.ndim:
                raise ValueError(f"{fname}: axis {a} is out of range for X of shape {x.shape}")
            axes.append(int(a) % x.ndim)
        if len(set(axes)) != len(axes) or not axes:
            raise ValueError(f"{fname}: axis must name distinct axes, got {self.axis!r}")
        return tuple(sorted(axes))

    def _layout(self, x, fname):
        """(reduced axes, kept shape); X's kept shape must match the fitted one."""
        axes = self._axes(x, fname)
        kept = tuple(s for i, s in enumerate(x.shape) if i not in axes)
        if hasattr(self, "_kept") and (kept, x.ndim) != (self._kept, self._ndim):
            raise ValueError(f"{fname}: X of shape {x.shape} has {kept} features over axis={self.axis!r}, but the "
                             f"estimator was fitted with {self._kept} features on {self._ndim}-D input")
        return axes, kept

    def _check_fitted(self, fname):
        if not hasattr(self, "_kept"):
            raise NotFittedError(f"{fname}: this {type(self).__name__} is not fitted yet; call fit first")

    def _input(self, X, kind):
        """(x, reduced axes) of a fitted estimator's transform input."""
        fname = f"{type(self).__name__}.{kind}"
        self._check_fitted(fname)
        x = _array(X, fname, lazy=self._LAZY)
        return x, self._layout(x, fname)[0]

    def _check_params(self, fname):
        """Subclasses check their parameters here, before any state changes."""

    # ---------------------------------------------------------------- fitting
    def _reset(self):
        for k in self._STATE:
            self.__dict__.pop(k, None)

    def fit(self, X, y=None):
        """Compute the statistics of X (forgetting earlier ones); returns self."""
        self._reset()
        return self.partial_fit(X, y)

    def fit_batches(self, batches):
        """Fit from an iterable of arrays (e.g. a generator reading a large dataset chunk by chunk); the result
        equals ``fit`` on their concatenation along the reduced axes. Returns self."""
        self._reset()
        for b in batches:
            self.partial_fit(b)
        if not hasattr(self, "_kept"):
            raise ValueError("fit_batches: the iterable gave no batches")
        return self

    def partial_fit(self, X, y=None):
        """Merge the statistics of one more batch X into the fitted ones; returns self."""
        fname = f"{type(self).__name__}.partial_fit"
        x = _array(X, fname, lazy=self._LAZY)
        axes, kept = self._layout(x, fname)
        n = int(np.prod([x.shape[i] for i in axes]))
        if n == 0:
            raise ValueError(f"{fname}: X of shape {x.shape} has no samples over axis={self.axis!r}")
        self._check_params(fname)
        first = not hasattr(self, "_kept")
        self._kept, self._ndim = kept, x.ndim
        if _is_dask(x):  # only estimators with _LAZY get here
            self._merge_moments(*_dask_moments(x, axes), n, first)
        else:
            self._merge(_rows(x, axes, n), n, first)
        self.n_samples_seen_ = n if first else self.n_samples_seen_ + n
        return self


class Standardizer(_AxisEstimator):
    """z-normalization: y = (x − mean) / scale, statistics over ``axis`` (scikit-learn's ``StandardScaler``
    for ``axis=0`` on 2-D data).

    ``axis``: an int, a tuple of ints (e.g. ``(0, 2, 3)`` for per-channel statistics of NCHW images) or None (one
    global mean and std over all values). Fitted attributes, named as scikit-learn: ``mean_`` and ``var_`` (biased
    variance, float64, shaped like the dimensions not reduced), ``scale_`` = √var_ with constant features given
    scale 1 (scikit-learn's rule), ``n_samples_seen_`` = values reduced per statistic. ``with_mean=False`` skips
    centering, ``with_std=False`` skips scaling (``var_`` and ``scale_`` are then None; both False → ``mean_``
    None too, as scikit-learn). Results keep X's dtype; statistics are float64.

    X may be a ``dask.array``: fitted block by block (blocks may split any axis; per-block statistics computed by
    dask, merged exactly), transformed lazily (a dask array back).
    """

    def __init__(self, axis=0, with_mean=True, with_std=True):
        self.axis = axis
        self.with_mean = with_mean
        self.with_std = with_std

    _STATE = _AxisEstimator._STATE + ("_mean", "_m2", "mean_", "var_", "scale_")

    _LAZY = True

    def _merge(self, x2, n, first):
        self._merge_moments(*_core.column_moments(x2), n, first)

    def _merge_moments(self, mean, m2, n, first):
        """Chan et al.: the batch's (mean, M2) merged exactly into the fitted ones."""
        if not first:
            n, mean, m2 = _chan(self.n_samples_seen_, self._mean, self._m2, n, mean, m2)
        self._mean, self._m2 = mean, m2
        var = m2 / n
        self.mean_ = mean.reshape(self._kept) if (self.with_mean or self.with_std) else None
        if self.with_std:
            self.var_ = var.reshape(self._kept)
            eps = np.finfo(np.float64).eps  # scikit-learn's _is_constant_feature bound on rounding error
            constant = var <= n * eps * var + (n * mean * eps) ** 2
            self.scale_ = np.where(constant, 1.0, np.sqrt(var)).reshape(self._kept)
        else:
            self.var_ = self.scale_ = None

    # ---------------------------------------------------------------- transforms
    def transform(self, X):
        """y = (X − mean_) / scale_ (each step only when enabled), in X's dtype."""
        x, axes = self._input(X, "transform")
        y = x.astype(np.float64)
        if self.with_mean:
            y -= np.expand_dims(self.mean_, axes)
        if self.with_std:
            y /= np.expand_dims(self.scale_, axes)
        return y.astype(x.dtype, copy=False)

    def inverse_transform(self, X):
        """x = X·scale_ + mean_ (each step only when enabled), in X's dtype."""
        x, axes = self._input(X, "inverse_transform")
        y = x.astype(np.float64)
        if self.with_std:
            y *= np.expand_dims(self.scale_, axes)
        if self.with_mean:
            y += np.expand_dims(self.mean_, axes)
        return y.astype(x.dtype, copy=False)


class MeanSubtraction(Standardizer):
    """Center only: y = x − mean over ``axis`` (the mean image for ``axis=0``, per-channel means for
    ``axis=(0, 2, 3)`` on NCHW). Fitted attributes ``mean_``, ``n_samples_seen_``."""

    with_mean = True
    with_std = False

    def __init__(self, axis=0):
        self.axis = axis


class MinMaxScaler(_AxisEstimator):
    """Rescale each feature to ``feature_range``: y = x·scale_ + min_, scale_ = (hi − lo)/(data_max_ − data_min_),
    min_ = lo − data_min_·scale_, as scikit-learn's ``MinMaxScaler`` for ``axis=0`` on 2-D data ((0, 1): [0, 1]
    rescaling; (−1, 1): [−1, 1] normalization). A constant feature gets range 1 (scikit-learn's rule); NaN values
    are ignored by the fit (nanmin / nanmax). The min/max pass is C++ (``_core.column_min_max``); ``partial_fit``
    takes the running min/max. Attributes: ``data_min_``, ``data_max_``, ``data_range_``, ``scale_``, ``min_``,
    ``n_samples_seen_``.
    """

    _STATE = _AxisEstimator._STATE + ("data_min_", "data_max_", "data_range_", "scale_", "min_")

    def __init__(self, feature_range=(0, 1), axis=0):
        self.feature_range = feature_range
        self.axis = axis

    def _range(self, fname):
        fr = self.feature_range
        try:
            lo, hi = (float(v) for v in fr)
        except (TypeError, ValueError):
            raise TypeError(f"{fname}: feature_range must be a pair of numbers, got {fr!r}") from None
        if not lo < hi:
            raise ValueError(f"{fname}: feature_range must have min < max, got {fr!r}")
        return lo, hi

    def _check_params(self, fname):
        self._range(fname)

    def _merge(self, x2, n, first):
        lo, hi = self._range(f"{type(self).__name__}.partial_fit")
        mn, mx = _core.column_min_max(x2)
        if not first:
            mn = np.fmin(self.data_min_.ravel(), mn)
            mx = np.fmax(self.data_max_.ravel(), mx)
        rng = mx - mn
        safe = np.where(rng < 10 * np.finfo(np.float64).eps, 1.0, rng)
        scale = (hi - lo) / safe
        k = self._kept
        self.data_min_, self.data_max_, self.data_range_ = mn.reshape(k), mx.reshape(k), rng.reshape(k)
        self.scale_, self.min_ = scale.reshape(k), (lo - mn * scale).reshape(k)

    def transform(self, X):
        """y = X·scale_ + min_, in X's dtype."""
        x, axes = self._input(X, "transform")
        y = x * np.expand_dims(self.scale_, axes) + np.expand_dims(self.min_, axes)
        return y.astype(x.dtype, copy=False)

    def inverse_transform(self, X):
        """x = (X − min_) / scale_, in X's dtype."""
        x, axes = self._input(X, "inverse_transform")
        y = (x - np.expand_dims(self.min_, axes)) / np.expand_dims(self.scale_, axes)
        return y.astype(x.dtype, copy=False)


class _CovarianceEstimator(_Mixin, _Base):
    """Mean (C++ column pass) and scatter matrix S = Σ (x − mean)(x − mean)ᵀ (BLAS matmul) of 2-D X
    (n_samples, n_features), merged across ``partial_fit`` batches exactly (Chan et al.:
    S = S_a + S_b + δδᵀ·n_a·n_b/n); ``_update()`` derives the fitted attributes."""

    def _check_fitted(self, fname):
        if not hasattr(self, "n_samples_seen_"):
            raise NotFittedError(f"{fname}: this {type(self).__name__} is not fitted yet; call fit first")

    def _x(self, X, fname):
        x = _array(X, fname)
        if x.ndim != 2:
            raise ValueError(f"{fname}: X must be 2-D (n_samples, n_features), got shape {x.shape}")
        if hasattr(self, "n_samples_seen_") and x.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"{fname}: X of shape {x.shape} has {x.shape[1]} features, but the estimator was "
                             f"fitted with {self.mean_.shape[0]} features")
        return x

    def fit(self, X, y=None):
        """Fit on X (forgetting earlier batches); returns self."""
        for k in ("n_samples_seen_", "mean_", "_scatter"):
            self.__dict__.pop(k, None)
        return self.partial_fit(X, y)

    def partial_fit(self, X, y=None):
        """Merge one more batch X into the mean and scatter matrix; returns self."""
        fname = f"{type(self).__name__}.partial_fit"
        x = self._x(X, fname)
        self._check_params(fname, x.shape[1])
        n = x.shape[0]
        if n == 0:
            raise ValueError(f"{fname}: X of shape {x.shape} has no samples")
        mean, _ = _core.column_moments(x)
        xc = x.astype(np.float64) - mean
        scatter = xc.T @ xc
        if hasattr(self, "n_samples_seen_"):
            n0 = self.n_samples_seen_
            delta = mean - self.mean_
            total = n0 + n
            scatter = self._scatter + scatter + np.outer(delta, delta) * (n0 * n / total)
            mean = self.mean_ + delta * (n / total)
            n = total
        self.n_samples_seen_, self.mean_, self._scatter = n, mean, scatter
        self._update()
        return self

    def _eigh(self, ddof):
        """Eigenvalues (descending) and eigenvectors (columns) of the covariance scatter/(n − ddof)."""
        n = self.n_samples_seen_
        if n - ddof <= 0:
            raise ValueError(f"{type(self).__name__}: need more than {ddof} sample(s) for the covariance, got {n}")
        w, v = np.linalg.eigh(self._scatter / (n - ddof))
        order = np.argsort(w)[::-1]
        return np.maximum(w[order], 0.0), v[:, order]


class PCA(_CovarianceEstimator):
    """Principal component analysis: project centred X on the top ``n_components`` eigenvectors of its covariance
    (unbiased, /(n − 1), as scikit-learn), optionally whitened (divided by √explained_variance_). Attributes as
    scikit-learn: ``components_`` (n_components, n_features), ``explained_variance_``,
    ``explained_variance_ratio_``, ``singular_values_``, ``mean_``, ``n_components_``, ``n_samples_seen_``.
    Component signs are fixed so that each component's largest-magnitude entry is positive (scikit-learn fixes
    them from the SVD; results agree up to the sign of each component). ``partial_fit`` merges exactly.
    ``n_components`` is an int or None (all); scikit-learn's fraction-of-variance and "mle" forms are not supported.
    """

    def __init__(self, n_components=None, whiten=False):
        self.n_components = n_components
        self.whiten = whiten

    def _check_params(self, fname, n_features):
        k = self.n_components
        if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral)):
            raise TypeError(f"{fname}: n_components must be an int or None, got {type(k).__name__}")
        if k is not None and not 1 <= k <= n_features:
            raise ValueError(f"{fname}: n_components must be in [1, {n_features}] for {n_features} features, got {k}")

    def _update(self):
        n = self.n_samples_seen_
        if n < 2:
            return  # components need at least 2 samples; the next partial_fit completes them
        k = self.mean_.shape[0] if self.n_components is None else int(self.n_components)
        w, v = self._eigh(ddof=1)
        comp = v[:, :k].T
        big = np.argmax(np.abs(comp), axis=1)
        comp *= np.sign(comp[np.arange(k), big])[:, None]
        self.components_, self.n_components_ = comp, k
        self.explained_variance_ = w[:k]
        self.explained_variance_ratio_ = w[:k] / w.sum()
        self.singular_values_ = np.sqrt(w[:k] * (n - 1))

    def _fitted(self, fname):
        self._check_fitted(fname)
        if not hasattr(self, "components_"):
            raise NotFittedError(f"{fname}: PCA needs at least 2 samples, got {self.n_samples_seen_}")

    def transform(self, X):
        """(X − mean_)·components_ᵀ, divided by √explained_variance_ when whiten, in X's dtype."""
        fname = "PCA.transform"
        self._fitted(fname)
        x = self._x(X, fname)
        y = (x.astype(np.float64) - self.mean_) @ self.components_.T
        if self.whiten:
            y /= np.sqrt(self.explained_variance_)
        return y.astype(x.dtype, copy=False)

    def inverse_transform(self, X):
        """Back to feature space: X·(√explained_variance_ when whiten)·components_ + mean_."""
        self._fitted("PCA.inverse_transform")
        x = _array(X, "PCA.inverse_transform")
        if x.ndim != 2 or x.shape[1] != self.n_components_:
            raise ValueError(f"PCA.inverse_transform: X must have shape (n, {self.n_components_}), got {x.shape}")
        y = x.astype(np.float64)
        if self.whiten:
            y = y * np.sqrt(self.explained_variance_)
        return (y @ self.components_ + self.mean_).astype(x.dtype, copy=False)


class Whitening(_CovarianceEstimator):
    """Decorrelate features and give them unit variance: y = (x − mean_)·whitening_matrix_ᵀ with the biased
    covariance Σ = U·diag(λ)·Uᵀ (/n) and
    - ``method="pca"``: W = diag(1/√(λ + eps))·Uᵀ (rotated onto the principal axes);
    - ``method="zca"``: W = U·diag(1/√(λ + eps))·Uᵀ (symmetric: the whitened data closest to the input, Bell &
      Sejnowski 1997).
    ``eps`` regularizes small eigenvalues. Attributes ``mean_``, ``whitening_matrix_`` (n_features, n_features),
    ``n_samples_seen_``.
    """

    def __init__(self, method="zca", eps=1e-5):
        self.method = method
        self.eps = eps

    def _check_params(self, fname, n_features):
        if self.method not in ("zca", "pca"):
            raise ValueError(f"{fname}: method must be 'zca' or 'pca', got {self.method!r}")
        eps = self.eps
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
            raise TypeError(f"{fname}: eps must be a real number, got {type(eps).__name__}")
        if not eps >= 0:
            raise ValueError(f"{fname}: eps must be >= 0, got {eps}")

    def _update(self):
        w, u = self._eigh(ddof=0)
        d = 1.0 / np.sqrt(w + float(self.eps))
        pca = d[:, None] * u.T
        self.whitening_matrix_ = pca if self.method == "pca" else u @ pca

    def transform(self, X):
        """(X − mean_)·whitening_matrix_ᵀ, in X's dtype."""
        fname = "Whitening.transform"
        self._check_fitted(fname)
        x = self._x(X, fname)
        return ((x.astype(np.float64) - self.mean_) @ self.whitening_matrix_.T).astype(x.dtype, copy=False)

    def inverse_transform(self, X):
        """X·(whitening_matrix_ᵀ)⁻¹ + mean_, in X's dtype."""
        fname = "Whitening.inverse_transform"
        self._check_fitted(fname)
        x = self._x(X, fname)
        y = np.linalg.solve(self.whitening_matrix_, x.astype(np.float64).T).T
        return (y + self.mean_).astype(x.dtype, copy=False)
