"""tools/accuracy.py: its error measures flag what they should, not-implemented functions are listed rather
than failed, and the command line writes its table (on small sweeps, one ISA)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import normcore as nc
import reference as ref

_PATH = Path(__file__).resolve().parents[1] / "tools" / "accuracy.py"
_spec = importlib.util.spec_from_file_location("normcore_accuracy_tool", _PATH)
accuracy = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = accuracy  # dataclasses look their module up there
_spec.loader.exec_module(accuracy)

X32 = ref.float32_sweep(count=1 << 12)
X64 = ref.float64_sweep(count=1 << 12)


def sigmoid_like(name, forward=nc.sigmoid, backward=lambda g, x: nc.sigmoid_backward(g, x)):
    return accuracy.Function(name, forward, backward, ref.sigmoid, ref.sigmoid_grad,
                             backward_y=lambda g, y: nc.sigmoid_backward(g, y=y), ref_grad_y=ref.sigmoid_grad_from_y)


def run(*functions, use_torch=False):
    return accuracy.measure(functions, [nc.active_isa()], use_torch=use_torch, x32=X32, x64=X64)


def test_measures_pass_for_a_correct_kernel():
    (row,) = run(sigmoid_like("sigmoid"))
    assert set(row.measures) == {"f32 fwd", "f32 bwd x", "f32 bwd y", "f64 fwd", "f64 bwd x", "f64 bwd y"}
    assert all(m.ok for m in row.measures.values()), row.measures
    assert accuracy.failures([row]) == []


def test_measures_flag_errors():
    def off(fn, factor):
        return lambda *a: fn(*a) * np.asarray(factor).astype(a[-1].dtype)

    (row,) = run(sigmoid_like("slightly off", off(nc.sigmoid, 1 + 1e-6),
                              off(lambda g, x: nc.sigmoid_backward(g, x), 1 + 1e-6)))
    m = row.measures
    assert 4 < m["f32 fwd"].value < 20 and not m["f32 fwd"].ok       # 1e-6 relative ≈ 8-17 ulp
    assert m["f64 fwd"].value == pytest.approx(1e-6, rel=1e-3)
    assert not m["f64 bwd x"].ok and m["f64 bwd y"].ok
    fails = accuracy.failures([row])
    assert any(f.startswith(f"slightly off, {nc.active_isa()}: float32 fwd max ulp") for f in fails)


def test_overflowing_reference_is_inf():
    """selu(DBL_MAX) overflows float64: inf is the right answer, not an error."""
    got = np.array([np.inf, 1.0])
    want = np.array([np.finfo(np.float64).max, 1.0], dtype=np.longdouble) * np.longdouble(1.05)
    assert accuracy.f64_relative_error(got, want)[0] == 0.0


def test_not_implemented_is_listed_not_failed(tmp_path):
    def missing(*args):
        raise NotImplementedError("not yet")

    rows = run(accuracy.Function("future", missing, missing, ref.arctan, ref.arctan_grad))
    assert rows[0].skipped and not rows[0].measures and accuracy.failures(rows) == []
    md = accuracy.markdown(rows, "cmd", 0.0)
    assert "## Not measured" in md and "future: not implemented (not yet)" in md


def test_torch_comparison():
    pytest.importorskip("torch")
    (row,) = run(next(f for f in accuracy.FUNCTIONS if f.name == "tanh"), use_torch=True)
    assert row.measures["torch fwd"].ok and row.measures["torch bwd"].ok
    # torch computes tanh′ as 1 − y², 0 where y rounds to ±1: left out of the max, counted in the note
    assert "torch inexact" in row.measures["torch bwd"].note


def test_command_line(tmp_path):
    out = tmp_path / "accuracy.md"
    assert accuracy.main(["--functions", "^softsign$", "--isas", nc.active_isa(), "--no-torch",
                          "--markdown", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Accuracy") and "| softsign |" in text and "## Failures" in text
