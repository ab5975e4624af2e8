"""Model-level BatchNorm folding for PyTorch modules and ONNX graphs (optional dependencies, imported lazily).

Both use :func:`normcore.fold_batchnorm` for the arithmetic.
"""

from __future__ import annotations

import copy

import numpy as np

from .inference import fold_batchnorm

__all__ = ["fuse_torch", "fold_onnx"]


# ------------------------------------------------------------------------------------------------ PyTorch

def _torch_layer_kind(torch, mod):
    nn = torch.nn
    if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return "conv", mod.out_channels
    if isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        return "conv_transpose", mod.out_channels
    if isinstance(mod, nn.Linear):
        return "linear", mod.out_features
    return None, 0


def _torch_fold(torch, layer, bn, kind):
    """A copy of ``layer`` with ``bn`` (eval mode) folded in."""
    fused = copy.deepcopy(layer)

    def np_(t):
        return None if t is None else t.detach().cpu().numpy()

    w, b = fold_batchnorm(np_(layer.weight), np_(layer.bias), np_(bn.running_mean), np_(bn.running_var),
                          np_(bn.weight), np_(bn.bias), bn.eps, kind=kind,
                          groups=getattr(layer, "groups", 1) if kind != "linear" else 1)
    ref = layer.weight
    fused.weight = torch.nn.Parameter(torch.from_numpy(w).to(device=ref.device), requires_grad=ref.requires_grad)
    fused.bias = torch.nn.Parameter(torch.from_numpy(b).to(device=ref.device), requires_grad=ref.requires_grad)
    return fused


_GUARDED = {}


def _guarded_linear(torch, fused, layer, bn):
    """Linear → BatchNorm1d folds only for 2-D activations (N, features): on (N, L, features) BatchNorm1d
    normalizes dim 1 instead. The folded layer runs for 2-D input, the original pair otherwise."""
    if "cls" not in _GUARDED:
        class FoldedLinear(torch.nn.Module):
            def __init__(self, fused, layer, bn):
                super().__init__()
                self.fused, self.layer, self.bn = fused, layer, bn

            def forward(self, x):
                return self.fused(x) if x.dim() == 2 else self.bn(self.layer(x))

        _GUARDED["cls"] = FoldedLinear
    return _GUARDED["cls"](fused, copy.deepcopy(layer), copy.deepcopy(bn))


def fuse_torch(model, *, report=None):
    """A new eval-mode ``torch.fx.GraphModule`` equal to ``model`` in eval mode, in which every Conv1d/2d/3d,
    ConvTranspose1d/2d/3d and Linear module directly followed by a BatchNorm module (with running statistics) is
    replaced by the folded layer and the BatchNorm removed. ``model`` is not modified.

    The layer's output must have no other user than the BatchNorm (residual blocks are fine: the sum comes after
    the BatchNorm). Linear → BatchNorm1d is folded when ``num_features`` equals ``out_features``; the folded layer
    runs for 2-D ``(N, features)`` activations and the original pair for 3-D ones (where BatchNorm1d normalizes
    dim 1, not the features). Tracing uses ``torch.fx.symbolic_trace``, so the model
    must be traceable. ``report``, a list, receives one ``(layer_name, bn_name)`` per fold.
    """
    import torch
    import torch.fx as fx

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"fuse_torch: model must be a torch.nn.Module, got {type(model).__name__}")
    model = copy.deepcopy(model).eval()
    gm = fx.symbolic_trace(model)
    modules = dict(gm.named_modules())
    bn_types = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(modules.get(node.target), bn_types):
            continue
        bn = modules[node.target]
        if bn.running_mean is None or bn.running_var is None or len(node.args) != 1 or node.kwargs:
            continue
        prev = node.args[0]
        if not isinstance(prev, fx.Node) or prev.op != "call_module" or len(prev.users) != 1:
            continue
        layer = modules[prev.target]
        kind, channels = _torch_layer_kind(torch, layer)
        if kind is None or channels != bn.num_features:
            continue
        fused = _torch_fold(torch, layer, bn, kind)
        if kind == "linear":
            fused = _guarded_linear(torch, fused, layer, bn)
        # the layer may be called elsewhere too: register the fused copy under a new name
        name = prev.target.replace(".", "_") + "_bnfold"
        while name in modules:
            name += "_"
        gm.add_submodule(name, fused)
        modules[name] = fused
        with gm.graph.inserting_after(prev):
            new = gm.graph.call_module(name, prev.args, prev.kwargs)
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
        gm.graph.erase_node(prev)
        if report is not None:
            report.append((prev.target, node.target))
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm.eval()


# ------------------------------------------------------------------------------------------------ ONNX

def _attr(node, name, default):
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _fold_onnx(model):
    """(folded copy of the model, [(producer name/op, bn name)])."""
    import onnx
    from onnx import numpy_helper

    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        model = onnx.load(model)
    elif isinstance(model, onnx.ModelProto):
        model = copy.deepcopy(model)
    else:
        raise TypeError(f"fold_onnx: expected an onnx.ModelProto or a path, got {type(model).__name__}")
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    graph_outputs = {o.name for o in g.output}

    def consumers(name):
        return [n for n in g.node if name in n.input]

    graph_inputs = {i.name for i in g.input}

    def const(name):
        """The initializer's value; None when absent or also a graph input (then a caller may override it)."""
        return numpy_helper.to_array(inits[name]) if name in inits and name not in graph_inputs else None

    def new_init(base, array):
        name = base + "_bnfold"
        while name in inits:
            name += "_"
        t = numpy_helper.from_array(array, name)
        g.initializer.append(t)
        inits[name] = t
        return name

    folded = []
    replaced = set()  # initializers that may have lost their last reader
    for bn in list(g.node):
        if bn.op_type != "BatchNormalization" or _attr(bn, "training_mode", 0):
            continue
        if any(o for o in bn.output[1:]) or len(bn.input) != 5:
            continue
        params = [const(n) for n in bn.input[1:]]
        if any(p is None for p in params):
            continue
        scale, bias_bn, mean, var = params
        eps = float(_attr(bn, "epsilon", 1e-5))
        producers = [n for n in g.node if bn.input[0] in n.output]
        if len(producers) != 1:
            continue
        prod = producers[0]
        x = prod.output[0]
        if len(consumers(x)) != 1 or x in graph_outputs or prod.op_type not in ("Conv", "ConvTranspose", "Gemm"):
            continue
        W = const(prod.input[1]) if len(prod.input) > 1 else None
        if W is None or W.dtype not in (np.float32, np.float64):
            continue
        has_b = len(prod.input) > 2 and prod.input[2] != ""
        B = const(prod.input[2]) if has_b else None
        if has_b and B is None:
            continue
        if prod.op_type in ("Conv", "ConvTranspose"):
            kind = "conv" if prod.op_type == "Conv" else "conv_transpose"
            group = int(_attr(prod, "group", 1))
            if W.ndim < 3:
                continue
            try:
                fw, fb = fold_batchnorm(W, B, mean, var, scale, bias_bn, eps, kind=kind, groups=group)
            except ValueError:
                continue
            new_b = fb
        else:  # Gemm: Y = alpha·A'·B' + beta·C; BN over Y's columns
            trans_a, trans_b = int(_attr(prod, "transA", 0)), int(_attr(prod, "transB", 0))
            alpha, beta = float(_attr(prod, "alpha", 1.0)), float(_attr(prod, "beta", 1.0))
            del trans_a
            Wl = W if trans_b else W.T  # (N, K)
            N = Wl.shape[0]
            if B is not None:
                if B.size == 1 or B.shape in ((N,), (1, N)):
                    B = np.broadcast_to(B.reshape(-1), (N,)).astype(np.float64) * beta
                else:
                    continue
            try:
                fw, fb = fold_batchnorm(np.ascontiguousarray(Wl), B, mean, var, scale, bias_bn, eps, kind="linear")
            except ValueError:
                continue
            # alpha scales A·B' only: the shift goes into C (with beta = 1)
            fw = fw if trans_b else np.ascontiguousarray(fw.T)
            new_b = fb.astype(W.dtype)
            for a in list(prod.attribute):
                if a.name == "beta":
                    prod.attribute.remove(a)
            prod.attribute.append(onnx.helper.make_attribute("beta", 1.0))
        replaced.update(bn.input[1:])
        replaced.update(prod.input[1:])
        prod.input[1] = new_init(prod.input[1], fw)
        b_name = new_init(prod.input[2] if has_b else (prod.name or prod.op_type) + "_bias", new_b)
        if has_b:
            prod.input[2] = b_name
        else:
            prod.input.append(b_name)
        prod.output[0] = bn.output[0]
        g.node.remove(bn)
        for vi in list(g.value_info):
            if vi.name == x:
                g.value_info.remove(vi)
        folded.append((f"{prod.op_type} {prod.name or '?'}", f"BatchNormalization {bn.name or '?'}"))
    # drop the replaced initializers nothing reads any more (subgraphs included)
    used = {o.name for o in g.output} | graph_inputs

    def collect(graph):
        for n in graph.node:
            used.update(n.input)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    collect(a.g)
                for sub in a.graphs:
                    collect(sub)

    collect(g)
    for t in list(g.initializer):
        if t.name in replaced and t.name not in used:
            g.initializer.remove(t)
    return model, folded


def fold_onnx(model_or_path, *, report=None):
    """An ``onnx.ModelProto`` in which every BatchNormalization (inference mode, constant scale/B/mean/var
    initializers) whose input is the only use of a Conv, ConvTranspose (any ``group``) or Gemm output with
    constant weight (and bias) is folded into that node and removed. Gemm's ``alpha`` is kept and its ``beta``
    absorbed into ``C``. The input model is not modified; ``report``, a list, receives (node, bn) per fold.
    """
    import onnx

    out, folded = _fold_onnx(model_or_path)
    onnx.checker.check_model(out)
    if report is not None:
        report.extend(folded)
    return out
