"""The benchmark harness (python -m normcore bench): run in process on tiny sizes and a tiny time budget, it
checks every contender against normcore, flags a wrong one, times the rest and writes its reports; the command
line runs once for real in a subprocess."""

from __future__ import annotations

import dataclasses
import io
import json
import math
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
from normcore.bench.machine import machine_info

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


def _not_implemented(op: cases.Op) -> bool:
    """Whether this build of normcore lacks the op (its case is then skipped, not failed)."""
    mine = dict(op.spellings)[cases.NORMCORE]
    probe = op.setup(np.random.default_rng(0), 8)
    try:
        mine(*probe, out=np.empty_like(probe[0]))()
    except NotImplementedError:
        return True
    return False


def test_every_row_checked_and_timed(suite):
    assert len(suite.rows) == (len(cases.ACTIVATION_OPS) + 1) * len(THREADS)
    ops = {op.name: op for op in cases.ACTIVATION_OPS}
    for row in suite.rows:
        assert not row.error, row.label
        if row.name in ops and _not_implemented(ops[row.name]):
            assert row.skipped.startswith("not implemented"), row.label
            assert all(r.status == "skipped" and r.median_s is None for r in row.results)
            continue
        assert not row.skipped, row.label
        for r in row.results:
            assert r.status == "ok", (row.label, r.name, r.detail)
            assert r.median_s is not None and r.median_s > 0, (row.label, r.name)
            assert r.rounds >= TINY.min_rounds and r.calls_per_sample >= 1
        assert row.result("normcore") is not None
        has_numpy = row.name not in ops or any(lib is cases.NUMPY for lib, _ in ops[row.name].spellings)
        assert (row.result("numpy") is not None) == has_numpy, row.label
        assert row.speedup is not None and row.speedup > 0
        assert row.other_load is None or row.other_load >= 0
        if row.group == "activation":
            assert row.roofline_s is not None and row.roofline_s > 0 and row.bandwidth_gbs > 0
        else:
            assert row.roofline_s is None


def test_catalog_is_covered():
    """Forward and backward of every activation the issue lists, at both default sizes."""
    names = {op.name for op in cases.ACTIVATION_OPS}
    for fn in ("relu", "leaky_relu", "sigmoid", "elu", "selu", "gelu_tanh", "gelu", "silu", "mish", "tanh",
               "softplus", "hardswish", "arctan"):
        assert {f"{fn} fwd", f"{fn} bwd"} <= names, fn
    labels = {c.label for c in cases.default_cases()}
    assert {"mish fwd 16M", "mish fwd 64K", "hardswish bwd 16M", "gelu fwd 64K"} <= labels
    for op in cases.ACTIVATION_OPS:
        assert op.streams == (2 if op.name.endswith("fwd") else 3), op.name
        libs = [lib for lib, _ in op.spellings]
        assert libs[0] is cases.NORMCORE and cases.TORCH in libs, op.name
        assert (cases.ONNXRUNTIME in libs) == op.name.endswith("fwd"), op.name  # ORT has no backward ops


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
    lines = md.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("| case |")))
    throughput = lines[start:lines.index("", start)]
    table = [line for line in throughput if line.startswith("| relu fwd |")]
    assert len(table) == len(THREADS)
    assert all(line.count("|") == throughput[0].count("|") for line in table)
    cache = [line for line in md.split("## In-cache throughput")[1].splitlines() if line.startswith("| relu fwd |")]
    assert len(cache) == 1  # one line per case and size, a column per thread count
    assert "## Summary" in md and "target " in md


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
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert md.count("| sigmoid bwd | 2K | 1 |") == 1  # the throughput line
    assert md.split("## In-cache throughput")[1].count("| sigmoid bwd |") == 1


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


# ------------------------------------------------------------------------------------ the activation catalog


@pytest.mark.parametrize("op", [op for op in cases.ACTIVATION_OPS if op.tolerance != cases.EXACT],
                         ids=lambda op: op.name)
def test_tolerance_catches_a_wrong_answer(op):
    """A result off by 1e-4 relative (a wrong constant, a wrong formula is off by far more) fails the check."""
    inputs = op.setup(np.random.default_rng(1), 4096)
    mine = dict(op.spellings)[cases.NORMCORE]
    out = np.empty_like(inputs[0])
    try:
        mine(*inputs, out=out)()
    except NotImplementedError:
        pytest.skip(f"{op.name}: not in this build")
    assert harness.compare(out.copy(), out, op.tolerance)[0]
    assert not harness.compare(out * np.float32(1.0001), out, op.tolerance)[0]


def test_wrong_formula_is_flagged():
    """gelu's tanh form checked against silu's answer (close in shape, wrong formula): WRONG."""
    op = next(op for op in cases.ACTIVATION_OPS if op.name == "gelu_tanh fwd")
    case = dataclasses.replace(cases.make_case(op, 4096), contenders=(
        Contender("normcore", cases.NORMCORE, lambda x, out: partial(nc.silu, x, out=out), "normcore"),
        Contender("gelu", NUMPY, lambda x, out: partial(nc.gelu, x, "tanh", out=out))))
    assert run_one(case).result("gelu").status == "WRONG"


def _raises_not_implemented(x, out):
    def run():
        raise NotImplementedError("kernel not in this build")

    return run


def _no_builder(x, out):
    raise NotImplementedError("no such function")


@pytest.mark.parametrize("builder", [_raises_not_implemented, _no_builder], ids=["at call", "at bind"])
def test_not_implemented_is_skipped_not_failed(builder, tmp_path):
    case = dataclasses.replace(relu_case(1000), name="future fwd", contenders=(
        Contender("normcore", cases.NORMCORE, builder, "normcore"),
        Contender("numpy", NUMPY, lambda x, out: partial(np.maximum, x, 0, out=out))))
    row = run_one(case)
    assert row.skipped.startswith("not implemented (")
    assert ("no such function" if builder is _no_builder else "kernel not in this build") in row.skipped
    assert not row.error and row.normcore_s is None and row.best_peer is None
    assert all(r.status == "skipped" and r.median_s is None for r in row.results)
    suite = harness.Suite(_machine(2e9), TINY, [1], [row])
    assert report.problems(suite) == [] and len(report.skipped(suite)) == 1
    assert "skipped: not implemented" in report.throughput_table(suite).rows[0]
    md = report.markdown_report(suite)
    assert "## Skipped" in md and "future fwd" in md
    assert "Skipped" in report.text_report(suite)
    stream = io.StringIO()
    progress = StderrProgress(stream)
    progress.start(1, 1, case, 1)
    progress.done(row)
    assert "skipped: not implemented" in stream.getvalue() and "error" not in stream.getvalue()


def test_gelu_none_and_arctan_skip_or_run():
    """gelu(approximate="none") and arctan run once normcore has them, and are skipped (not failed) until then."""
    for name in ("gelu fwd", "arctan bwd"):
        op = next(op for op in cases.ACTIVATION_OPS if op.name == name)
        row = run_one(cases.make_case(op, 2048))
        assert not row.error
        if _not_implemented(op):
            assert row.skipped
        else:
            assert not row.skipped and row.normcore_s and all(r.status == "ok" for r in row.results)


def test_single_threaded_peers_are_measured_once(suite):
    """NumPy and np.copyto run on one thread: measured in a case's first row and reused in its 2-thread row."""
    by_case: dict = {}
    for row in suite.rows:
        by_case.setdefault((row.name, row.n), []).append(row)
    checked = 0
    for rows in by_case.values():
        if rows[0].skipped:
            continue
        for name in ("numpy", "copy (np.copyto)"):
            first, *others = [row.result(name) for row in rows]
            for r in others:
                if first is not None:
                    assert r.samples_s == first.samples_s and r is not first
                    checked += 1
    assert checked > 10


def _machine(hz):
    return {**machine_info(), "cpu_hz": hz}


def _row(name, n, threads, mine, peer, copy):
    """A synthetic row: normcore, one peer and the copy roofline with the given median seconds."""
    results = [harness.Result("normcore", "normcore", "normcore", samples_s=[mine]),
               harness.Result("torch", "torch", "peer", samples_s=[peer]),
               harness.Result("copy (np.copyto)", "numpy", "roofline", samples_s=[copy])]
    streams = 2 if name.endswith("fwd") else 3
    return harness.Row(name, "activation", n, cases.size_label(n), "float32", threads, streams, streams * 4 * n,
                       "ms", results)


def test_targets_list_the_rows_that_miss():
    big, small = cases.LARGE, cases.SMALL
    rows = [
        _row("a fwd", big, 1, 1.0, 3.0, 1.0),     # 3× the peer, at copy speed: meets everything
        _row("a fwd", big, 2, 1.0, 0.5, 1.0),     # slower than the peer
        _row("b fwd", big, 1, 2.0, 4.0, 1.0),     # 2× the copy on 1 thread
        _row("b fwd", small, 1, 1e-5, 9e-6, 1e-6),  # slower than the peer in cache (no roofline target there)
        _row("a bwd", big, 1, 2.0, 4.0, 1.0),     # roofline 1.5 (3 streams): 1.33× → meets
        _row("b bwd", big, 2, 3.0, 9.0, 1.0),     # 2× the 3-stream roofline
        _row("c bwd", small, 1, 1e-4, 1e-3, 1e-6),  # far from the in-cache roofline: not judged
    ]
    suite = harness.Suite(_machine(2e9), TINY, [1, 2], rows)
    geo, faster, copy, bwd, *norm, own = report.targets(suite)
    assert own["status"] == "n/a"  # no case with targets of its own
    assert [t["status"] for t in norm] == ["n/a"] * 3  # no normalization row
    assert geo["values"]["1"] == pytest.approx(math.sqrt(3 * 2)) and geo["values"]["2"] == pytest.approx(0.5)
    assert geo["status"] == "MISSED" and len(geo["missed"]) == 1 and geo["missed"][0].startswith("2 threads")
    assert [m.split(":")[0] for m in faster["missed"]] == ["a fwd 16M t=2", "b fwd 64K t=1"]
    assert [m.split(":")[0] for m in copy["missed"]] == ["b fwd 16M t=1"] and copy["judged"] == 2
    assert [m.split(":")[0] for m in bwd["missed"]] == ["b bwd 16M t=2"] and bwd["judged"] == 2
    md = report.markdown_report(suite)
    assert "## Missed targets" in md and "- b bwd 16M t=2: 2.00× the roofline" in md
    assert "target MISSED: every forward at least as fast as the faster peer" in md
    data = report.json_report(suite)
    assert [x["status"] for x in data["targets"]] == ["MISSED"] * 4 + ["n/a"] * 4


def test_normalization_targets():
    """Issue 4's targets judge the normalization rows only: speed-up >= 1 each, geomean >= 2 per thread count,
    within 1.3× the roofline of the case's own stream count."""
    def norm_row(name, threads, mine, peer, copy, streams):
        row = _row(name, cases.LARGE, threads, mine, peer, copy)
        row.group, row.streams = "normalization", streams
        return row

    rows = [
        norm_row("bn train fwd NCHW", 1, 1.4, 4.0, 1.0, 3),   # roofline 1.5 s: 0.93×, 2.9× the peer
        norm_row("ln bwd (8,8)", 1, 2.0, 2.4, 1.0, 3),        # 1.33× the 1.5 s roofline: missed; 1.2× the peer
        norm_row("bn train fwd NCHW", 2, 1.0, 0.9, 1.0, 3),   # slower than the peer
        norm_row("ln bwd (8,8)", 2, 1.0, 5.0, 1.0, 3),
        _row("a fwd", cases.LARGE, 1, 1.0, 0.5, 1.0),         # an activation: not judged here
    ]
    suite = harness.Suite(_machine(2e9), TINY, [1, 2], rows)
    faster, geo, roof = report.targets(suite)[4:7]
    assert [m.split(":")[0] for m in faster["missed"]] == ["bn train fwd NCHW 16M t=2"] and faster["judged"] == 4
    assert geo["values"]["1"] == pytest.approx(math.sqrt(4 / 1.4 * 1.2))  # 1.85: missed
    assert geo["values"]["2"] == pytest.approx(math.sqrt(0.9 * 5.0)) and geo["missed"] == [
        f"1 thread: {report.fmt_ratio(math.sqrt(4 / 1.4 * 1.2))}"]
    assert [m.split(":")[0] for m in roof["missed"]] == ["ln bwd (8,8) 16M t=1"]
    assert "roofline of 3 streams" in roof["missed"][0]


def test_elements_per_cycle():
    """elem/cycle = n / (normcore's seconds × the nominal clock of the machine info), for in-cache rows."""
    row = _row("a fwd", cases.SMALL, 1, 16e-6, 20e-6, 8e-6)
    suite = harness.Suite(_machine(2.5e9), TINY, [1], [row])
    want = cases.SMALL / (16e-6 * 2.5e9)
    assert row.elements_per_cycle(2.5e9) == pytest.approx(want)
    table = report.in_cache_table(suite)
    assert table.rows == [["a fwd", "64K", f"{want:.2f}", f"{16e-6 / cases.SMALL * 1e9:.3f}"]]
    assert f"{want:.2f}" in report.throughput_table(suite).rows[0]
    assert "## In-cache throughput" in report.markdown_report(suite)
    assert report.in_cache_table(harness.Suite(_machine(2.5e9), TINY, [1],
                                                [_row("a fwd", cases.LARGE, 1, 1.0, 1.0, 1.0)])) is None


def test_onnx_models():
    """The opset is per node (Gelu needs 20, Mish 18) and the gate form spells silu as x·Sigmoid(x)."""
    pytest.importorskip("onnx")
    x = np.zeros(8, np.float32)
    gelu = cases.OnnxNode.of("Gelu", approximate="tanh", opset=20).model([x])
    assert gelu.opset_import[0].version == 20 and gelu.ir_version >= 9
    assert [n.op_type for n in gelu.graph.node] == ["Gelu"]
    silu = cases.OnnxNode.of("Sigmoid", gate=True).model([x])
    assert [n.op_type for n in silu.graph.node] == ["Sigmoid", "Mul"] and silu.opset_import[0].version == 17


def test_torch_allocating_copies_only_for_the_check():
    torch = pytest.importorskip("torch")
    out = torch.zeros(4)
    x = torch.arange(4.0)
    calls = []

    def fn(a):
        calls.append(1)
        return a * 2

    run = cases.torch_allocating(fn, x, out=out)
    run()
    assert out.tolist() == [0, 2, 4, 6]
    out.zero_()
    run()
    assert out.tolist() == [0, 0, 0, 0] and len(calls) == 2


def test_samples_shrink_when_the_machine_slows_down():
    """A contender fast in its warm-up and 100× slower afterwards (a busy neighbour) gets smaller blocks instead
    of turns that last seconds."""
    import time as _time

    count = [0]

    def call():
        count[0] += 1
        if count[0] > 3000:
            _time.sleep(0.0001)

    t0 = _time.perf_counter()
    timing = harness.measure({"c": call}, TINY)["c"]
    assert _time.perf_counter() - t0 < 2.0
    assert timing.calls_per_sample < 50 and max(timing.samples_s) >= 1e-4


def test_every_turn_starts_with_untimed_calls():
    """Each turn, on one thread as on several, begins with settle_s of untimed calls (what the previous contender
    left in the caches is not timed): the calls made exceed the timed ones and the warm-up by one per turn at least."""
    import time as _time

    count = [0]

    def call():
        count[0] += 1
        _time.sleep(0.0001)

    config = harness.Config(budget_s=0.001, turn_s=0.0005, sample_s=0.0002, settle_s=0.002, min_rounds=3,
                            max_rounds=3, warmup_s=0.0, warmup_calls=1)
    timing = harness.measure({"c": call}, config)["c"]
    timed = len(timing.samples_s) * timing.calls_per_sample
    assert timing.rounds == 3
    # one warm-up call, then at least one settling call per turn (without settling: none)
    assert count[0] - timed - 1 >= 3, (count[0], timed)


def test_normalization_cases_check_every_peer():
    """Issue 4's cases at tiny shapes: every peer's answer matches normcore's (the check runs before timing)."""
    norm = cases.norm_cases(bn=(2, 32, 3, 3), ln=(16, 8))
    assert {c.group for c in norm} == {"normalization"} and len(norm) == 14
    assert [c.n for c in norm[:6]] == [2 * 32 * 9] * 6
    s = harness.run_suite(norm, [1], TINY)
    for row in s.rows:
        assert not row.error and not row.skipped, (row.label, row.error, row.skipped)
        assert row.result("normcore") is not None
        for r in row.results:
            assert r.status == "ok", (row.label, r.name, r.detail)
    assert any(r.name == "torch" for row in s.rows for r in row.results) or not cases.TORCH.available()


def test_inference_cases_check_every_peer_and_own_targets():
    """Issue 5's cases at tiny shapes: every peer (ONNX Runtime's BatchNormalization → Relu, PyTorch's batch_norm +
    relu_, the NumPy / PyTorch image spellings, the unfolded model) matches normcore's answer; the Summary judges
    the cases' own targets (a made-up impossible target is reported as missed)."""
    inf = cases.inference_cases(bn=(2, 16, 5, 7), image=(2, 9, 11, 3), model_input=(2, 3, 16, 16))
    assert {c.group for c in inf} == {"inference"} and len(inf) == 3 + cases.TORCH.available()
    assert inf[2].bytes_moved == 5 * 2 * 9 * 11 * 3 and inf[0].min_speedup == 1.2 and inf[0].max_roofline == 1.2
    s = harness.run_suite(inf, [1], TINY)
    for row in s.rows:
        assert not row.error and not row.skipped, (row.label, row.error, row.skipped)
        for r in row.results:
            assert r.status == "ok", (row.label, r.name, r.detail)
    own = [t for t in report.targets(s) if "targets of its own" in t["target"]]
    assert len(own) == 1 and own[0]["judged"] == 3
    impossible = dataclasses.replace(inf[2], min_speedup=1e9)
    s2 = harness.run_suite([impossible], [1], TINY)
    own = [t for t in report.targets(s2) if "targets of its own" in t["target"]][0]
    assert own["status"] == "MISSED" and "target 1e+09×" in own["missed"][0]
