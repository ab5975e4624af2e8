"""The inference path: BatchNorm folded into the neighbouring layer's weights.

In eval mode BatchNorm is the per-channel affine map ``y = x·s + t`` with ``s = bn_weight/√(running_var + eps)`` and
``t = bn_bias − running_mean·s``; next to a convolution or linear layer it can be folded into that layer.
"""

from __future__ import annotations

import numpy as np

from . import _core
from . import activations as _act
from ._checks import real, integer

__all__ = ["fold_batchnorm", "scale_shift_act", "normalize_image"]

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


# ------------------------------------------------------------------------------------------------ scale_shift_act

_A = _core.Activation
# name → (function of the validated parameters → (op, a, b, c)): the same ids and parameters as nc.NAME passes to
# the C++ activation (tests/test_scale_shift_act.py checks every entry against nc.NAME bit for bit).
_SPECS = {
    "identity": lambda: (_A.identity,),
    "binary_step": lambda threshold: (_A.binary_step, threshold),
    "relu": lambda: (_A.relu,),
    "relu6": lambda: (_A.hardtanh, 0.0, 6.0),
    "hardtanh": lambda min_val, max_val: (_A.hardtanh, *_act._hardtanh_range("scale_shift_act", min_val, max_val)),
    "leaky_relu": lambda negative_slope: (_A.leaky_relu, negative_slope),
    "thresholded_relu": lambda alpha: (_A.thresholded_relu, alpha),
    "elu": lambda alpha: (_A.elu, alpha, 1.0, 1.0),
    "selu": lambda alpha, scale: (_A.elu, alpha, scale, 1.0),
    "celu": lambda alpha: (_A.elu, _act._celu_alpha("scale_shift_act", alpha), 1.0, 1.0 / alpha),
    "gelu": lambda approximate: (_act._gelu_op("scale_shift_act", approximate),),
    "silu": lambda: (_A.swish, 1.0),
    "swish": lambda beta: (_A.swish, beta),
    "mish": lambda: (_A.mish,),
    "sigmoid": lambda: (_A.sigmoid,),
    "log_sigmoid": lambda: (_A.log_sigmoid,),
    "hardsigmoid": lambda alpha, beta: (_A.hardsigmoid, alpha, beta),
    "tanh": lambda: (_A.tanh,),
    "hardswish": lambda: (_A.hardswish,),
    "softplus": lambda beta, threshold: (_A.softplus, *_act._softplus_params("scale_shift_act", beta, threshold)),
    "softsign": lambda: (_A.softsign,),
    "arctan": lambda: (_A.arctan,),
    "isru": lambda alpha: (_A.isru, alpha),
    "isrlu": lambda alpha: (_A.isrlu, alpha),
    "sqnl": lambda: (_A.sqnl,),
    "sinc": lambda: (_A.sinc,),
}


def _spec(activation, params):
    """(op, a, b, c) of an elementwise activation given by name (None = identity) and its keyword parameters."""
    from .registry import ACTIVATIONS, Activation

    if activation is None:
        activation = "identity"
    if not isinstance(activation, str):
        raise TypeError(f"scale_shift_act: activation must be a name (str) or None, got {type(activation).__name__}")
    if activation not in _SPECS:
        if activation in ACTIVATIONS:
            raise ValueError(f"scale_shift_act: {activation!r} is not elementwise; fusable: {', '.join(_SPECS)}")
        raise ValueError(f"scale_shift_act: unknown activation {activation!r}; fusable: {', '.join(_SPECS)}")
    bound = Activation(activation, **params).params  # unknown / missing parameters → TypeError, defaults filled
    values = {k: (real(v, "scale_shift_act", k) if k != "approximate" else v) for k, v in bound.items()}
    op, *abc = _SPECS[activation](**values)
    return op, [float(v) for v in abc] + [0.0] * (3 - len(abc))


def scale_shift_act(x, scale, shift, activation=None, *, channel_axis=1, residual=None, out=None,
                    **activation_params):
    """y = act(x·scale[c] + shift[c] [+ residual]) per channel in one pass.

    ``act`` is any elementwise activation of the catalog by name (``"relu"``, ``"gelu"``, ``"leaky_relu"`` with
    ``negative_slope=``, ...; None = identity), its parameters as keywords with ``nc.NAME``'s defaults. ``x`` has
    its channels at ``channel_axis`` = 1 (N, C, ...) or -1 (N, ..., C); ``scale`` and ``shift`` are (C,) arrays of
    x's dtype; ``residual`` (x's shape and dtype) is added before the activation; ``out`` may be x itself.
    An eval-mode BatchNorm is ``scale = weight/√(running_var + eps)``, ``shift = bias − running_mean·scale``
    (that folded shift cancels when |mean| ≫ std: ``nc.batch_norm(..., training=False)`` runs this same kernel
    centred on the running mean instead, (x − mean)·scale + bias).
    """
    channel_axis = integer(channel_axis, "scale_shift_act", "channel_axis")
    op, (a, b, c) = _spec(activation, activation_params)
    return _core.scale_shift_act(x, scale, shift, op, a, b, c, channel_axis, residual, out)


# ------------------------------------------------------------------------------------------------ normalize_image

def _per_channel(values, name):
    a = np.asarray(values)
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_ or a.ndim > 1:
        raise TypeError(f"normalize_image: {name} must be a real number or a sequence of them, got {values!r}")
    return [float(v) for v in a.reshape(-1)]


def normalize_image(images, mean, std, *, scale=1 / 255, out_layout="NCHW", dtype=np.float32, out=None):
    """``(images·scale − mean[c]) / std[c]`` for uint8 (or float32/float64) images in HWC or NHWC layout, written in
    NCHW (default; CHW for one image) or NHWC in one pass: ``ToTensor()`` + ``Normalize(mean, std)`` without the
    transpose. Computed in double, rounded once to ``dtype`` (float32 or float64). ``mean`` and ``std`` have one value
    per channel (a single value is used for every channel); another count raises ValueError.
    """
    f = "normalize_image"
    if out_layout not in ("NCHW", "NHWC"):
        raise ValueError(f"{f}: out_layout must be 'NCHW' or 'NHWC', got {out_layout!r}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{f}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{f}: dtype must be float32 or float64, got {dt}")
    scale = real(scale, f, "scale")
    m, sd = _per_channel(mean, "mean"), _per_channel(std, "std")
    if np.ndim(images) in (3, 4):
        C = np.shape(images)[-1]
        m = m * C if len(m) == 1 else m
        sd = sd * C if len(sd) == 1 else sd
    if any(v == 0 or v != v for v in sd):
        raise ValueError(f"{f}: std must be nonzero, got {sd}")
    layout = _core.ImageLayout.NCHW if out_layout == "NCHW" else _core.ImageLayout.NHWC
    return _core.normalize_image(images, m, sd, scale, layout, dt == np.float64, out)
