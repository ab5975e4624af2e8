"""Layers over NumPy arrays with PyTorch's names, modes and state dicts, and an explicit backward."""

from __future__ import annotations

from . import activation as _activation
from .activation import *  # noqa: F403
from . import normalization as _normalization
from .module import Module
from .normalization import *  # noqa: F403

__all__ = ["Module", *_activation.__all__, *_normalization.__all__]
