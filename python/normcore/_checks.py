"""Argument checks shared by the Python wrappers (arrays themselves are checked in C++)."""

from __future__ import annotations

import numbers
import operator


class ArgumentError(TypeError, ValueError):
    """A combination of arguments that does not make sense (e.g. both or neither of ``x`` and ``y``).

    It is both a TypeError (as Python raises for missing arguments) and a ValueError."""


def real(value, fname: str, pname: str) -> float:
    """``value`` as a float; TypeError unless it is a real number (bool is refused)."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fname}: {pname} must be a real number, got {type(value).__name__}")
    return float(value)


def integer(value, fname: str, pname: str) -> int:
    """``value`` as an int; TypeError unless it is an integer (bool is refused; NumPy integers are fine)."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fname}: {pname} must be an integer, got {type(value).__name__}")
    return operator.index(value)


def one_of_x_y(x, y, fname: str):
    """The input of a backward that takes exactly one of ``x`` and ``y=``: (array, from_output)."""
    if (x is None) == (y is None):
        raise ArgumentError(f"{fname}: pass exactly one of x (the forward's input) or y= (its output)")
    return (x, False) if y is None else (y, True)
