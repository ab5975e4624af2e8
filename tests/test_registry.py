"""nc.activation(name, **params) / nc.ACTIVATIONS: every name resolves, binds its parameters and computes
exactly what the named functions compute."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc

# Parameters a name needs (no default), and non-default ones to check that binding works.
REQUIRED = {
    "prelu": {"weight": np.array([0.25, -0.5, 0.1])},
    "maxout": {"pieces": 3},
}
NON_DEFAULT = {
    "leaky_relu": {"negative_slope": 0.2},
    "elu": {"alpha": 0.5},
    "softplus": {"beta": 2.0, "threshold": 5.0},
    "gelu": {"approximate": "tanh"},
    "hardtanh": {"min_val": -2.0, "max_val": 0.5},
    "swish": {"beta": 1.5},
    "softmax": {"axis": 1},
}


def test_names_are_the_catalog():
    assert len(set(nc.ACTIVATIONS)) == len(nc.ACTIVATIONS) >= 33
    for name in nc.ACTIVATIONS:
        assert callable(getattr(nc, name)) and callable(getattr(nc, name + "_backward")), name


@pytest.mark.parametrize("name", nc.ACTIVATIONS)
def test_forward_and_backward_match_the_functions(name, rng):
    x = rng.standard_normal((2, 3, 4)) * 2
    dy = rng.standard_normal((2, 1, 4) if name == "maxout" else x.shape)
    params = {**REQUIRED.get(name, {}), **NON_DEFAULT.get(name, {})}
    act = nc.activation(name, **params)
    assert act.name == name
    for k, v in params.items():
        assert act.params[k] is v
    fwd, bwd = getattr(nc, name), getattr(nc, name + "_backward")
    np.testing.assert_array_equal(act.forward(x), fwd(x, **params))
    np.testing.assert_array_equal(act(x), fwd(x, **params))
    got, want = act.backward(dy, x), bwd(dy, x, **params)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)
    out = np.empty_like(fwd(x, **params))
    assert act.forward(x, out=out) is out
    assert name in repr(act)


def test_params_show_defaults():
    act = nc.activation("softplus")
    assert act.params == {"beta": 1.0, "threshold": 20.0}
    assert nc.activation("relu").params == {}


def test_bad_names_and_parameters():
    with pytest.raises(ValueError, match="unknown name 'relu7'"):
        nc.activation("relu7")
    with pytest.raises(TypeError, match="name must be a str"):
        nc.activation(3)
    with pytest.raises(TypeError, match="unknown parameter.*slope"):
        nc.activation("leaky_relu", slope=0.1)
    with pytest.raises(TypeError, match="missing parameter.*pieces"):
        nc.activation("maxout")
    with pytest.raises(TypeError, match="real number"):
        nc.activation("elu", alpha="big").forward(np.ones(3))
