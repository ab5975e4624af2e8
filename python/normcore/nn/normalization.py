"""Normalization layers with ``torch.nn``'s names, arguments, modes and state dicts, over the functional API
(:mod:`normcore.normalization`). ``layer(x)`` saves what ``layer.backward(grad_output)`` needs (x and the
statistics); parameter gradients land in ``layer.grads`` under the state dict's keys.

Parameters and running statistics are float32 unless ``dtype=`` says otherwise; an input of another float
dtype is computed in its own dtype (parameters cast, running statistics updated through a cast copy).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .. import normalization as F
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
           "LayerNorm", "GroupNorm", "RMSNorm"]


def _count(name: str, pname: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: {pname} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name}: {pname} must be >= 1, got {value}")
    return int(value)


def _shape(name: str, normalized_shape) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    return tuple(_count(name, "normalized_shape", d) for d in shape)


def _as(a, dtype):
    return None if a is None else a.astype(dtype, copy=False)


class _Norm(Module):
    """Affine parameters (weight = 1, bias = 0 of ``shape``) and, when tracked, running statistics."""

    def __init__(self, shape, affine: bool, bias: bool = True, track: bool = False, *, dtype=np.float32) -> None:
        super().__init__()
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"{type(self).__name__}: dtype must be float32 or float64, got {self.dtype}")
        self._parameters["weight"] = np.ones(shape, self.dtype) if affine else None
        self._parameters["bias"] = np.zeros(shape, self.dtype) if affine and bias else None
        if track:
            self._buffers["running_mean"] = np.zeros(shape, self.dtype)
            self._buffers["running_var"] = np.ones(shape, self.dtype)
            self._buffers["num_batches_tracked"] = np.zeros((), np.int64)
        self._saved_state = None

    @property
    def weight(self):
        return self._parameters["weight"]

    @property
    def bias(self):
        return self._parameters["bias"]

    def _affine(self, dtype):
        return _as(self.weight, dtype), _as(self.bias, dtype)

    def _grads(self, dw, db) -> None:
        self.grads = {}
        if self.weight is not None:
            self.grads["weight"] = dw.astype(self.dtype, copy=False)
        if self.bias is not None:
            self.grads["bias"] = db.astype(self.dtype, copy=False)


class _ChannelNorm(_Norm):
    """BatchNorm / InstanceNorm: statistics per channel (over the batch, or per sample), channel_axis 1 or −1."""

    _dims: tuple[int, ...] = ()
    _per_sample = False  # InstanceNorm

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, channel_axis, dtype) -> None:
        name = type(self).__name__
        self.num_features = _count(name, "num_features", num_features)
        super().__init__((self.num_features,), affine, True, track_running_stats, dtype=dtype)
        if eps < 0:
            raise ValueError(f"{name}: eps must be >= 0, got {eps}")
        if channel_axis not in (1, -1):
            raise ValueError(f"{name}: channel_axis must be 1 (channels first) or -1 (channels last), got {channel_axis}")
        self.eps, self.momentum, self.channel_axis = float(eps), momentum, channel_axis
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)

    def _check(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim not in self._dims:
            dims = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{type(self).__name__}: expected {dims} input (got {x.ndim}D input)")
        return x

    def _momentum(self) -> float:
        if self.momentum is not None:
            return self.momentum
        return 1.0 / float(self._buffers["num_batches_tracked"])  # cumulative moving average

    def _channel_shape(self, x) -> list[int]:
        shape = [1] * x.ndim
        shape[self.channel_axis] = x.shape[self.channel_axis]
        return shape

    def forward(self, x):
        x = self._check(x)
        w, b = self._affine(x.dtype)
        batch_stats = self.training or not self.track_running_stats
        if not batch_stats:  # evaluation with the running statistics: a per-channel affine map
            rm, rv = (self._buffers[k].astype(x.dtype, copy=False) for k in ("running_mean", "running_var"))
            self._saved_state = ("eval", x, rm, rv)
            return _core.batch_norm_inference(x, rm, rv, w, b, self.eps, self.channel_axis)
        update = self.training and self.track_running_stats
        stats = {}
        if update:
            if not self._per_sample:  # PyTorch's InstanceNorm keeps the buffer but never counts
                self._buffers["num_batches_tracked"] += 1
            stats = {k: self._buffers[k].astype(x.dtype) for k in ("running_mean", "running_var")}
        forward = _core.instance_norm_forward if self._per_sample else _core.batch_norm_forward
        y, mean, rstd = forward(x, w, b, self.eps, self.channel_axis, stats.get("running_mean"),
                                stats.get("running_var"), self._momentum() if update else 0.1, True)
        for k, v in stats.items():
            np.copyto(self._buffers[k], v, casting="unsafe")
        self._saved_state = ("batch", x, mean, rstd)
        return y

    def backward(self, grad_output):
        mode, x, a, b = self._saved("_saved_state")
        w = _as(self.weight, x.dtype)
        if mode == "batch":
            backward = _core.instance_norm_backward if self._per_sample else _core.batch_norm_backward
            dx, dw, db = backward(grad_output, x, a, b, w, self.channel_axis)
        else:  # y = (x − rm)·rstd·w + b with constants per channel
            dy = np.asarray(grad_output, dtype=x.dtype)
            shape = self._channel_shape(x)
            rstd = (1.0 / np.sqrt(b + self.eps)).reshape(shape)
            axes = tuple(i for i in range(x.ndim) if i != self.channel_axis % x.ndim)
            dx = dy * (rstd if w is None else rstd * w.reshape(shape))
            dw = np.sum(dy * ((x - a.reshape(shape)) * rstd), axis=axes)
            db = np.sum(dy, axis=axes)
        self._grads(dw, db)
        return dx

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_ChannelNorm):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 channel_axis=1, *, dtype=np.float32) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, channel_axis, dtype)


class BatchNorm1d(_BatchNorm):
    """BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, channel_axis=1)
    over (N, C) or (N, C, L) input (channel_axis=-1: channels last). momentum=None: cumulative moving average."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """BatchNorm2d over (N, C, H, W) input (channel_axis=-1: (N, H, W, C)); arguments as BatchNorm1d."""

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """BatchNorm3d over (N, C, D, H, W) input (channel_axis=-1: channels last); arguments as BatchNorm1d."""

    _dims = (5,)


class _InstanceNorm(_ChannelNorm):
    _per_sample = True

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 channel_axis=1, *, dtype=np.float32) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, channel_axis, dtype)

    def _momentum(self) -> float:  # PyTorch: momentum None means 0 here (no batch count kept)
        return 0.0 if self.momentum is None else self.momentum


class InstanceNorm1d(_InstanceNorm):
    """InstanceNorm1d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False) over
    (N, C, L) input: statistics per sample and channel."""

    _dims = (3,)


class InstanceNorm2d(_InstanceNorm):
    """InstanceNorm2d over (N, C, H, W) input; arguments as InstanceNorm1d."""

    _dims = (4,)


class InstanceNorm3d(_InstanceNorm):
    """InstanceNorm3d over (N, C, D, H, W) input; arguments as InstanceNorm1d."""

    _dims = (5,)


class LayerNorm(_Norm):
    """LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True): over the trailing dims."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, dtype=np.float32) -> None:
        self.normalized_shape = _shape("LayerNorm", normalized_shape)
        super().__init__(self.normalized_shape, elementwise_affine, bias, dtype=dtype)
        self.eps = float(eps)

    def forward(self, x):
        x = np.asarray(x)
        w, b = self._affine(x.dtype)
        y, mean, rstd = F.layer_norm_forward(x, self.normalized_shape, w, b, self.eps)
        self._saved_state = (x, mean, rstd)
        return y

    def backward(self, grad_output):
        x, mean, rstd = self._saved("_saved_state")
        dx, dw, db = F.layer_norm_backward(grad_output, x, self.normalized_shape, mean, rstd,
                                           _as(self.weight, x.dtype))
        self._grads(dw, db)
        return dx

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class GroupNorm(_Norm):
    """GroupNorm(num_groups, num_channels, eps=1e-5, affine=True): statistics per sample and group of channels."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, dtype=np.float32) -> None:
        self.num_groups = _count("GroupNorm", "num_groups", num_groups)
        self.num_channels = _count("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        super().__init__((self.num_channels,), affine, dtype=dtype)
        self.eps = float(eps)

    def forward(self, x):
        x = np.asarray(x)
        w, b = self._affine(x.dtype)
        y, mean, rstd = F.group_norm_forward(x, self.num_groups, w, b, self.eps)
        self._saved_state = (x, mean, rstd)
        return y

    def backward(self, grad_output):
        x, mean, rstd = self._saved("_saved_state")
        dx, dw, db = F.group_norm_backward(grad_output, x, self.num_groups, mean, rstd, _as(self.weight, x.dtype))
        self._grads(dw, db)
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.weight is not None}"


class RMSNorm(_Norm):
    """RMSNorm(normalized_shape, eps=None, elementwise_affine=True): eps=None is the dtype's machine epsilon."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, *, dtype=np.float32) -> None:
        self.normalized_shape = _shape("RMSNorm", normalized_shape)
        super().__init__(self.normalized_shape, elementwise_affine, bias=False, dtype=dtype)
        self.eps = eps

    def forward(self, x):
        x = np.asarray(x)
        y, rstd = F.rms_norm_forward(x, self.normalized_shape, _as(self.weight, x.dtype), self.eps)
        self._saved_state = (x, rstd)
        return y

    def backward(self, grad_output):
        x, rstd = self._saved("_saved_state")
        dx, dw = F.rms_norm_backward(grad_output, x, self.normalized_shape, rstd, _as(self.weight, x.dtype))
        self._grads(dw, None)
        return dx

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"
