"""Activation layers: one per function of the catalog, named and parametrized as ``torch.nn`` (plus the
catalog's functions PyTorch lacks). ``layer(x)`` saves x for ``layer.backward(grad_output)``.

``inplace=True`` (where PyTorch offers it) writes the result into x, keeping a copy of x for the backward.
``Softmax(dim)`` / ``LogSoftmax(dim)``: dim=None means the last axis (PyTorch infers a legacy default).
"""

from __future__ import annotations

import inspect

import numpy as np

from ..registry import activation
from .module import Module

_EMPTY = inspect.Parameter.empty


class _ActivationLayer(Module):
    """A stateless activation layer: ``_function`` from the catalog with ``_params`` as
    (layer argument, function argument, default) in PyTorch's order."""

    _function = ""
    _params: tuple = ()
    _has_inplace = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()
        bound = self._signature().bind(*args, **kwargs)  # TypeError for unknown or missing arguments
        bound.apply_defaults()
        self.inplace = bool(bound.arguments.pop("inplace", False))
        values = dict(bound.arguments)
        self.params = {fn: (-1 if values[name] is None and fn == "axis" else values[name])
                       for name, fn, _ in self._params}
        self._act = activation(self._function, **self.params)
        self._x = None

    @classmethod
    def _signature(cls) -> inspect.Signature:
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        ps = [inspect.Parameter(name, kind, default=default) for name, _, default in cls._params]
        if cls._has_inplace:
            ps.append(inspect.Parameter("inplace", kind, default=False))
        return inspect.Signature(ps)

    def forward(self, x):
        if self.inplace:
            if not isinstance(x, np.ndarray):
                raise TypeError(f"{type(self).__name__}(inplace=True) needs a NumPy array, got {type(x).__name__}")
            self._x = x.copy()
            return self._act.forward(x, out=x)
        self._x = x
        return self._act.forward(x)

    def backward(self, grad_output):
        return self._act.backward(grad_output, self._saved("_x"))

    def extra_repr(self) -> str:
        shown = [f"{name}={self.params[fn]!r}" for name, fn, _ in self._params]
        return ", ".join(shown + (["inplace=True"] if self.inplace else []))


def _layer(name: str, function: str, params=(), inplace: bool = False, doc: str = "") -> type:
    cls = type(name, (_ActivationLayer,), {
        "_function": function, "_params": tuple(params), "_has_inplace": inplace,
        "__doc__": f"{doc or name}: ``nc.{function}`` as a layer.", "__module__": __name__,
    })
    cls.__signature__ = cls._signature()
    return cls


# PyTorch's layers
Identity = _layer("Identity", "identity")
ReLU = _layer("ReLU", "relu", inplace=True)
ReLU6 = _layer("ReLU6", "relu6", inplace=True)
Hardtanh = _layer("Hardtanh", "hardtanh", [("min_val", "min_val", -1.0), ("max_val", "max_val", 1.0)], True)
LeakyReLU = _layer("LeakyReLU", "leaky_relu", [("negative_slope", "negative_slope", 0.01)], True)
ELU = _layer("ELU", "elu", [("alpha", "alpha", 1.0)], True)
SELU = _layer("SELU", "selu", inplace=True)
CELU = _layer("CELU", "celu", [("alpha", "alpha", 1.0)], True)
GELU = _layer("GELU", "gelu", [("approximate", "approximate", "none")])
SiLU = _layer("SiLU", "silu", inplace=True)
Mish = _layer("Mish", "mish", inplace=True)
Sigmoid = _layer("Sigmoid", "sigmoid")
LogSigmoid = _layer("LogSigmoid", "log_sigmoid")
Hardsigmoid = _layer("Hardsigmoid", "hardsigmoid", inplace=True)
Tanh = _layer("Tanh", "tanh")
Hardswish = _layer("Hardswish", "hardswish", inplace=True)
Softplus = _layer("Softplus", "softplus", [("beta", "beta", 1.0), ("threshold", "threshold", 20.0)])
Softsign = _layer("Softsign", "softsign")
Softmax = _layer("Softmax", "softmax", [("dim", "axis", None)])
LogSoftmax = _layer("LogSoftmax", "log_softmax", [("dim", "axis", None)])
# the rest of the catalog
BinaryStep = _layer("BinaryStep", "binary_step", [("threshold", "threshold", 0.0)])
ThresholdedReLU = _layer("ThresholdedReLU", "thresholded_relu", [("alpha", "alpha", 1.0)])
Swish = _layer("Swish", "swish", [("beta", "beta", 1.0)])
ArcTan = _layer("ArcTan", "arctan")
ISRU = _layer("ISRU", "isru", [("alpha", "alpha", 1.0)])
ISRLU = _layer("ISRLU", "isrlu", [("alpha", "alpha", 1.0)])
SQNL = _layer("SQNL", "sqnl")
BipolarReLU = _layer("BipolarReLU", "bipolar_relu", [("axis", "axis", 1)])
Sinc = _layer("Sinc", "sinc")
ABReLU = _layer("ABReLU", "abrelu", [("alpha", "alpha", 1.0)])
Maxout = _layer("Maxout", "maxout", [("pieces", "pieces", _EMPTY), ("axis", "axis", 1)])


class PReLU(Module):
    """PReLU(num_parameters=1, init=0.25): a learnable slope per channel (axis 1) or one shared; ``weight`` in
    the state dict, its gradient in ``grads["weight"]`` after ``backward``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, *, dtype=np.float32) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, (int, np.integer)):
            raise TypeError(f"PReLU: num_parameters must be an int, got {type(num_parameters).__name__}")
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        self.num_parameters = int(num_parameters)
        self._parameters["weight"] = np.full(self.num_parameters, init, dtype=dtype)
        self._x = None

    @property
    def weight(self) -> np.ndarray:
        return self._parameters["weight"]

    def forward(self, x):
        from .. import prelu

        self._x = x
        return prelu(x, self.weight.astype(np.asarray(x).dtype, copy=False))

    def backward(self, grad_output):
        from .. import prelu_backward

        x = self._saved("_x")
        dx, dw = prelu_backward(grad_output, x, self.weight.astype(np.asarray(x).dtype, copy=False))
        self.grads = {"weight": dw.astype(self.weight.dtype, copy=False)}
        return dx

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """RReLU(lower=1/8, upper=1/3, inplace=False, rng=None): in training a slope drawn per element (kept for
    the backward), in evaluation the mean slope. ``rng``: a numpy Generator, a seed or None."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False, rng=None) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, bool(inplace)
        self.rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        self._x = self._noise = None
        self._trained = False

    def forward(self, x):
        from .. import rrelu

        self._trained = self.training
        self._x = x.copy() if self.inplace else x
        self._noise = np.empty(np.shape(x), dtype=np.asarray(x).dtype) if self.training else None
        out = x if self.inplace else None
        return rrelu(x, self.lower, self.upper, self.training, self.rng, noise=self._noise, out=out)

    def backward(self, grad_output):
        from .. import rrelu_backward

        return rrelu_backward(grad_output, self._saved("_x"), self.lower, self.upper, self._trained,
                              noise=self._noise)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


__all__ = [name for name, value in list(globals().items())
           if isinstance(value, type) and issubclass(value, Module) and not name.startswith("_") and name != "Module"]
