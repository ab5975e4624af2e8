"""tools/norm_shapes.py: every case it times computes what PyTorch computes (so that a ratio compares like with
like), and its command line runs and counts the cases where torch is faster."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

_PATH = Path(__file__).resolve().parents[1] / "tools" / "norm_shapes.py"
_spec = importlib.util.spec_from_file_location("normcore_norm_shapes_tool", _PATH)
norm_shapes = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = norm_shapes
_spec.loader.exec_module(norm_shapes)


def _first(result):
    """The main output of a call: y of a forward tuple, dx of a backward tuple, or the array itself."""
    return result[0] if isinstance(result, (tuple, list)) else result


def test_cases_compute_the_same_as_torch():
    rng = np.random.default_rng(0)
    todo = norm_shapes.cnn_cases(torch, (2, 32, 3, 3), rng) + norm_shapes.row_cases(torch, 8, 64, rng)
    todo += norm_shapes.small_plane_group_cases(torch, (6, 16), 4, rng)
    assert len(todo) == 12
    for name, ours, theirs in todo:
        got, want = np.asarray(_first(ours())), _first(theirs()).detach()
        if "NHWC" in name:  # torch's result is the permuted view of the channels-last array
            want = want.permute(0, 2, 3, 1)
        np.testing.assert_allclose(got, want.contiguous().numpy(), rtol=2e-4, atol=2e-4, err_msg=name)


def test_command_line_counts_losses(capsys):
    losses = norm_shapes.main(["--quick", "--reps", "1", "--budget", "0", "--threads", "1"])
    out = capsys.readouterr().out
    total = 2 * 7 + 3 + 2
    assert f"{losses} of {total} cases slower than torch" in out
    assert out.count("\n") == total + 2  # header, one line per case, summary
