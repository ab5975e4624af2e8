"""nc.fold_batchnorm against PyTorch modules in eval mode (layer → BatchNorm and BatchNorm → Linear)."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc

torch = pytest.importorskip("torch")

DTYPES = [(np.float32, torch.float32, 1e-5), (np.float64, torch.float64, 1e-12)]


def _randomize_bn(bn, gen, affine=True):
    C = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(C, generator=gen, dtype=torch.float64) * 2)
        bn.running_var.copy_(torch.rand(C, generator=gen, dtype=torch.float64) * 3 + 0.05)
        if affine:
            bn.weight.copy_(torch.randn(C, generator=gen, dtype=torch.float64))
            bn.bias.copy_(torch.randn(C, generator=gen, dtype=torch.float64))
    return bn


def _np(t):
    return None if t is None else t.detach().numpy()


def _check(layer, bn, x, tol, **kw):
    """layer → bn (or bn → layer with position='before') equals the folded layer."""
    layer.eval(), bn.eval()
    before = kw.get("position") == "before"
    with torch.no_grad():
        ref = layer(bn(x)) if before else bn(layer(x))
        fw, fb = nc.fold_batchnorm(_np(layer.weight), _np(layer.bias), _np(bn.running_mean), _np(bn.running_var),
                                   _np(bn.weight), _np(bn.bias), bn.eps, **kw)
        assert fw.dtype == layer.weight.detach().numpy().dtype and fb.dtype == fw.dtype
        assert fw.shape == tuple(layer.weight.shape)
        layer.weight.copy_(torch.from_numpy(fw))
        if layer.bias is None:
            layer.bias = torch.nn.Parameter(torch.from_numpy(fb))
        else:
            layer.bias.copy_(torch.from_numpy(fb))
        got = layer(x)
    scale = ref.abs().max().item()
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=tol, atol=tol * scale)


CONVS = [
    # (module factory, input shape)
    (lambda b, dt: torch.nn.Conv1d(4, 6, 3, padding=1, bias=b, dtype=dt), (2, 4, 11)),
    (lambda b, dt: torch.nn.Conv2d(4, 6, 3, padding=1, bias=b, dtype=dt), (2, 4, 7, 6)),
    (lambda b, dt: torch.nn.Conv3d(3, 5, 2, bias=b, dtype=dt), (2, 3, 4, 5, 3)),
    (lambda b, dt: torch.nn.Conv2d(6, 9, 3, groups=3, bias=b, dtype=dt), (2, 6, 6, 6)),  # grouped
    (lambda b, dt: torch.nn.Conv2d(8, 8, 3, groups=8, padding=1, bias=b, dtype=dt), (2, 8, 5, 5)),  # depthwise
    (lambda b, dt: torch.nn.Conv2d(4, 16, 1, groups=4, bias=b, dtype=dt), (1, 4, 3, 3)),  # depth multiplier 4
]


@pytest.mark.parametrize("dtypes", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", range(len(CONVS)))
def test_conv_then_bn(case, bias, dtypes):
    make, shape = CONVS[case]
    _, tdt, tol = dtypes
    gen = torch.Generator().manual_seed(case)
    conv = make(bias, tdt)
    bn_cls = {3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}[len(shape)]
    bn = _randomize_bn(bn_cls(conv.out_channels, dtype=tdt), gen)
    _check(conv, bn, torch.randn(shape, generator=gen, dtype=tdt), tol, kind="conv", groups=conv.groups)


TRANSPOSED = [
    (lambda b, dt: torch.nn.ConvTranspose1d(4, 6, 3, stride=2, bias=b, dtype=dt), (2, 4, 7)),
    (lambda b, dt: torch.nn.ConvTranspose2d(6, 4, 3, groups=2, stride=2, padding=1, bias=b, dtype=dt), (2, 6, 5, 4)),
    (lambda b, dt: torch.nn.ConvTranspose2d(4, 9, 2, groups=2 * 0 + 1, bias=b, dtype=dt), (1, 4, 3, 3)),
    (lambda b, dt: torch.nn.ConvTranspose2d(6, 9, 3, groups=3, bias=b, dtype=dt), (2, 6, 4, 4)),  # C_in ≠ C_out
    (lambda b, dt: torch.nn.ConvTranspose3d(4, 8, 2, groups=4, bias=b, dtype=dt), (1, 4, 3, 2, 3)),
]


@pytest.mark.parametrize("dtypes", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", range(len(TRANSPOSED)))
def test_conv_transpose_then_bn(case, bias, dtypes):
    make, shape = TRANSPOSED[case]
    _, tdt, tol = dtypes
    gen = torch.Generator().manual_seed(100 + case)
    conv = make(bias, tdt)
    bn_cls = {3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}[len(shape)]
    bn = _randomize_bn(bn_cls(conv.out_channels, dtype=tdt), gen)
    _check(conv, bn, torch.randn(shape, generator=gen, dtype=tdt), tol, kind="conv_transpose", groups=conv.groups)


@pytest.mark.parametrize("dtypes", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("position", ["after", "before"])
@pytest.mark.parametrize("affine", [True, False])
def test_linear(position, bias, dtypes, affine):
    _, tdt, tol = dtypes
    gen = torch.Generator().manual_seed(7)
    lin = torch.nn.Linear(13, 9, bias=bias, dtype=tdt)
    bn = _randomize_bn(torch.nn.BatchNorm1d(13 if position == "before" else 9, affine=affine, dtype=tdt), gen,
                       affine)
    _check(lin, bn, torch.randn(5, 13, generator=gen, dtype=tdt), tol, kind="linear", position=position)


def test_float64_reference_formula():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 2, 3)).astype(np.float32)  # ConvTranspose1d(6 → 4, groups=2): C_out/groups = 2
    mean, var = rng.standard_normal(4), rng.random(4) + 0.1
    g, b = rng.standard_normal(4), rng.standard_normal(4)
    fw, fb = nc.fold_batchnorm(w, None, mean, var, g, b, 1e-3, kind="conv_transpose", groups=2)
    s = g / np.sqrt(var + 1e-3)
    want = w.astype(np.float64).copy()
    for i in range(6):
        for j in range(2):
            want[i, j] *= s[(i // 3) * 2 + j]
    np.testing.assert_array_equal(fw, want.astype(np.float32))
    np.testing.assert_array_equal(fb, (b - mean * s).astype(np.float32))


def test_bad_input():
    w = np.ones((4, 3, 3, 3), np.float32)
    c4, c3 = np.ones(4), np.ones(3)
    with pytest.raises(ValueError, match=r"running_mean has shape \(3,\).*\(4,\)"):
        nc.fold_batchnorm(w, None, c3, c4, None, None)
    with pytest.raises(ValueError, match=r"bias has shape \(3,\)"):
        nc.fold_batchnorm(w, c3, c4, c4, None, None)
    with pytest.raises(ValueError, match="bn_weight"):
        nc.fold_batchnorm(w, None, c4, c4, c3, None)
    with pytest.raises(ValueError, match="before"):
        nc.fold_batchnorm(w, None, c3, c3, None, None, position="before")
    with pytest.raises(ValueError, match="kind"):
        nc.fold_batchnorm(w, None, c4, c4, None, None, kind="dense")
    with pytest.raises(ValueError, match="groups=2 does not divide"):
        nc.fold_batchnorm(np.ones((3, 2, 3), np.float32), None, np.ones(4), np.ones(4), None, None,
                          kind="conv_transpose", groups=2)
    with pytest.raises(ValueError, match="linear weight"):
        nc.fold_batchnorm(w, None, c4, c4, None, None, kind="linear")
    with pytest.raises(TypeError, match="int64"):
        nc.fold_batchnorm(w.astype(np.int64), None, c4, c4, None, None)
    with pytest.raises(ValueError, match="eps"):
        nc.fold_batchnorm(w, None, c4, c4, None, None, eps=-1.0)
    # the weight of a ConvTranspose2d(4 → 6, groups=2) is (4, 3, k, k): BN over 6 channels
    fw, fb = nc.fold_batchnorm(np.ones((4, 3, 2, 2)), None, np.zeros(6), np.ones(6), None, None,
                               kind="conv_transpose", groups=2, eps=0.0)
    assert fw.dtype == np.float64 and fb.shape == (6,)
