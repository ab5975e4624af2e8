"""The lab: the classic experiments of the lecture material, reproduced with normcore's kernels.

Implemented: ``activation_statistics`` (per-layer activation mean / std / histogram through a deep MLP for an
initialization and an activation).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import init as _init
from ..registry import activation as _activation

__all__ = ["activation_statistics"]

# init name → std multiplier of N(0, 1) weights for fan_in inputs (the lecture's four schemes)
_LECTURE_INITS = {
    "small": lambda fan_in: 0.01,
    "large": lambda fan_in: 1.0,
    "xavier": lambda fan_in: 1.0 / np.sqrt(fan_in),
    "he": lambda fan_in: np.sqrt(2.0 / fan_in),
}
# nc.init names that build a weight from its shape alone
_SHAPE_INITS = ("uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
                "lecun_uniform", "lecun_normal", "orthogonal", "trunc_normal", "glorot_uniform", "glorot_normal",
                "he_uniform", "he_normal", "eye", "zeros", "ones")


def _positive_int(value, fname, pname):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{fname}: {pname} must be a positive int, got {value!r}")
    return int(value)


def activation_statistics(depth=10, width=500, batch=1000, init="xavier", activation="tanh", seed=0, *,
                          bins=50) -> list[dict]:
    """Forward a batch x ~ N(0, 1) of shape (batch, width) through ``depth`` layers h ← act(h·Wᵀ), W: (width,
    width), and return one row per layer: ``{"layer", "mean", "std", "hist_counts", "hist_edges"}`` (histogram
    of the layer's activations, ``bins`` bins over their range).

    ``init``: "small" (0.01·N(0,1)), "large" (1.0·N(0,1)), "xavier" (N(0,1)/√fan_in), "he" (N(0,1)·√(2/fan_in)),
    or the name of an ``nc.init`` initializer that needs only a shape (e.g. "orthogonal", "kaiming_uniform").
    ``activation``: any name of ``nc.ACTIVATIONS`` taking no required parameter. Deterministic for a ``seed``.

    The lecture's observations (500 units, 10 layers, batch 1000): small+tanh collapses to 0; large+tanh
    saturates (std ≈ 0.98); Xavier+tanh decays from ≈0.63 to ≈0.23; Xavier+ReLU collapses; He+ReLU keeps std ≈ 0.8.
    """
    fname = "activation_statistics"
    depth = _positive_int(depth, fname, "depth")
    width = _positive_int(width, fname, "width")
    batch = _positive_int(batch, fname, "batch")
    bins = _positive_int(bins, fname, "bins")
    if not isinstance(init, str):
        raise TypeError(f"{fname}: init must be a str, got {type(init).__name__}")
    if init not in _LECTURE_INITS and init not in _SHAPE_INITS:
        raise ValueError(f"{fname}: unknown init {init!r}; expected one of "
                         f"{', '.join(list(_LECTURE_INITS) + list(_SHAPE_INITS))}")
    act = _activation(activation)
    gen = np.random.default_rng(seed)
    h = gen.standard_normal((batch, width))
    rows = []
    for layer in range(1, depth + 1):
        if init in _LECTURE_INITS:
            w = gen.standard_normal((width, width)) * _LECTURE_INITS[init](width)
        else:
            w = getattr(_init, init)((width, width), rng=gen, dtype=np.float64)
        h = act(h @ w.T)
        counts, edges = np.histogram(h, bins=bins)
        rows.append({"layer": layer, "mean": float(h.mean()), "std": float(h.std()),
                     "hist_counts": counts, "hist_edges": edges})
    return rows
