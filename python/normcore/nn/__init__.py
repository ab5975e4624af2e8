"""Layers over NumPy arrays with PyTorch's names, modes and state dicts, and an explicit backward."""

from __future__ import annotations

from . import activation as _activation
from .activation import *  # noqa: F403
from .module import Module

__all__ = ["Module", *_activation.__all__]
