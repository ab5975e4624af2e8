"""The inference path: BatchNorm folded into the neighbouring layer's weights.

In eval mode BatchNorm is the per-channel affine map ``y = x·s + t`` with ``s = bn_weight/√(running_var + eps)`` and
``t = bn_bias − running_mean·s``; next to a convolution or linear layer it can be folded into that layer.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._checks import real, integer

__all__ = ["fold_batchnorm"]

_KINDS = {"conv": _core.FoldKind.conv, "conv_transpose": _core.FoldKind.conv_transpose, "linear": _core.FoldKind.linear}
_POSITIONS = {"after": _core.FoldPosition.after, "before": _core.FoldPosition.before}


def _param(value, name: str, want: tuple, what: str):
    """``value`` (None allowed) as a float64 array of shape ``want``; ValueError naming both shapes."""
    if value is None:
        return None
    a = np.asarray(value)
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise TypeError(f"fold_batchnorm: {name} must be a real array, got dtype {a.dtype}")
    if a.shape != want:
        raise ValueError(f"fold_batchnorm: {name} has shape {a.shape} but {what} expects {want}")
    return np.ascontiguousarray(a, dtype=np.float64)


def fold_batchnorm(weight, bias, running_mean, running_var, bn_weight, bn_bias, eps=1e-5, *, kind="conv", groups=1,
                   position="after"):
    """Fold an eval-mode BatchNorm into the weight and bias of the layer before (or after) it.

    With ``s = bn_weight/√(running_var + eps)`` and ``t = bn_bias − running_mean·s`` (bn_weight/bn_bias None: 1/0):

    * ``position="after"`` (layer → BatchNorm): ``W'[c] = W[c]·s[c]`` along the output channel ``c`` and
      ``b' = (bias or 0)·s + t``.

      - ``kind="conv"``: weight ``(C_out, C_in/groups, *kernel)`` (Conv1d/2d/3d, grouped, depthwise);
      - ``kind="conv_transpose"``: weight ``(C_in, C_out/groups, *kernel)``; entry ``[i, j]`` feeds output channel
        ``g·(C_out/groups) + j`` with ``g = i // (C_in/groups)``;
      - ``kind="linear"``: weight ``(out, in)``.
    * ``position="before"`` (BatchNorm → Linear, ``kind="linear"`` only): ``W'[o, i] = W[o, i]·s[i]``,
      ``b' = (bias or 0) + W·t``. A convolution is refused: its zero padding would not see the shift.

    Computed in float64; returns ``(fused_weight, fused_bias)`` as NumPy arrays of the weight's dtype (float32 or
    float64). Channel counts that do not match raise ValueError naming the shapes.
    """
    f = "fold_batchnorm"
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"{f}: kind must be one of {sorted(_KINDS)}, got {kind!r}")
    if not isinstance(position, str) or position not in _POSITIONS:
        raise ValueError(f"{f}: position must be 'after' or 'before', got {position!r}")
    groups = integer(groups, f, "groups")
    eps = real(eps, f, "eps")
    if not eps >= 0:
        raise ValueError(f"{f}: eps must be >= 0, got {eps}")
    w = np.asarray(weight)
    if w.dtype not in (np.float32, np.float64):
        raise TypeError(f"{f}: weight must be float32 or float64, got dtype {w.dtype}")
    if kind == "linear":
        if w.ndim != 2:
            raise ValueError(f"{f}: a linear weight is (out, in), got shape {w.shape}")
        if groups != 1:
            raise ValueError(f"{f}: groups must be 1 for kind='linear', got {groups}")
    elif w.ndim < 3:
        raise ValueError(f"{f}: a {kind} weight is (channels, channels/groups, *kernel), got shape {w.shape}")
    if groups < 1:
        raise ValueError(f"{f}: groups must be >= 1, got {groups}")
    if position == "before" and kind != "linear":
        raise ValueError(f"{f}: position='before' is supported for kind='linear' only: before a {kind} the "
                         "BatchNorm's shift does not reach the zero padding, so folding is not exact")
    d0, d1 = w.shape[0], w.shape[1]
    K = int(np.prod(w.shape[2:], dtype=np.int64))
    if kind == "conv_transpose":
        if d0 % groups:
            raise ValueError(f"{f}: groups={groups} does not divide the input channels of weight shape {w.shape}")
        c_out = d1 * groups
    else:
        c_out = d0
        if kind == "conv" and groups > 1 and d0 % groups:
            raise ValueError(f"{f}: groups={groups} does not divide the output channels of weight shape {w.shape}")
    c_bn = d1 if position == "before" else c_out
    what = f"weight of shape {w.shape} ({kind}, groups={groups}, position={position!r})"
    b = _param(bias, "bias", (c_out,), what)
    stats = [_param(v, n, (c_bn,), what) for v, n in ((running_mean, "running_mean"), (running_var, "running_var"),
                                                      (bn_weight, "bn_weight"), (bn_bias, "bn_bias"))]
    if stats[0] is None or stats[1] is None:
        raise TypeError(f"{f}: running_mean and running_var are required")
    fw, fb = _core.fold_batchnorm(np.ascontiguousarray(w, dtype=np.float64), b, stats[0], stats[1], stats[2],
                                  stats[3], d0, d1, K, _KINDS[kind], groups, _POSITIONS[position], eps)
    return fw.astype(w.dtype, copy=False), fb.astype(w.dtype, copy=False)
