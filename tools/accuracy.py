"""Measure normcore's accuracy against the references of tests/reference.py, for every smooth activation and on
every instruction-set variant this CPU runs; write the tables to docs/accuracy.md.

    python tools/accuracy.py --markdown docs/accuracy.md        # the full run (about a minute on 2 cores)
    python tools/accuracy.py --functions "gelu|mish" --isas avx2

What is measured, per function and ISA (baseline, avx2, avx512 through normcore._core.set_isa):

- float32 forward: max error in ulp over ``float32_sweep`` (>= 2^20 values spread over the bit patterns of
  [-90, 90], plus ±0, ±inf, NaN, subnormals), counted wherever the float64 reference is a normal float32 (or 0,
  ±inf, NaN, which must match exactly). Target <= 4 ulp.
- float32 backward, grad_output = 1, from x and (elu, selu, celu, sigmoid, tanh) from the forward's output y:
  max |got − ref| / max(1, |ref|) in units of 2^-21 over the same inputs. Target <= 1. From y, the input is the
  correctly rounded y = float32(f(x)) and the reference is the derivative written as a function of y (σ: y(1 − y),
  tanh: 1 − y², elu: y + α, ...) evaluated exactly at that y: it measures the kernel, not the rounding of y.
- float64 forward and backward: max relative error over ``float64_sweep`` (2^19 uniform values in [-90, 90],
  2^19 spread over the bit patterns of [-90, 90], specials), counted where the reference is a normal float64.
  Target <= 1e-12. The references are evaluated in np.longdouble (80-bit extended, ~1e-19 relative; the erf form
  of GELU ~1e-16 through a corrected float64 erfc), checked against mpmath by tests/test_reference_precision.py.
  For derivatives that are a sum of terms vanishing at a zero of f′ (gelu, gelu_tanh, silu/swish, mish), the
  error is relative to the size of the terms (e.g. Φ(x) + |x|φ(x)), which equals |f′| away from its zero:
  exactly at the zero no finite-precision evaluation has a small relative error.
- Every max is over finite inputs; the special inputs (±inf, NaN) must give the reference's value (the
  formula's limit) up to the same target, and those that do not are listed and fail the row.
- PyTorch (when installed): max relative difference between normcore and torch in float64, forward and backward
  (autograd, grad_output = 1), same denominators. Target <= 1e-10, over the inputs where torch itself is
  accurate: inputs where torch is more than 1e-12 from the reference and further from it than normcore are left
  out, and those where the two then differ by more than the target are counted in a note (torch's float64
  formulas cancel in places: ½x(1 + tanh u), 1 − y², y(1 − y); inf·0 gives NaN at ±inf).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import reference as ref  # noqa: E402

import normcore as nc  # noqa: E402
from normcore import _core  # noqa: E402

F32_ULP_TARGET = 4.0
F32_BWD_UNIT = 2.0**-21
F32_BWD_TARGET = 1.0
F64_TARGET = 1e-12
TORCH_TARGET = 1e-10

CELU_ALPHA = 1.5
SWISH_BETA = 1.5


def _nc(name: str) -> Callable[..., Any]:
    """normcore.<name>, resolved when called (NotImplementedError while this build has no such function)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        fn = getattr(nc, name, None)
        if fn is None:
            raise NotImplementedError(f"normcore has no {name}()")
        return fn(*args, **kwargs)

    return call


@dataclass(frozen=True)
class Function:
    """A smooth activation as normcore, the references and PyTorch spell it."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (grad_output, x) → grad_input
    ref: Callable[[np.ndarray], np.ndarray]
    ref_grad: Callable[[np.ndarray], np.ndarray]
    #: Size of the derivative's terms (the denominator of its relative error); None: |f′| itself.
    grad_scale: Callable[[np.ndarray], np.ndarray] | None = None
    #: normcore's backward from the forward's output, (grad_output, y) → grad_input, and its reference g(y).
    backward_y: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    ref_grad_y: Callable[[np.ndarray], np.ndarray] | None = None
    #: The same function in PyTorch (tensor → tensor), differentiable; None where PyTorch has none.
    torch: Callable[[Any], Any] | None = None


def _torch_fn(expr: str) -> Callable[[Any], Any]:
    """A torch function from an expression in x over ``torch`` and ``F`` (torch.nn.functional), imported lazily."""

    def fn(x: Any) -> Any:
        import torch
        import torch.nn.functional as F  # noqa: N812

        return eval(expr, {"torch": torch, "F": F, "x": x})  # noqa: S307 - expressions written below

    fn.__name__ = expr
    return fn


FUNCTIONS: tuple[Function, ...] = (
    Function("elu", nc.elu, lambda g, x: nc.elu_backward(g, x), ref.elu, ref.elu_grad,
             backward_y=lambda g, y: nc.elu_backward(g, y=y), ref_grad_y=ref.elu_grad_from_y,
             torch=_torch_fn("F.elu(x)")),
    Function("selu", nc.selu, lambda g, x: nc.selu_backward(g, x), ref.selu, ref.selu_grad,
             backward_y=lambda g, y: nc.selu_backward(g, y=y), ref_grad_y=ref.selu_grad_from_y,
             torch=_torch_fn("F.selu(x)")),
    Function(f"celu (alpha={CELU_ALPHA:g})", lambda x: nc.celu(x, CELU_ALPHA),
             lambda g, x: nc.celu_backward(g, x, CELU_ALPHA), lambda x: ref.celu(x, CELU_ALPHA),
             lambda x: ref.celu_grad(x, CELU_ALPHA),
             backward_y=lambda g, y: nc.celu_backward(g, y=y, alpha=CELU_ALPHA),
             ref_grad_y=lambda y: ref.celu_grad_from_y(y, CELU_ALPHA),
             torch=_torch_fn(f"F.celu(x, {CELU_ALPHA!r})")),
    Function("gelu (tanh)", lambda x: nc.gelu(x, "tanh"), lambda g, x: nc.gelu_backward(g, x, "tanh"),
             ref.gelu_tanh, ref.gelu_tanh_grad, ref.gelu_tanh_grad_scale,
             torch=_torch_fn("F.gelu(x, approximate='tanh')")),
    Function("gelu (erf)", lambda x: nc.gelu(x, "none"), lambda g, x: nc.gelu_backward(g, x, "none"),
             ref.gelu, ref.gelu_grad, ref.gelu_grad_scale, torch=_torch_fn("F.gelu(x)")),
    Function("silu", nc.silu, lambda g, x: nc.silu_backward(g, x), ref.silu, ref.silu_grad, ref.silu_grad_scale,
             torch=_torch_fn("F.silu(x)")),
    Function(f"swish (beta={SWISH_BETA:g})", lambda x: nc.swish(x, SWISH_BETA),
             lambda g, x: nc.swish_backward(g, x, SWISH_BETA), lambda x: ref.swish(x, SWISH_BETA),
             lambda x: ref.swish_grad(x, SWISH_BETA), lambda x: ref.swish_grad_scale(x, SWISH_BETA),
             torch=_torch_fn(f"x * torch.sigmoid({SWISH_BETA!r} * x)")),
    Function("mish", nc.mish, lambda g, x: nc.mish_backward(g, x), ref.mish, ref.mish_grad, ref.mish_grad_scale,
             torch=_torch_fn("F.mish(x)")),
    Function("sigmoid", nc.sigmoid, lambda g, x: nc.sigmoid_backward(g, x), ref.sigmoid, ref.sigmoid_grad,
             backward_y=lambda g, y: nc.sigmoid_backward(g, y=y), ref_grad_y=ref.sigmoid_grad_from_y,
             torch=_torch_fn("torch.sigmoid(x)")),
    Function("log_sigmoid", nc.log_sigmoid, lambda g, x: nc.log_sigmoid_backward(g, x), ref.log_sigmoid,
             ref.log_sigmoid_grad, torch=_torch_fn("F.logsigmoid(x)")),
    Function("tanh", nc.tanh, lambda g, x: nc.tanh_backward(g, x), ref.tanh, ref.tanh_grad,
             backward_y=lambda g, y: nc.tanh_backward(g, y=y), ref_grad_y=ref.tanh_grad_from_y,
             torch=_torch_fn("torch.tanh(x)")),
    Function("softplus", nc.softplus, lambda g, x: nc.softplus_backward(g, x), ref.softplus, ref.softplus_grad,
             torch=_torch_fn("F.softplus(x)")),
    Function("softsign", nc.softsign, lambda g, x: nc.softsign_backward(g, x), ref.softsign, ref.softsign_grad,
             torch=_torch_fn("F.softsign(x)")),
    Function("arctan", _nc("arctan"), lambda g, x: _nc("arctan_backward")(g, x), ref.arctan, ref.arctan_grad,
             torch=_torch_fn("torch.atan(x)")),
    Function("isru", nc.isru, lambda g, x: nc.isru_backward(g, x), ref.isru, ref.isru_grad),
    Function("isrlu", nc.isrlu, lambda g, x: nc.isrlu_backward(g, x), ref.isrlu, ref.isrlu_grad),
)


# ------------------------------------------------------------------------------------------- error measures


def _exact_mismatch(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Where a value that must match exactly (NaN, ±inf, 0 in the reference) does not."""
    both_nan = np.isnan(got) & np.isnan(want)
    return ~both_nan & ~(got == want)


def _worst(err: np.ndarray, where: np.ndarray) -> tuple[float, float]:
    """(max error, the input at it)."""
    i = int(np.argmax(err))
    return float(err[i]), float(where[i])


def f32_forward_ulp(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """ulp error wherever the reference is a normal float32 (or 0 / ±inf / NaN, which must match exactly)."""
    counted = ~np.isfinite(want) | (np.abs(want) >= np.finfo(np.float32).tiny) | (want == 0)
    return np.where(counted, ref.ulp_error(got, want), 0.0)


def f32_backward_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got − want| / max(1, |want|) in units of 2^-21; non-finite references must match exactly."""
    got = got.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - want) / np.maximum(1.0, np.abs(want)) / F32_BWD_UNIT
    special = ~np.isfinite(want) | ~np.isfinite(got)
    return np.where(special, np.where(_exact_mismatch(got, want), np.inf, 0.0), err)


_TINY64 = np.finfo(np.float64).tiny


def f64_relative_error(got: np.ndarray, want: np.ndarray, den: np.ndarray | None = None) -> np.ndarray:
    """|got − want| / den (den = |want| unless given), in the precision of ``want`` (np.longdouble), counted
    where den is at least float64's smallest normal; 0, ±inf and NaN references must match exactly."""
    want = _overflow_to_inf(np.asarray(want))
    return _relative(got.astype(want.dtype), want, want, den)


def _overflow_to_inf(want: np.ndarray) -> np.ndarray:
    """References beyond float64's range (selu(DBL_MAX) in long double) as float64 rounds them: ±inf."""
    with np.errstate(over="ignore"):
        return np.where(np.abs(want) > np.finfo(np.float64).max, want.astype(np.float64), want).astype(want.dtype)


def _relative(a: np.ndarray, b: np.ndarray, want: np.ndarray, den: np.ndarray | None) -> np.ndarray:
    """|a − b| / max(|den|, |want|), counted where that is at least float64's smallest normal; where the
    reference ``want`` is 0, ±inf or NaN, or a or b is not finite, a and b must be equal (NaN equal to NaN)."""
    den = np.abs(want) if den is None else np.maximum(np.abs(den), np.abs(want))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        err = (np.abs(a - b) / den).astype(np.float64)
    special = ~np.isfinite(want) | (want == 0) | ~np.isfinite(a) | ~np.isfinite(b)
    err = np.where(special, np.where(_exact_mismatch(a, b), np.inf, 0.0), err)
    counted = special | (den >= _TINY64)
    return np.where(counted, err, 0.0)


# ---------------------------------------------------------------------------------------------- measuring


@dataclass
class Measure:
    """One error figure: the max over finite inputs, the input where it occurs, its target, whether the special
    inputs (±inf, NaN) gave the formula's limits, and whether all of it meets the target."""

    value: float
    at: float
    target: float
    note: str = ""
    #: Special inputs (±inf, NaN) whose result is not the reference's, and a few of them spelled out.
    special_misses: int = 0
    special: str = ""

    @property
    def ok(self) -> bool:
        return self.value <= self.target and not self.special_misses

    def as_dict(self) -> dict[str, Any]:
        return {"value": _json_float(self.value), "at": _json_float(self.at), "target": self.target, "ok": self.ok,
                "special_misses": self.special_misses, "special": self.special, "note": self.note}

    @property
    def notes(self) -> str:
        return "; ".join(filter(None, [self.note, self.special and f"at ±inf/NaN: {self.special}"]))


def _measure(err: np.ndarray, x: np.ndarray, target: float, got: np.ndarray, want: np.ndarray) -> Measure:
    """The max of ``err`` over finite inputs, and the special inputs (±inf, NaN) missing the target."""
    finite = np.isfinite(x)
    value, at = _worst(np.where(finite, err, 0.0), x)
    missed = np.nonzero(~finite & (err > target))[0]
    special = "; ".join(f"x = {x[i]}: got {float(got[i]):.3g}, want {float(want[i]):.3g}" for i in missed[:3])
    return Measure(value, at, target, "", missed.size, special)


@dataclass
class Row:
    function: str
    isa: str
    measures: dict[str, Measure] = field(default_factory=dict)
    skipped: str = ""


@dataclass
class _Inputs:
    """Everything about one function that does not depend on the ISA: inputs, references, torch's results."""

    x32: np.ndarray
    ref32: np.ndarray
    grad32: np.ndarray
    x64: np.ndarray
    ref64: np.ndarray  # np.longdouble
    grad64: np.ndarray
    scale64: np.ndarray | None
    y32: np.ndarray | None = None
    grad_y32: np.ndarray | None = None
    y64: np.ndarray | None = None
    grad_y64: np.ndarray | None = None
    torch_fwd: np.ndarray | None = None
    torch_bwd: np.ndarray | None = None


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _torch_eval(fn: Callable[[Any], Any], x64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import torch

    x = torch.from_numpy(x64.copy()).requires_grad_(True)
    y = fn(x)
    y.backward(torch.ones_like(y))
    return y.detach().numpy(), x.grad.numpy()


def prepare(f: Function, x32: np.ndarray, x64: np.ndarray, use_torch: bool) -> _Inputs:
    xl = x64.astype(np.longdouble)
    d = _Inputs(x32=x32, ref32=f.ref(x32.astype(np.float64)), grad32=f.ref_grad(x32.astype(np.float64)),
                x64=x64, ref64=f.ref(xl), grad64=f.ref_grad(xl),
                scale64=f.grad_scale(xl) if f.grad_scale is not None else None)
    if f.ref_grad_y is not None:
        with np.errstate(over="ignore"):
            d.y32 = d.ref32.astype(np.float32)  # correctly rounded y (the reference is exact to float32's eye)
        d.grad_y32 = f.ref_grad_y(d.y32.astype(np.float64))
        with np.errstate(over="ignore"):
            d.y64 = d.ref64.astype(np.float64)
        d.grad_y64 = f.ref_grad_y(d.y64.astype(np.longdouble))
    if use_torch and f.torch is not None:
        d.torch_fwd, d.torch_bwd = _torch_eval(f.torch, x64)
    return d


def _torch_measure(mine: np.ndarray, theirs: np.ndarray, want: np.ndarray, den: np.ndarray | None,
                   x: np.ndarray) -> Measure:
    """Max relative difference normcore vs torch where torch itself is accurate: inputs where torch is further
    than 1e-12 from the reference and further than normcore are left out, and those among them where the two
    differ by more than the target are counted in the note."""
    want = _overflow_to_inf(want)
    diff = _relative(mine.astype(want.dtype), theirs.astype(want.dtype), want, den)
    e_torch = f64_relative_error(theirs, want, den)
    e_mine = f64_relative_error(mine, want, den)
    torch_off = (e_torch > F64_TARGET) & (e_mine < e_torch)
    shown = np.nonzero(torch_off & (diff > TORCH_TARGET))[0]
    note = ""
    if shown.size:
        nice = shown[np.isfinite(x[shown]) & np.isfinite(theirs[shown])]
        i = nice[np.argmax(diff[nice])] if nice.size else shown[0]
        note = f"torch inexact at {shown.size} inputs (e.g. x = {x[i]:.9g}: torch {theirs[i]:.6g}, " \
               f"reference {float(want[i]):.6g})"
    m = _measure(np.where(torch_off, 0.0, diff), x, TORCH_TARGET, mine, theirs)
    m.note, m.special = note, m.special.replace("want", "torch")
    return m


def measure_isa(f: Function, d: _Inputs, isa: str) -> Row:
    row = Row(f.name, isa)
    m = row.measures
    ones32, ones64 = np.ones_like(d.x32), np.ones_like(d.x64)
    with np.errstate(all="ignore"):
        got32 = f.forward(d.x32)
        m["f32 fwd"] = _measure(f32_forward_ulp(got32, d.ref32), d.x32, F32_ULP_TARGET, got32, d.ref32)
        got = f.backward(ones32, d.x32)
        m["f32 bwd x"] = _measure(f32_backward_error(got, d.grad32), d.x32, F32_BWD_TARGET, got, d.grad32)
        if f.backward_y is not None:
            got = f.backward_y(ones32, d.y32)
            m["f32 bwd y"] = _measure(f32_backward_error(got, d.grad_y32), d.y32, F32_BWD_TARGET, got, d.grad_y32)
        got64 = f.forward(d.x64)
        bwd64 = f.backward(ones64, d.x64)
        m["f64 fwd"] = _measure(f64_relative_error(got64, d.ref64), d.x64, F64_TARGET, got64, d.ref64)
        m["f64 bwd x"] = _measure(f64_relative_error(bwd64, d.grad64, d.scale64), d.x64, F64_TARGET, bwd64,
                                  d.grad64)
        if f.backward_y is not None:
            got = f.backward_y(ones64, d.y64)
            m["f64 bwd y"] = _measure(f64_relative_error(got, d.grad_y64), d.y64, F64_TARGET, got, d.grad_y64)
        if d.torch_fwd is not None:
            m["torch fwd"] = _torch_measure(got64, d.torch_fwd, d.ref64, None, d.x64)
            m["torch bwd"] = _torch_measure(bwd64, d.torch_bwd, d.grad64, d.scale64, d.x64)
    return row


def implemented(f: Function) -> str:
    """"" when normcore implements the function (both directions), else why not."""
    probe = np.zeros(4, dtype=np.float32)
    try:
        f.forward(probe)
        f.backward(np.ones_like(probe), probe)
    except NotImplementedError as e:
        return f"not implemented ({e})"
    return ""


def measure(functions: tuple[Function, ...] = FUNCTIONS, isas: list[str] | None = None, *,
            use_torch: bool | None = None, progress: Callable[[str], None] | None = None,
            x32: np.ndarray | None = None, x64: np.ndarray | None = None) -> list[Row]:
    """Every figure for every function and ISA (inputs: the default sweeps unless given)."""
    use_torch = _torch_available() if use_torch is None else use_torch
    isas = isas or nc.available_isas()
    x32 = ref.float32_sweep() if x32 is None else x32
    x64 = ref.float64_sweep() if x64 is None else x64
    rows: list[Row] = []
    before = nc.active_isa()
    try:
        for f in functions:
            t0 = time.perf_counter()
            why = implemented(f)
            if why:
                rows += [Row(f.name, isa, skipped=why) for isa in isas]
                if progress:
                    progress(f"{f.name}: skipped, {why}")
                continue
            d = prepare(f, x32, x64, use_torch)
            for isa in isas:
                _core.set_isa(isa)
                rows.append(measure_isa(f, d, isa))
            if progress:
                progress(f"{f.name}: {time.perf_counter() - t0:.1f} s")
    finally:
        _core.set_isa(before)
    return rows


# ------------------------------------------------------------------------------------------------ reports

COLUMNS = {  # measure key → (header, format)
    "f32 fwd": ("float32 fwd max ulp", "{:.2f}"),
    "f32 bwd x": ("float32 bwd (x) max err [2⁻²¹]", "{:.3f}"),
    "f32 bwd y": ("float32 bwd (y) max err [2⁻²¹]", "{:.3f}"),
    "f64 fwd": ("float64 fwd max rel", "{:.2e}"),
    "f64 bwd x": ("float64 bwd (x) max rel", "{:.2e}"),
    "f64 bwd y": ("float64 bwd (y) max rel", "{:.2e}"),
    "torch fwd": ("vs torch fwd max rel diff", "{:.2e}"),
    "torch bwd": ("vs torch bwd max rel diff", "{:.2e}"),
}
TABLES = (
    ("float32", "target: forward ≤ 4 ulp, backward ≤ 1 (in units of 2⁻²¹ of max(1, |ref|))",
     ("f32 fwd", "f32 bwd x", "f32 bwd y")),
    ("float64", "target: relative error ≤ 1e-12", ("f64 fwd", "f64 bwd x", "f64 bwd y")),
    ("PyTorch float64", "target: relative difference ≤ 1e-10", ("torch fwd", "torch bwd")),
)


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)


def _fmt(v: float, fmt: str) -> str:
    return fmt.format(v) if math.isfinite(v) else str(v)


def _status(m: Measure) -> str:
    if m.ok:
        return "pass"
    return "**FAIL**" if m.value > m.target else "**FAIL** (±inf/NaN)"


def failures(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        for key, m in r.measures.items():
            if not m.ok:
                header, fmt = COLUMNS[key]
                var = "y" if key.endswith(" y") else "x"
                if m.value > m.target:
                    out.append(f"{r.function}, {r.isa}: {header} = {_fmt(m.value, fmt)} (target {m.target:g}) "
                               f"at {var} = {m.at!r}")
                if m.special_misses:
                    out.append(f"{r.function}, {r.isa}: {header.split(' max')[0]} at ±inf/NaN: {m.special}")
    return out


def table(rows: list[Row], keys: tuple[str, ...]) -> list[str]:
    present = [k for k in keys if any(k in r.measures for r in rows)]
    if not present:
        return []
    headers = ["function", "ISA"]
    for k in present:
        var = "y" if k.endswith(" y") else "x"
        headers += [COLUMNS[k][0], f"at {var} =", "target"]
    notes = any(m.notes for r in rows for k, m in r.measures.items() if k in present)
    lines = ["| " + " | ".join(headers + (["notes"] if notes else [])) + " |",
             "|" + "|".join([":---", ":---"] + ["---:", "---:", ":---"] * len(present) + ([":---"] if notes else []))
             + "|"]
    shown_skips = set()
    for r in rows:
        if r.skipped:
            if r.function not in shown_skips:  # one line for all ISAs
                shown_skips.add(r.function)
                lines.append("| " + " | ".join([r.function, "all", r.skipped] + [""] * (3 * len(present) - 1
                                                                                         + notes)) + " |")
            continue
        if not any(k in r.measures for k in present):
            continue
        cells = [r.function, r.isa]
        for k in present:
            m = r.measures.get(k)
            cells += ["—", "", ""] if m is None else [_fmt(m.value, COLUMNS[k][1]), f"{m.at:.9g}", _status(m)]
        if notes:
            cells.append("; ".join(f"{COLUMNS[k][0].split(' max')[0]}: {r.measures[k].notes}"
                                   for k in present if k in r.measures and r.measures[k].notes))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def markdown(rows: list[Row], command: str, elapsed_s: float) -> str:
    fails = failures(rows)
    skipped = sorted({f"{r.function}: {r.skipped}" for r in rows if r.skipped})
    tv = _torch_version()
    lines = [
        "# Accuracy",
        "",
        f"Written by `{command}` (normcore {nc.__version__}, NumPy {np.__version__}, "
        f"{'PyTorch ' + tv if tv else 'PyTorch not installed'}, {datetime.date.today().isoformat()}, "
        f"{elapsed_s:.0f} s); do not edit by hand. The measures are described in the docstring of "
        "`tools/accuracy.py`; in short:",
        "",
        "- **float32**: forward, max error in ulp over ≥ 2^20 inputs spread over the bit patterns of [−90, 90] plus "
        "±0, ±inf, NaN and subnormals, wherever the float64 reference is a normal float32 (target ≤ 4 ulp); "
        "backward with grad_output = 1, max |got − ref| / max(1, |ref|) in units of 2⁻²¹ (target ≤ 1), from x "
        "and, where PyTorch computes it so, from the forward's output y (correctly rounded y, reference g(y) "
        "exact at that y).",
        "- **float64**: max relative error over 2^20 inputs (half uniform in [−90, 90], half spread over the bit "
        "patterns of [−90, 90]), wherever the reference is a normal float64 (target ≤ 1e-12). References in "
        "80-bit long double (erf-form GELU: float64 erfc with its argument's rounding corrected, ~1e-16), checked "
        "against mpmath by `tests/test_reference_precision.py`. Derivatives that are sums of terms cancelling at "
        "a zero of f′ (gelu, silu, swish, mish) are measured relative to the size of the terms.",
        "- **PyTorch**: max relative difference to torch in float64, forward and autograd backward (target ≤ "
        "1e-10), over the inputs where torch itself is accurate: inputs where torch is more than 1e-12 from the "
        "reference and further from it than normcore are left out, and those of them where the two differ by "
        "more than the target are counted in the notes (torch's 1 − y² and y(1 − y) backward forms, "
        "½x(1 + tanh u) cancelling, NaN from inf·0 at ±inf).",
        "- Every max is over finite inputs; ±inf and NaN inputs must give the formula's limit (NaN for NaN), "
        "and those that do not are listed in the notes and fail (\"FAIL (±inf/NaN)\").",
        f"- Parameters: celu alpha = {CELU_ALPHA:g}, swish beta = {SWISH_BETA:g}, other functions at PyTorch's "
        "defaults (elu alpha = 1, softplus beta = 1 / threshold = 20, isru/isrlu alpha = 1).",
        "",
        "## Failures",
        "",
        *([f"- {f}" for f in fails] if fails else ["None: every target is met."]),
        "",
    ]
    if skipped:
        lines += ["## Not measured", "", *(f"- {s}" for s in skipped), ""]
    for title, target, keys in TABLES:
        t = table(rows, keys)
        if t:
            lines += [f"## {title}", "", f"{target}.", "", *t, ""]
    return "\n".join(lines)


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [{"function": r.function, "isa": r.isa, "skipped": r.skipped,
             "measures": {k: m.as_dict() for k, m in r.measures.items()}} for r in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--markdown", type=Path, help="write the tables to this Markdown file (docs/accuracy.md)")
    p.add_argument("--json", type=Path, help="write every figure as JSON")
    p.add_argument("--functions", metavar="REGEX", help="only the functions whose name matches (re.search)")
    p.add_argument("--isas", nargs="+", help="only these ISA variants (default: every one this CPU runs)")
    p.add_argument("--no-torch", action="store_true", help="skip the comparison with PyTorch")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when a target is missed")
    args = p.parse_args(argv)
    functions = tuple(f for f in FUNCTIONS if not args.functions or re.search(args.functions, f.name))
    if not functions:
        p.error(f"no function matches {args.functions!r}: {', '.join(f.name for f in FUNCTIONS)}")
    bad = set(args.isas or []) - set(nc.available_isas())
    if bad:
        p.error(f"ISA(s) not available on this CPU: {', '.join(sorted(bad))}")
    argv_used = sys.argv[1:] if argv is None else argv
    command = " ".join(["python tools/accuracy.py", *argv_used])
    t0 = time.perf_counter()
    rows = measure(functions, args.isas, use_torch=False if args.no_torch else None,
                   progress=lambda s: print(s, file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - t0
    text = markdown(rows, command, elapsed)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(as_json(rows), indent=1) + "\n", encoding="utf-8")
    fails = failures(rows)
    print(f"{len(fails)} target(s) missed; {elapsed:.0f} s", file=sys.stderr)
    return 1 if args.strict and fails else 0


if __name__ == "__main__":
    sys.exit(main())
