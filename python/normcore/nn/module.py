"""The layer base class: PyTorch's Module conventions over NumPy arrays, with an explicit backward.

A layer computes ``y = layer(x)`` and remembers what its backward needs; ``layer.backward(grad_output)``
returns the gradient with respect to x and stores the gradients of its parameters in ``layer.grads`` (keyed
like the state dict). ``state_dict()`` / ``load_state_dict()`` use PyTorch's keys, so a PyTorch state dict
converted with ``{k: v.numpy() for k, v in sd.items()}`` loads as is.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Module"]


class Module:
    """Base of every layer: ``training`` mode, parameters, buffers, grads, state dict."""

    def __init__(self) -> None:
        self.training = True
        self.grads: dict[str, np.ndarray] = {}
        self._parameters: dict[str, np.ndarray | None] = {}
        self._buffers: dict[str, np.ndarray | None] = {}

    # ---- modes ----------------------------------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (``mode=True``) or evaluation mode; returns the layer."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got {type(mode).__name__}")
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``); returns the layer."""
        return self.train(False)

    # ---- computing ------------------------------------------------------------------------------------------

    def forward(self, x):  # pragma: no cover - every layer defines it
        raise NotImplementedError

    def backward(self, grad_output):  # pragma: no cover - every layer defines it
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def _saved(self, name: str):
        """What the forward saved for the backward; a clear error when backward comes first."""
        value = getattr(self, name, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call the layer's forward first")
        return value

    # ---- state ----------------------------------------------------------------------------------------------

    def parameters(self) -> dict[str, np.ndarray]:
        """The learnable arrays by name (None entries left out)."""
        return {k: v for k, v in self._parameters.items() if v is not None}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters then buffers, by PyTorch's names; the arrays themselves (not copies), as PyTorch."""
        return {k: v for k, v in {**self._parameters, **self._buffers}.items() if v is not None}

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy the arrays of ``state_dict`` into this layer's (values converted to each array's dtype).

        strict: the keys must be exactly those of ``state_dict()`` (ValueError naming the missing and
        unexpected ones). A shape that differs is a ValueError either way."""
        own = self.state_dict()
        if strict:
            missing = sorted(set(own) - set(state_dict))
            unexpected = sorted(set(state_dict) - set(own))
            if missing or unexpected:
                raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                                 f"unexpected keys {unexpected}")
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key])
            if value.shape != target.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key} has shape {value.shape}, "
                                 f"expected {target.shape}")
            np.copyto(target, value, casting="unsafe")

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
