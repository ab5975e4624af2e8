"""nc.lab reproduces the lecture's experiments (seeded, tolerant of sampling noise): activation tables, vanishing
gradients, saturation, BatchNorm's speed-up; the MLP's backward against finite differences; the lab CLI."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import normcore as nc
from normcore import __main__ as cli
from normcore.lab import activation_statistics, batchnorm_effect, gradient_flow, saturation
from normcore.lab._mlp import MLP, cross_entropy


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


# ---------------------------------------------------------------- gradient_flow

def _weight_grads(**kw):
    return np.array([r["weight_grad_norm"] for r in gradient_flow(depth=8, width=200, batch=300, **kw)])


def test_vanishing_gradients_with_sigmoid_and_small_init():
    for init in ("xavier", "small"):
        g = _weight_grads(init=init, activation="sigmoid")
        assert g[0] < 1e-3 * g[-1]  # orders of magnitude smaller towards the input
        assert all(a < b for a, b in zip(g, g[1:]))
    # small + tanh: ∂L/∂h shrinks ×~0.14 per layer towards the input, and every ∂L/∂W is tiny (the activations it
    # multiplies shrink as fast the other way)
    small = gradient_flow(depth=8, width=200, batch=300, init="small", activation="tanh")
    dh = [r["grad_std"] for r in small]
    assert dh[0] < 1e-5 * dh[-1]
    assert max(r["weight_grad_norm"] for r in small) < 1e-4 * min(_weight_grads(init="xavier", activation="tanh"))


def test_healthy_gradients_with_he_relu_and_with_batchnorm():
    rows = gradient_flow(depth=8, width=200, batch=300, init="he", activation="relu")
    dh = np.array([r["grad_std"] for r in rows])
    assert dh.max() < 1.5 * dh.min()  # ∂L/∂h keeps its scale through the layers
    g = np.array([r["weight_grad_norm"] for r in rows])
    assert g.min() > g.max() / 30  # (∂L/∂W grows with depth as ReLU features align, but does not vanish)
    for init in ("small", "xavier"):
        g = _weight_grads(init=init, activation="sigmoid", batchnorm=True)
        assert g.max() < 3 * g.min()
    # without BatchNorm the network equals activation_statistics' one for the same seed
    stats = activation_statistics(depth=8, width=200, batch=300, init="he", activation="relu", seed=0)
    assert [r["act_std"] for r in rows] == [r["std"] for r in stats]
    assert [r["layer"] for r in rows] == list(range(1, 9))


def test_gradient_flow_seed_and_errors():
    a = gradient_flow(depth=2, width=16, batch=8, seed=1)
    assert a == gradient_flow(depth=2, width=16, batch=8, seed=1) != gradient_flow(depth=2, width=16, batch=8, seed=2)
    with pytest.raises(ValueError, match="depth must be a positive int"):
        gradient_flow(depth=-1)
    with pytest.raises(TypeError, match="batchnorm must be a bool"):
        gradient_flow(batchnorm="yes")
    with pytest.raises(ValueError, match="batchnorm needs batch >= 2"):
        gradient_flow(batch=1, batchnorm=True)
    with pytest.raises(ValueError, match="unknown init 'kaiming'"):
        gradient_flow(init="kaiming")
    with pytest.raises(ValueError, match="activation 'maxout' changes the layer's shape"):
        gradient_flow(depth=1, width=8, batch=4, activation=nc.activation("maxout", pieces=2))
    leaky = gradient_flow(depth=2, width=16, batch=8, activation=nc.activation("leaky_relu", negative_slope=0.3))
    assert leaky != gradient_flow(depth=2, width=16, batch=8, activation="leaky_relu")


# ---------------------------------------------------------------- the MLP's backward

@pytest.mark.parametrize("batchnorm", [False, True])
def test_mlp_backward_matches_finite_differences(batchnorm):
    gen = np.random.default_rng(5)
    x, labels = gen.standard_normal((6, 4)), gen.integers(3, size=6)
    net = MLP([gen.standard_normal((5, 4)), gen.standard_normal((5, 5)), gen.standard_normal((3, 5))],
              nc.activation("tanh"), batchnorm=batchnorm)
    for i, b in enumerate(net.biases):  # non-zero biases and BatchNorm parameters, so their gradients are tested
        if b is not None:
            b[:] = gen.standard_normal(b.shape)
        if net.bn[i] is not None:
            net.bn[i]["weight"][:] = 1 + 0.5 * gen.standard_normal(5)
            net.bn[i]["bias"][:] = gen.standard_normal(5)

    def loss():
        return cross_entropy(net.forward(x), labels)[0]

    grads = net.backward(cross_entropy(net.forward(x), labels)[1])
    params = [(w, d["weight"]) for w, d in zip(net.weights, grads)]
    params += [(b, d["bias"]) for b, d in zip(net.biases, grads) if b is not None]
    params += [(bn[k], d["bn_" + k]) for bn, d in zip(net.bn, grads) if bn is not None for k in ("weight", "bias")]
    assert len(params) == (8 if batchnorm else 6)
    for p, g in params:
        numeric = np.zeros_like(p)
        for j in np.ndindex(p.shape):
            keep = p[j]
            p[j] = keep + 1e-6
            up = loss()
            p[j] = keep - 1e-6
            down = loss()
            p[j] = keep
            numeric[j] = (up - down) / 2e-6
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- saturation

def test_saturation_grows_with_input_std():
    rows = saturation((0.5, 1.0, 3.0, 10.0), "sigmoid", width=100, batch=200)
    f = [r["saturated_fraction"] for r in rows]
    assert f[0] == 0 and f[1] < 0.01 and all(a < b for a, b in zip(f, f[1:])) and f[-1] > 0.6
    assert [r["input_std"] for r in rows] == [0.5, 1.0, 3.0, 10.0]
    assert abs(rows[2]["preact_std"] - 3.0) < 0.2  # Xavier keeps the input scale
    # sigmoid: |f'| <= 0.1·max ⟺ |z| >= 3.64 (about 22.5 % of N(0, 3²), 71 % of N(0, 10²))
    assert abs(f[2] - 0.225) < 0.03 and abs(f[3] - 0.716) < 0.03
    tanh = [r["saturated_fraction"] for r in saturation((1.0, 3.0), "tanh", width=100, batch=200)]
    assert 0.05 < tanh[0] < tanh[1]
    relu = [r["saturated_fraction"] for r in saturation((1.0, 3.0), "relu", width=100, batch=200)]
    assert all(abs(v - 0.5) < 0.02 for v in relu)  # the flat (dead) half, for any scale
    assert saturation(2.0, "identity", width=10, batch=10)[0]["saturated_fraction"] == 0
    assert saturation(2.0, "binary_step", width=10, batch=10)[0]["saturated_fraction"] == 1


def test_saturation_errors():
    with pytest.raises(ValueError, match="input_std must be a positive finite number"):
        saturation((1.0, -2.0))
    with pytest.raises(TypeError, match="input_std must be a number"):
        saturation(("1",))
    with pytest.raises(ValueError, match="'softmax' has no elementwise derivative"):
        saturation(activation="softmax")
    with pytest.raises(ValueError, match="'maxout' has no elementwise derivative"):
        saturation(activation=nc.activation("maxout", pieces=2))
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\)"):
        saturation(threshold=1.5)


# ---------------------------------------------------------------- batchnorm_effect

def test_batchnorm_speeds_up_sigmoid_training():
    pytest.importorskip("sklearn")
    ticks = []
    rows = batchnorm_effect(("sigmoid",), ("xavier",), depth=3, width=32, epochs=4, target=0.8,
                            progress=lambda done, total: ticks.append((done, total)))
    without, with_bn = rows
    assert (without["batchnorm"], with_bn["batchnorm"]) == (False, True)
    assert with_bn["steps_to_target"] is not None and with_bn["final_accuracy"] > 0.85
    assert without["steps_to_target"] is None or without["steps_to_target"] > 2 * with_bn["steps_to_target"]
    assert with_bn["final_loss"] < without["final_loss"] and not with_bn["diverged"]
    steps = 4 * (1438 // 32)
    for r in rows:
        assert len(r["loss"]) == steps and r["eval_steps"][0] == 0 and r["eval_steps"][-1] == steps
        assert len(r["accuracy"]) == len(r["eval_steps"]) and all(0 <= a <= 1 for a in r["accuracy"])
    assert ticks[-1] == (2 * steps, 2 * steps) and ticks == sorted(ticks)
    again = batchnorm_effect(("sigmoid",), ("xavier",), depth=3, width=32, epochs=4, target=0.8)
    assert [r["loss"] for r in again] == [r["loss"] for r in rows]  # deterministic for a seed


def test_batchnorm_effect_errors(monkeypatch):
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match="unknown init 'big'"):
        batchnorm_effect(inits=("big",))
    with pytest.raises(TypeError, match="activations must be a name or a non-empty tuple"):
        batchnorm_effect(activations=())
    with pytest.raises(ValueError, match="target must be an accuracy"):
        batchnorm_effect(target=0)
    with pytest.raises(ValueError, match="lr must be a positive"):
        batchnorm_effect(lr=0.0)
    with pytest.raises(ValueError, match="batch must be in"):
        batchnorm_effect(batch=1)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="needs scikit-learn"):
        batchnorm_effect()


# ---------------------------------------------------------------- CLI

CLI_RUNS = {
    "init": ["--depth", "3", "--width", "20", "--batch", "30"],
    "gradients": ["--depth", "3", "--width", "20", "--batch", "30", "--activation", "sigmoid", "--batchnorm"],
    "saturation": ["--input-std", "1", "4"],
    "batchnorm": ["--activations", "sigmoid", "--inits", "xavier", "--epochs", "1", "--depth", "2"],
}


@pytest.mark.parametrize("experiment", list(CLI_RUNS))
def test_cli_prints_table_and_writes_png(experiment, tmp_path, capsys):
    if experiment == "batchnorm":
        pytest.importorskip("sklearn")
    assert cli.main(["lab", experiment, "--seed", "1"] + CLI_RUNS[experiment]) == 0
    out = capsys.readouterr().out
    header = {"init": "layer", "gradients": "weight_grad_norm", "saturation": "saturated_fraction",
              "batchnorm": "steps_to_target"}[experiment]
    assert header in out and len(out.strip().splitlines()) >= 3
    pytest.importorskip("matplotlib")
    png = tmp_path / f"{experiment}.png"
    assert cli.main(["lab", experiment, "--plot", str(png)] + CLI_RUNS[experiment]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_errors(tmp_path, capsys, monkeypatch):
    assert cli.main(["lab", "init", "--activation", "tanhh"]) == 2
    assert "unknown name 'tanhh'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["lab", "nothing"])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert cli.main(["lab", "saturation", "--plot", str(tmp_path / "s.png")]) == 2
    assert "--plot needs matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_progress_bar_shows_after_delay():
    import io

    from normcore.lab.cli import ProgressBar

    quiet = io.StringIO()
    bar = ProgressBar("x", stream=quiet, delay=60)
    bar(1, 4)
    assert quiet.getvalue() == ""
    bar(4, 4)
    bar(4, 4)
    assert quiet.getvalue() == "\rx [" + "#" * 30 + "] 4/4\n"
    shown = io.StringIO()
    bar = ProgressBar("y", stream=shown, delay=0, width=4)
    bar(1, 2)
    assert shown.getvalue() == "\ry [##  ] 1/2"
