"""The benchmark harness (python -m normcore bench): run in process on tiny sizes and a tiny time budget, it
checks every contender against normcore, flags a wrong one, times the rest and writes its reports; the command
line runs once for real in a subprocess."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from functools import partial

import numpy as np
import pytest

import normcore as nc
from normcore.__main__ import main
from normcore.bench import cases, harness, report
from normcore.bench.cases import NUMPY, Contender
from normcore.bench.cli import StderrProgress, command_line

#: Measures for a few milliseconds per contender: enough to exercise every step, not to mean anything.
TINY = harness.Config(budget_s=0.003, turn_s=0.001, sample_s=0.0002, settle_s=0.0005, min_rounds=2, max_rounds=4,
                      warmup_s=0.001)
THREADS = [1, 2]


@pytest.fixture(scope="module")
def suite() -> harness.Suite:
    """Every default case at 4096 elements (and the overhead case at 100), on 1 and 2 threads."""
    before = nc.get_num_threads()
    s = harness.run_suite(cases.default_cases(sizes=(4096,), overhead_n=100), THREADS, TINY)
    assert nc.get_num_threads() == before  # restored
    return s


def relu_case(n: int = 1000, *extra: Contender) -> cases.Case:
    case = cases.make_case(cases.ACTIVATION_OPS[0], n)
    return dataclasses.replace(case, contenders=case.contenders + extra)


def run_one(case: cases.Case, threads: int = 1) -> harness.Row:
    inputs = case.setup(np.random.default_rng(0), case.n)
    return harness.run_row(case, inputs, np.empty_like(inputs[0]), threads, TINY)


# ---------------------------------------------------------------------------------------------- in process


def test_every_row_checked_and_timed(suite):
    assert len(suite.rows) == (len(cases.ACTIVATION_OPS) + 1) * len(THREADS)
    for row in suite.rows:
        assert not row.error, row.label
        for r in row.results:
            assert r.status == "ok", (row.label, r.name, r.detail)
            assert r.median_s is not None and r.median_s > 0, (row.label, r.name)
            assert r.rounds >= TINY.min_rounds and r.calls_per_sample >= 1
        assert row.result("normcore") is not None and row.result("numpy") is not None
        assert row.speedup is not None and row.speedup > 0
        assert row.other_load is None or row.other_load >= 0
        if row.group == "activation":
            assert row.roofline_s is not None and row.roofline_s > 0 and row.bandwidth_gbs > 0
        else:
            assert row.roofline_s is None


def test_peers_follow_availability(suite):
    names = {r.name for row in suite.rows for r in row.results}
    for lib in (cases.TORCH, cases.ONNXRUNTIME):
        assert (lib.name in names) == lib.available()
    backward = [row for row in suite.rows if row.name.endswith("bwd")]
    assert backward and all(row.result("onnxruntime") is None for row in backward)


def test_reports(suite, tmp_path):
    text = report.text_report(suite)
    assert "sigmoid bwd" in text and "Summary" in text and "speed-up" in text

    report.write_json(suite, tmp_path / "bench.json")
    data = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert data["machine"]["isa"] == nc.active_isa()
    assert len(data["rows"]) == len(suite.rows)
    first = data["rows"][0]["contenders"]["normcore"]
    assert first["status"] == "ok" and first["median_s"] > 0 and len(first["samples_s"]) >= TINY.min_rounds
    assert set(data["summary"]) == {str(t) for t in THREADS}
    assert data["summary"]["1"]["speedup_geomean"] > 0

    report.write_markdown(suite, tmp_path / "performance.md")
    md = (tmp_path / "performance.md").read_text(encoding="utf-8")
    assert md.startswith("# normcore performance")
    table = [line for line in md.splitlines() if line.startswith("| relu fwd |")]
    assert len(table) == len(THREADS)
    header = next(line for line in md.splitlines() if line.startswith("| case |"))
    assert all(line.count("|") == header.count("|") for line in table)


def test_busy_machine_is_reported(suite):
    quiet = dataclasses.replace(suite, rows=[dataclasses.replace(r, other_load=0.0) for r in suite.rows])
    assert report.busy(quiet) == []
    rows = [dataclasses.replace(r, other_load=1.0 if i == 1 else 0.0) for i, r in enumerate(suite.rows)]
    loud = dataclasses.replace(suite, rows=rows)
    assert len(report.busy(loud)) == 1 and rows[1].label in report.busy(loud)[0]
    assert "**Warning:**" in report.markdown_report(loud)
    assert "1.00" in report.throughput_table(loud).rows[1]


def test_wrong_failing_and_idle_contenders_are_flagged_not_timed():
    def plus_one(x, out):
        return partial(np.add, x, 1.0, out=out)

    def raises(x, out):
        def run():
            raise RuntimeError("boom")

        return run

    def idle(x, out):  # leaves the NaN-filled output as it is: must not pass for normcore's answer
        return lambda: None

    row = run_one(relu_case(1000, Contender("plus one", NUMPY, plus_one), Contender("raises", NUMPY, raises),
                            Contender("idle", NUMPY, idle)))
    assert row.result("plus one").status == "WRONG" and row.result("plus one").max_abs_err >= 1.0
    assert row.result("idle").status == "WRONG"
    assert row.result("raises").status == "error" and "boom" in row.result("raises").detail
    for name in ("plus one", "idle", "raises"):
        assert row.result(name).median_s is None
    assert row.result("numpy").status == "ok" and row.result("numpy").median_s > 0
    assert row.best_peer.name != "plus one"
    assert any("plus one WRONG" in p for p in report.problems(harness.Suite({}, TINY, [1], [row])))


def test_compare_tolerances():
    ref = np.array([1.0, -2.0, np.nan, 0.0], dtype=np.float32)
    assert harness.compare(ref.copy(), ref, cases.EXACT)[0]
    assert harness.compare(np.array([1.0, -2.0, np.nan, -0.0], np.float32), ref, cases.EXACT)[0]
    near = np.nextafter(ref, np.float32(np.inf))
    assert not harness.compare(near, ref, cases.EXACT)[0]
    assert harness.compare(near, ref, cases.FLOAT32_TOL)[0]
    assert not harness.compare(np.array([1.0, -2.0, 0.0, 0.0], np.float32), ref, cases.FLOAT32_TOL)[0]


def test_select_by_name_and_size():
    all_cases = cases.default_cases()
    assert [c.label for c in harness.select(all_cases, "^sigmoid fwd")] == ["sigmoid fwd 16M", "sigmoid fwd 64K"]
    assert {c.name for c in harness.select(all_cases, "relu fwd")} == {"relu fwd", "leaky_relu fwd"}
    assert all(c.size == "64K" for c in harness.select(all_cases, "bwd 64K"))
    assert len(harness.select(all_cases, None)) == len(all_cases)


def test_progress_lines():
    stream = io.StringIO()
    progress = StderrProgress(stream)
    case = relu_case(1000)
    progress.start(3, 7, case, 2)
    progress.done(run_one(case, threads=2))
    line = stream.getvalue()
    assert line.startswith("[3/7] relu fwd 1000 t=2 ...") and "normcore" in line and line.endswith("\n")


def test_command_line_spelling():
    assert command_line(["/x/normcore/__main__.py", "bench", "--filter", "relu fwd"]) == \
        "python -m normcore bench --filter 'relu fwd'"


def test_cli_in_process(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["bench", "--quick", "--filter", "^sigmoid bwd", "--threads", "1", "--sizes", "2048",
                 "--json", str(out), "--markdown", str(tmp_path / "r.md")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "[1/1] sigmoid bwd 2K t=1" in captured.err
    assert "sigmoid bwd" in captured.out
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [(r["name"], r["n"], r["threads"]) for r in rows] == [("sigmoid bwd", 2048, 1)]
    assert (tmp_path / "r.md").read_text(encoding="utf-8").count("| sigmoid bwd |") == 1


@pytest.mark.parametrize("args", [["--isa", "sse9"], ["--filter", "no such case"], ["--filter", "("],
                                  ["--threads", "0"]])
def test_cli_rejects_bad_arguments(args, capsys):
    assert main(["bench", *args]) == 2
    assert "normcore bench:" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------- subprocess


def test_quick_command(tmp_path):
    """The real thing, as a user runs it (default sizes, quick budget, one thread)."""
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "normcore", "bench", "--quick", "--filter", "relu fwd", "--threads", "1",
           "--json", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={**os.environ, "PYTHONWARNINGS": "error"})
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    labels = [(row["name"], row["size"]) for row in data["rows"]]
    assert labels == [("relu fwd", "16M"), ("relu fwd", "64K"), ("leaky_relu fwd", "16M"), ("leaky_relu fwd", "64K")]
    assert all(row["contenders"]["normcore"]["median_s"] > 0 for row in data["rows"])
    assert data["command"].startswith("python -m normcore bench --quick")
    assert r.stderr.count("[") >= 4 and "[4/4] leaky_relu fwd 64K t=1" in r.stderr
