"""nc.lab.activation_statistics reproduces the lecture's activation tables (seeded, tolerant of sampling noise)."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc
from normcore.lab import activation_statistics


def _stds(**kw):
    return [r["std"] for r in activation_statistics(**kw)]


def test_lecture_tables():
    small = _stds(init="small", activation="tanh")
    assert abs(small[0] - 0.21) < 0.02 and small[-1] < 1e-5  # collapses to 0 (×≈0.22 per layer)
    large = _stds(init="large", activation="tanh")
    assert all(abs(s - 0.98) < 0.01 for s in large)  # saturated at ±1
    xavier = _stds(init="xavier", activation="tanh")
    assert abs(xavier[0] - 0.63) < 0.02 and abs(xavier[-1] - 0.23) < 0.04
    assert all(a > b for a, b in zip(xavier, xavier[1:]))  # decays layer by layer
    xr = _stds(init="xavier", activation="relu")
    assert xr[-1] < 0.05 and xr[-1] < xr[0] / 10  # collapses
    he = _stds(init="he", activation="relu")
    assert all(abs(s - 0.82) < 0.08 for s in he)  # keeps std ≈ 0.8


def test_rows_histograms_seed_and_nc_init_names():
    rows = activation_statistics(depth=3, width=50, batch=64, init="orthogonal", activation="sigmoid", seed=3)
    assert [r["layer"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert r["hist_counts"].sum() == 64 * 50 and len(r["hist_edges"]) == 51
        assert 0 < r["mean"] < 1
    again = activation_statistics(depth=3, width=50, batch=64, init="orthogonal", activation="sigmoid", seed=3)
    assert [r["std"] for r in again] == [r["std"] for r in rows]
    other = activation_statistics(depth=3, width=50, batch=64, init="orthogonal", activation="sigmoid", seed=4)
    assert [r["std"] for r in other] != [r["std"] for r in rows]


def test_errors():
    with pytest.raises(ValueError, match="unknown init 'gaussian'"):
        activation_statistics(init="gaussian")
    with pytest.raises(ValueError, match="unknown name 'tanhh'"):
        activation_statistics(activation="tanhh")
    with pytest.raises(ValueError, match="depth must be a positive int"):
        activation_statistics(depth=0)
    with pytest.raises(TypeError, match="init must be a str"):
        activation_statistics(init=None)
    assert nc.lab.activation_statistics is activation_statistics
    assert np.isfinite(activation_statistics(depth=1, width=4, batch=4)[0]["std"])
