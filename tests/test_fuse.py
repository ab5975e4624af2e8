"""Model-level folding: nc.fuse.fuse_torch against the original model, nc.fuse.fold_onnx under ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc


# ------------------------------------------------------------------------------------------------ PyTorch

def _resnet_like(torch):
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, groups=2, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.down = None
            if stride != 1 or c_in != c_out:
                self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.layer1 = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2))
            self.up = nn.ConvTranspose2d(16, 8, 2, stride=2, groups=2)
            self.up_bn = nn.BatchNorm2d(8)
            self.fc = nn.Linear(8, 6)
            self.fc_bn = nn.BatchNorm1d(6)
            self.head = nn.Linear(6, 3)

        def forward(self, x):
            x = self.layer1(self.stem(x))
            x = torch.relu(self.up_bn(self.up(x)))
            x = x.mean(dim=(2, 3))
            return self.head(torch.relu(self.fc_bn(self.fc(x))))

    return Net()


def _randomize(torch, model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                C = m.num_features
                m.running_mean.copy_(torch.randn(C, generator=gen) * 0.5)
                m.running_var.copy_(torch.rand(C, generator=gen) * 2 + 0.1)
                m.weight.copy_(torch.randn(C, generator=gen))
                m.bias.copy_(torch.randn(C, generator=gen))


def test_fuse_torch_resnet_like():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = _resnet_like(torch)
    _randomize(torch, model, 1)
    model.train()  # the input's mode must not matter, nor be changed
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = []
    fused = nc.fuse.fuse_torch(model, report=report)
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    bn_left = [n for n, m in fused.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert all(".bn" in n and "fc_bnfold" in n for n in bn_left)  # only the 3-D fallback of the folded Linear
    assert len(report) == 8  # stem, 2×2 block convs, downsample, transposed conv, fc
    assert not fused.training
    x = torch.randn(2, 3, 12, 12)
    model.eval()
    with torch.no_grad():
        ref, got = model(x), fused(x)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())


def test_fuse_torch_linear_3d_activation():
    """BatchNorm1d(L) after Linear(·, L) on (N, L, L): BN normalizes dim 1, the folded form would be wrong."""
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4))
    _randomize(torch, model, 3)
    fused = nc.fuse.fuse_torch(model)
    model.eval()
    with torch.no_grad():
        for x in (torch.randn(3, 5), torch.randn(3, 4, 5)):
            torch.testing.assert_close(fused(x), model(x), rtol=1e-5, atol=1e-5)


def test_fuse_torch_keeps_what_it_cannot_fold():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Shared(nn.Module):  # the conv output has two users: not foldable
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(3, 4, 3)
            self.bn = nn.BatchNorm1d(4)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y

    model = Shared()
    _randomize(torch, model, 2)
    fused = nc.fuse.fuse_torch(model)
    assert any(isinstance(m, nn.BatchNorm1d) for m in fused.modules())
    x = torch.randn(2, 3, 9)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nc.fuse.fuse_torch(object())


# ------------------------------------------------------------------------------------------------ ONNX

def _ort_run(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _bn(helper, numpy_helper, rng, name, x, y, C, inits):
    for suffix, v in (("s", rng.standard_normal(C)), ("b", rng.standard_normal(C)),
                      ("m", rng.standard_normal(C)), ("v", rng.random(C) + 0.1)):
        inits.append(numpy_helper.from_array(v.astype(np.float32), f"{name}_{suffix}"))
    return helper.make_node("BatchNormalization", [x, f"{name}_s", f"{name}_b", f"{name}_m", f"{name}_v"], [y],
                            name=name, epsilon=1e-3)


def _graph_model():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    inits = [numpy_helper.from_array(f32(6, 2, 3, 3), "W1"), numpy_helper.from_array(f32(6), "B1"),
             numpy_helper.from_array(f32(6, 2, 2, 2), "W2"),  # ConvTranspose 6 → 6, group 3: (C_in, C_out/g, k, k)
             numpy_helper.from_array(f32(5, 6), "W3"),  # Gemm transB=1: (N, K)
             numpy_helper.from_array(f32(5, 4), "W4"), numpy_helper.from_array(f32(4), "C4")]  # transB=0: (K, N)
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="conv1", group=2, pads=[1, 1, 1, 1]),
        _bn(helper, numpy_helper, rng, "bn1", "c1", "b1", 6, inits),
        helper.make_node("Relu", ["b1"], ["r1"]),
        helper.make_node("ConvTranspose", ["r1", "W2"], ["c2"], name="deconv", group=3, strides=[2, 2]),
        _bn(helper, numpy_helper, rng, "bn2", "c2", "b2", 6, inits),
        helper.make_node("GlobalAveragePool", ["b2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "W3"], ["g1"], name="gemm1", transB=1, alpha=0.5),
        _bn(helper, numpy_helper, rng, "bn3", "g1", "b3", 5, inits),
        helper.make_node("Gemm", ["b3", "W4", "C4"], ["g2"], name="gemm2", alpha=1.5, beta=0.7),
        _bn(helper, numpy_helper, rng, "bn4", "g2", "b4", 4, inits),
        # g2 feeds bn4 only; a conv whose output has two readers is left alone:
        helper.make_node("Conv", ["x", "W1"], ["c5"], name="conv5", group=2),
        _bn(helper, numpy_helper, rng, "bn5", "c5", "b5", 6, inits),
        helper.make_node("Add", ["b5", "c5"], ["y2"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 7, 7])],
                              [helper.make_tensor_value_info("b4", TensorProto.FLOAT, [2, 4]),
                               helper.make_tensor_value_info("y2", TensorProto.FLOAT, [2, 6, 5, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_fold_onnx_against_onnxruntime():
    onnx = pytest.importorskip("onnx")
    model = _graph_model()
    original = model.SerializeToString()
    report = []
    folded = nc.fuse.fold_onnx(model, report=report)
    assert model.SerializeToString() == original  # input untouched
    onnx.checker.check_model(folded)
    ops = [n.op_type for n in folded.graph.node]
    assert ops.count("BatchNormalization") == 1  # bn5 stays
    assert len(report) == 4
    x = np.random.default_rng(4).standard_normal((2, 4, 7, 7)).astype(np.float32)
    ref = _ort_run(model, {"x": x})
    got = _ort_run(folded, {"x": x})
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())


def test_fold_onnx_skips_overridable_parameters():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    model = _graph_model()
    # bn1's mean becomes a graph input with a default: not constant, so bn1 stays
    model.graph.input.append(helper.make_tensor_value_info("bn1_m", TensorProto.FLOAT, [6]))
    report = []
    folded = nc.fuse.fold_onnx(model, report=report)
    assert [n.name for n in folded.graph.node if n.op_type == "BatchNormalization"] == ["bn1", "bn5"]
    assert len(report) == 3
    x = np.random.default_rng(5).standard_normal((2, 4, 7, 7)).astype(np.float32)
    for r, g in zip(_ort_run(model, {"x": x}), _ort_run(folded, {"x": x})):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())


def test_fold_onnx_cli(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from normcore.__main__ import main

    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(_graph_model(), str(src))
    assert main(["fuse", str(src), "-o", str(dst)]) == 0
    out = capsys.readouterr().out
    assert "folded BatchNormalization bn1 into Conv conv1" in out and "4 BatchNormalization" in out
    onnx.checker.check_model(onnx.load(str(dst)))
    with pytest.raises(TypeError, match="ModelProto"):
        nc.fuse.fold_onnx(3)


def test_fold_onnx_torch_export():
    """A ResNet-like model exported by torch.onnx (BatchNormalization nodes kept), folded, run under ORT."""
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import io
    import warnings

    torch.manual_seed(1)
    model = _resnet_like(torch)
    _randomize(torch, model, 4)
    model.eval()
    x = torch.randn(2, 3, 12, 12)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), buf, dynamo=False, do_constant_folding=False, input_names=["x"])
    except Exception as e:  # pragma: no cover - exporter unavailable in this environment
        pytest.skip(f"torch.onnx.export unavailable: {e}")
    exported = onnx.load_from_string(buf.getvalue())
    assert [n.op_type for n in exported.graph.node].count("BatchNormalization") == 8
    report = []
    folded = nc.fuse.fold_onnx(exported, report=report)
    assert len(report) == 8 and all(n.op_type != "BatchNormalization" for n in folded.graph.node)
    with torch.no_grad():
        want = model(x).numpy()
    (got,) = _ort_run(folded, {"x": x.numpy()})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
