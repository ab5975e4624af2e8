"""Spectral normalization and gradient clipping, as ``torch.nn.utils`` does them, over NumPy arrays."""

from __future__ import annotations

import math

import numpy as np

from . import _core
from ._checks import integer, real

__all__ = ["spectral_norm", "clip_grad_norm_", "clip_grad_value_"]


def _grad_list(grads, fname: str) -> list:
    """A single ndarray or an iterable of ndarrays, each float32/float64 and writeable (they are scaled in place)."""
    if isinstance(grads, np.ndarray):
        grads = [grads]
    elif isinstance(grads, (str, bytes)) or not hasattr(grads, "__iter__"):
        raise TypeError(f"{fname}: grads must be an ndarray or an iterable of ndarrays, got {type(grads).__name__}")
    grads = list(grads)
    for i, g in enumerate(grads):
        if not isinstance(g, np.ndarray):
            raise TypeError(f"{fname}: grads[{i}] must be a numpy.ndarray, got {type(g).__name__}")
        if g.dtype not in (np.float32, np.float64):
            raise TypeError(f"{fname}: grads[{i}] has dtype {g.dtype}; only float32 and float64 are supported")
        if not g.flags.writeable:
            raise ValueError(f"{fname}: grads[{i}] is read-only; it is modified in place")
    return grads


def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False) -> float:
    """Scale ``grads`` in place so that their total ``norm_type``-norm is at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_``; returns the total norm (before clipping) as a float.

    total = (Σ_k Σ_i |g_k[i]|^p)^(1/p)   (p = inf: max |g|), the norm of all arrays seen as one vector;
    clip_coef = max_norm / (total + 1e-6), clamped to at most 1; every g *= clip_coef.

    The norm is one C++ pass over all arrays, accumulated in double in fixed blocks: bitwise identical for any
    thread count. Empty arrays add nothing (PyTorch refuses them with norm_type=inf). ``norm_type`` is a float > 0, ``inf`` or the string ``"inf"``. With ``error_if_nonfinite`` a
    NaN/±inf total raises RuntimeError (as PyTorch) and leaves ``grads`` untouched. An empty list returns 0.0.
    """
    fname = "clip_grad_norm_"
    grads = _grad_list(grads, fname)
    max_norm = real(max_norm, fname, "max_norm")
    if isinstance(norm_type, str):
        if norm_type.lower() != "inf":
            raise ValueError(f"{fname}: norm_type must be a positive number or 'inf', got {norm_type!r}")
        norm_type = math.inf
    p = real(norm_type, fname, "norm_type")
    if not p > 0:
        raise ValueError(f"{fname}: norm_type must be > 0 or inf, got {norm_type!r}")
    if not isinstance(error_if_nonfinite, (bool, np.bool_)):
        raise TypeError(f"{fname}: error_if_nonfinite must be a bool, got {type(error_if_nonfinite).__name__}")
    if not grads:
        return 0.0
    s = _core.sum_abs_pow(grads, p)
    total = s if math.isinf(p) else s ** (1.0 / p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"{fname}: the total norm of order {p} of the gradients is non-finite ({total}), so it cannot be "
            "clipped; pass error_if_nonfinite=False to clip anyway")
    coef = min(max_norm / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    with np.errstate(invalid="ignore"):  # inf · 0 = NaN, as PyTorch, without NumPy's warning
        for g in grads:
            g *= g.dtype.type(coef)
    return float(total)


def clip_grad_value_(grads, clip_value) -> None:
    """Clamp every element of ``grads`` to [-clip_value, clip_value] in place, as
    ``torch.nn.utils.clip_grad_value_`` (NaN stays NaN). ``clip_value`` must be >= 0 (ValueError otherwise;
    PyTorch accepts a negative value and sets every element to it)."""
    fname = "clip_grad_value_"
    grads = _grad_list(grads, fname)
    c = real(clip_value, fname, "clip_value")
    if not c >= 0:
        raise ValueError(f"{fname}: clip_value must be >= 0, got {clip_value!r}")
    for g in grads:
        np.clip(g, -c, c, out=g)


def _normalize(v: np.ndarray, eps: float) -> np.ndarray:
    """v / max(||v||_2, eps), torch.nn.functional.normalize."""
    return v / max(float(np.linalg.norm(v)), eps)


def spectral_norm(weight, u=None, *, n_power_iterations=1, eps=1e-12, dim=0, rng=None):
    """Spectral normalization (Miyato et al. 2018, "Spectral Normalization for GANs"), one call of the power
    iteration of ``torch.nn.utils.spectral_norm`` in training mode. Returns ``(weight / σ, u, σ)``.

    W = weight with axis ``dim`` moved first and reshaped to (h, w) = (weight.shape[dim], -1); then
    ``n_power_iterations`` times: v = normalize(Wᵀu), u = normalize(W v)  (normalize(x) = x / max(‖x‖₂, eps));
    σ = uᵀ W v. Keep the returned ``u`` and pass it back at the next step, as PyTorch keeps its ``weight_u``
    buffer. ``u=None`` starts from a random unit vector drawn with ``rng`` (a numpy Generator or a seed).

    ``weight`` is float32 or float64 with at least 1 dimension; the iteration runs in float64 and the
    results (weight / σ and u, σ a float) are returned in the weight's dtype.
    """
    fname = "spectral_norm"
    w = np.asarray(weight)
    if w.dtype not in (np.float32, np.float64):
        raise TypeError(f"{fname}: weight has dtype {w.dtype}; only float32 and float64 are supported")
    if w.ndim < 1:
        raise ValueError(f"{fname}: weight must have at least 1 dimension, got shape {w.shape}")
    n_it = integer(n_power_iterations, fname, "n_power_iterations")
    if n_it < 1:
        raise ValueError(f"{fname}: n_power_iterations must be >= 1, got {n_it}")
    eps = real(eps, fname, "eps")
    if not eps > 0:
        raise ValueError(f"{fname}: eps must be > 0, got {eps}")
    dim = integer(dim, fname, "dim")
    if not -w.ndim <= dim < w.ndim:
        raise ValueError(f"{fname}: dim {dim} is out of range for weight of shape {w.shape}")
    mat = np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1).astype(np.float64)
    h = mat.shape[0]
    if u is None:
        from .init import _generator

        u64 = _normalize(_generator(rng, fname).standard_normal(h), eps)
    else:
        u64 = np.asarray(u)
        if u64.dtype not in (np.float32, np.float64):
            raise TypeError(f"{fname}: u has dtype {u64.dtype}; only float32 and float64 are supported")
        if u64.shape != (h,):
            raise ValueError(f"{fname}: u has shape {u64.shape}, expected ({h},) for weight of shape {w.shape} "
                             f"and dim={dim}")
        u64 = u64.astype(np.float64)
    for _ in range(n_it):
        v = _normalize(mat.T @ u64, eps)
        u64 = _normalize(mat @ v, eps)
    sigma = float(u64 @ (mat @ v))
    return (w / w.dtype.type(sigma)).astype(w.dtype, copy=False), u64.astype(w.dtype), sigma
