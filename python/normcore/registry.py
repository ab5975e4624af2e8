"""The activation registry: every activation of the catalog by name, with its parameters bound.

>>> import normcore as nc
>>> act = nc.activation("leaky_relu", negative_slope=0.2)
>>> y = act.forward(x)                 # nc.leaky_relu(x, negative_slope=0.2)
>>> dx = act.backward(dy, x)           # nc.leaky_relu_backward(dy, x, negative_slope=0.2)

``nc.ACTIVATIONS`` lists the names. Parameters are those of the function ``nc.NAME`` (keywords, with its
defaults); ``.params`` shows all of them, defaults filled in.
"""

from __future__ import annotations

import importlib
import inspect

__all__ = ["ACTIVATIONS", "Activation", "activation"]

#: The catalog, in the order of the issue's table: elementwise first, then those with an axis or extra arrays.
ACTIVATIONS: tuple[str, ...] = (
    "identity", "binary_step", "relu", "relu6", "hardtanh", "leaky_relu", "thresholded_relu", "prelu", "rrelu",
    "elu", "selu", "celu", "gelu", "silu", "swish", "mish", "sigmoid", "log_sigmoid", "hardsigmoid", "tanh",
    "hardswish", "softplus", "softsign", "arctan", "isru", "isrlu", "sqnl", "bipolar_relu", "sinc", "abrelu",
    "maxout", "softmax", "log_softmax",
)

# Arguments of NAME(...) that are the data, not parameters.
_DATA = {"x", "out"}


def _function(name: str):
    return getattr(importlib.import_module("normcore"), name)


class Activation:
    """An activation with bound parameters: ``.forward(x, out=None)``, ``.backward(grad_output, x, out=None)``,
    ``.name``, ``.params``. Calling the object is ``.forward``."""

    def __init__(self, name: str, **params) -> None:
        if not isinstance(name, str):
            raise TypeError(f"activation: name must be a str, got {type(name).__name__}")
        if name not in ACTIVATIONS:
            raise ValueError(f"activation: unknown name {name!r}; known: {', '.join(ACTIVATIONS)}")
        self._forward = _function(name)
        self._backward = _function(name + "_backward")
        signature = inspect.signature(self._forward)
        accepted = [p for p in signature.parameters.values() if p.name not in _DATA]
        unknown = sorted(set(params) - {p.name for p in accepted})
        if unknown:
            raise TypeError(f"activation {name!r}: unknown parameter(s) {', '.join(unknown)}; "
                            f"it takes {', '.join(p.name for p in accepted) or 'none'}")
        missing = [p.name for p in accepted if p.default is inspect.Parameter.empty and p.name not in params]
        if missing:
            raise TypeError(f"activation {name!r}: missing parameter(s) {', '.join(missing)}")
        self.name = name
        self.params = {p.name: params.get(p.name, p.default) for p in accepted}
        # the backward takes the forward's parameters except those only the forward uses (rrelu's rng)
        self._backward_keys = set(inspect.signature(self._backward).parameters) - _DATA

    def forward(self, x, out=None):
        return self._forward(x, **self.params, out=out)

    __call__ = forward

    def backward(self, grad_output, x, out=None):
        """The gradient with respect to x (for prelu: (grad_input, grad_weight), as ``nc.prelu_backward``)."""
        params = {k: v for k, v in self.params.items() if k in self._backward_keys}
        return self._backward(grad_output, x, **params, out=out)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if not hasattr(v, "shape"))
        return f"normcore.activation({self.name!r}{', ' if shown else ''}{shown})"


def activation(name: str, **params) -> Activation:
    """The activation ``name`` with ``params`` bound (see :class:`Activation`); ``ACTIVATIONS`` lists the names."""
    return Activation(name, **params)
