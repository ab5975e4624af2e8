"""Turning a :class:`~normcore.bench.harness.Suite` into tables: plain text for the terminal, Markdown for
docs/performance.md, JSON for machines."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .harness import Result, Row, Suite
from .peers import LIBRARIES, NORMCORE

#: Rows at most this big get an elements-per-cycle figure (in-cache sizes; memory-bound rows are about GB/s).
IN_CACHE_MAX = 2**20 - 1
#: A contender whose samples' interquartile range exceeds this fraction of its median is flagged as noisy.
NOISY = 0.10
#: Other processes using at least this many cores during a row are shown in its "others' load" column.
BUSY = 0.05

# The performance targets the Summary checks (the acceptance criteria).
#: Geometric-mean speed-up of the memory-bound (16M) forwards over the faster peer, per thread count.
TARGET_FWD_GEOMEAN = 2.0
#: Every forward at least this fast relative to the faster peer (speed-up >= 1), at every size and thread count.
TARGET_FWD_SPEEDUP = 1.0
#: Every memory-bound forward on one thread within this factor of a plain memory copy of its arrays.
TARGET_FWD_ROOFLINE = 1.5
#: Every memory-bound backward within this factor of its 3-stream roofline (read x, read dy, write dx).
TARGET_BWD_ROOFLINE = 1.5
#: Normalization (issue 4): every case at least this fast relative to the best peer, every thread count ...
TARGET_NORM_SPEEDUP = 1.0
#: ... the geometric mean of the cases' speed-ups at least this, per thread count ...
TARGET_NORM_GEOMEAN = 2.0
#: ... and every case within this factor of its pass-count roofline (the case's streams at copy bandwidth).
TARGET_NORM_ROOFLINE = 1.3


@dataclass
class Table:
    """A titled grid of strings; numeric columns are right-aligned."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    right: list[bool]

    def text(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
                  for i, h in enumerate(self.headers)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, self.right)).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([self.title, line(self.headers), rule, *(line(r) for r in self.rows)])

    def markdown(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        align = ["---:" if r else ":---" for r in self.right]
        return "\n".join([line(self.headers), "|" + "|".join(align) + "|", *(line(r) for r in self.rows)])


# ------------------------------------------------------------------------------------------- formatting


def fmt_time(seconds: float | None, unit: str) -> str:
    """Seconds in ``unit`` ("ms" or "us"), 3 significant digits."""
    if seconds is None:
        return "—"
    scale = {"ms": 1e3, "us": 1e6}[unit]
    return _sig(seconds * scale)


def _sig(v: float) -> str:
    return f"{v:.3g}" if v < 1000 else f"{v:.0f}"


def fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def _unit_for(row: Row) -> str:
    """ms for rows whose normcore time is at least 0.1 ms, else µs: every cell of a row shares one unit."""
    if row.unit == "us":
        return "us"
    t = row.normcore_s
    return "ms" if t is None or t >= 1e-4 else "us"


def _unit_label(unit: str) -> str:
    return "µs" if unit == "us" else unit


def _load(row: Row) -> str:
    """Cores other processes kept busy during the row, when noticeable."""
    return f"{row.other_load:.2f}" if row.other_load is not None and row.other_load >= BUSY else ""


def _cell(res: Result | None, unit: str) -> str:
    if res is None or res.status == "skipped":
        return "—"
    if res.status != "ok":
        return res.status
    return fmt_time(res.median_s, unit)


def spread(res: Result) -> float | None:
    """Interquartile range of the samples / their median."""
    s = res.samples_s
    if len(s) < 4 or not res.median_s:
        return None
    q = statistics.quantiles(s, n=4)
    return (q[2] - q[0]) / res.median_s


# --------------------------------------------------------------------------------------------- tables


def peer_columns(suite: Suite) -> list[str]:
    """Peers appearing in any row, in the canonical order."""
    present = {r.name for row in suite.rows for r in row.results if r.role == "peer"}
    ordered = [lib.name for lib in LIBRARIES if lib is not NORMCORE and lib.name in present]
    return ordered + sorted(present - set(ordered))


def _peer_header(name: str) -> str:
    lib = next((lib for lib in LIBRARIES if lib.name == name), None)
    return f"{name} (1 thread)" if lib is not None and not lib.threaded else name


def throughput_table(suite: Suite) -> Table:
    """normcore vs each peer vs the memory-copy roofline, one line per (case, size, threads)."""
    hz = suite.machine.get("cpu_hz")
    peers = peer_columns(suite)
    headers = ["case", "size", "threads", "normcore", *map(_peer_header, peers), "best peer", "speed-up",
               "GB/s", "copy roofline", "normcore/roofline", "elem/cycle", "others' load"]
    rows = []
    for row in suite.rows:
        if row.group == "overhead":
            continue
        unit = _unit_for(row)
        best = row.best_peer
        epc = row.elements_per_cycle(hz) if row.n <= IN_CACHE_MAX and row.group != "inference" else None
        rows.append([
            row.name, row.size, str(row.threads),
            f"{fmt_time(row.normcore_s, unit)} {_unit_label(unit)}" if row.normcore_s else (
                "skipped: not implemented" if row.skipped else (row.error or "—")),
            *(_cell(row.result(p), unit) for p in peers),
            best.name if best else "—",
            fmt_ratio(row.speedup),
            f"{row.bandwidth_gbs:.1f}" if row.bandwidth_gbs else "—",
            fmt_time(row.roofline_s, unit),
            fmt_ratio(row.roofline_ratio),
            f"{epc:.2f}" if epc else "",
            _load(row),
        ])
    title = ("Throughput: median time per call (the unit is in the normcore column and holds for the whole line); "
             "speed-up = best peer / normcore (> 1: normcore faster)")
    return Table(title, headers, rows, [False, True, True, True, *[True] * len(peers), False, *[True] * 6])


def overhead_table(suite: Suite) -> Table | None:
    """Per-call overhead rows, in µs per call."""
    rows_in = [r for r in suite.rows if r.group == "overhead"]
    if not rows_in:
        return None
    peers = [p for p in peer_columns(suite) if any(r.result(p) for r in rows_in)]
    headers = ["case", "size", "threads", "normcore µs", *(f"{_peer_header(p)} µs" for p in peers), "best peer",
               "speed-up", "others' load"]
    rows = []
    for row in rows_in:
        best = row.best_peer
        rows.append([row.name, row.size, str(row.threads), fmt_time(row.normcore_s, "us"),
                     *(_cell(row.result(p), "us") for p in peers), best.name if best else "—",
                     fmt_ratio(row.speedup), _load(row)])
    return Table("Per-call overhead: µs per call (out= preallocated, calls back to back)", headers, rows,
                 [False, True, True, True, *[True] * len(peers), False, True, True])


def geomean(values: Sequence[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def _measured(suite: Suite, direction: str | None = None) -> list[Row]:
    """The activation rows normcore ran in (not skipped, not the overhead case), optionally fwd or bwd only."""
    return [r for r in suite.rows if r.group != "overhead" and r.normcore_s and not r.skipped
            and (direction is None or r.direction == direction)]


def _memory_bound(row: Row) -> bool:
    """Rows too big for the caches (the 16M rows): the ones held to the roofline targets."""
    return row.n > IN_CACHE_MAX


def summary(suite: Suite) -> dict[str, Any]:
    """Geometric means of the speed-ups (and of normcore/roofline) per thread count, overall and per size, and of
    the forwards' speed-ups at the memory-bound size."""
    out: dict[str, Any] = {}
    for t in suite.threads:
        rows = [r for r in suite.rows if r.threads == t and r.group != "overhead" and r.speedup]
        speedups = {r.label: float(r.speedup) for r in rows}  # type: ignore[arg-type]
        by_size: dict[str, list[float]] = {}
        for r in sorted(rows, key=lambda r: -r.n):
            by_size.setdefault(r.size, []).append(speedups[r.label])
        fwd_large = [speedups[r.label] for r in rows if r.direction == "fwd" and _memory_bound(r)]
        out[str(t)] = {
            "rows": len(rows),
            "speedup_geomean": geomean(list(speedups.values())),
            "speedup_geomean_by_size": {size: geomean(v) for size, v in by_size.items()},
            "forward_memory_bound_speedup_geomean": geomean(fwd_large),
            "forward_memory_bound_rows": len(fwd_large),
            "roofline_ratio_geomean": geomean([float(r.roofline_ratio) for r in rows if r.roofline_ratio]),
            "overhead_speedup": [r.speedup for r in suite.rows if r.threads == t and r.group == "overhead"],
        }
    return out


def targets(suite: Suite) -> list[dict[str, Any]]:
    """The performance targets, each with whether it is met over the rows it applies to and the rows missing it
    (label and the figure that misses). A target with no row to judge is "n/a"."""
    fwd, bwd = _measured(suite, "fwd"), _measured(suite, "bwd")
    large_sizes = sorted({r.size for r in fwd if _memory_bound(r)}) or ["16M"]
    out = []

    geo = summary(suite)
    per_thread = {t: s["forward_memory_bound_speedup_geomean"] for t, s in geo.items()
                  if s["forward_memory_bound_speedup_geomean"] is not None}
    out.append({
        "target": f"geometric-mean speed-up of the forwards at {'/'.join(large_sizes)} over the faster peer "
                  f">= {TARGET_FWD_GEOMEAN:g}× (each thread count)",
        "judged": len(per_thread),
        "values": per_thread,
        "missed": [f"{t} thread{'s' if t != '1' else ''}: {fmt_ratio(v)}" for t, v in per_thread.items()
                   if v < TARGET_FWD_GEOMEAN],
    })

    judged = [r for r in fwd if r.speedup]
    out.append({
        "target": "every forward at least as fast as the faster peer (speed-up >= 1), both sizes and thread counts",
        "judged": len(judged),
        "missed": [f"{r.label}: {fmt_ratio(r.speedup)} (normcore {fmt_time(r.normcore_s, _unit_for(r))} "
                   f"{_unit_label(_unit_for(r))}, {r.best_peer.name} {fmt_time(r.best_peer.median_s, _unit_for(r))} {_unit_label(_unit_for(r))})"  # type: ignore[union-attr]
                   for r in judged if r.speedup < TARGET_FWD_SPEEDUP],  # type: ignore[operator]
    })

    judged = [r for r in fwd if _memory_bound(r) and r.threads == 1 and r.roofline_ratio]
    out.append({
        "target": f"every forward at {'/'.join(large_sizes)} within {TARGET_FWD_ROOFLINE:g}× a plain memory copy "
                  "(1 thread)",
        "judged": len(judged),
        "missed": [f"{r.label}: {fmt_ratio(r.roofline_ratio)} the copy ({fmt_time(r.normcore_s, 'ms')} ms vs "
                   f"{fmt_time(r.roofline_s, 'ms')} ms)" for r in judged
                   if r.roofline_ratio > TARGET_FWD_ROOFLINE],  # type: ignore[operator]
    })

    judged = [r for r in bwd if _memory_bound(r) and r.roofline_ratio]
    out.append({
        "target": f"every backward at {'/'.join(large_sizes)} within {TARGET_BWD_ROOFLINE:g}× the 3-stream roofline "
                  "(read x, read dy, write dx), every thread count",
        "judged": len(judged),
        "missed": [f"{r.label}: {fmt_ratio(r.roofline_ratio)} the roofline ({fmt_time(r.normcore_s, 'ms')} ms vs "
                   f"{fmt_time(r.roofline_s, 'ms')} ms)" for r in judged
                   if r.roofline_ratio > TARGET_BWD_ROOFLINE],  # type: ignore[operator]
    })
    out += _norm_targets(suite)
    judged = [r for r in suite.rows if r.normcore_s and (r.min_speedup is not None or r.max_roofline is not None)]
    out.append({
        "target": "every case with targets of its own meets them (a minimum speed-up over the best peer, a maximum "
                  "ratio to the copy roofline), every thread count",
        "judged": len(judged),
        "missed": [f"{r.label}: {miss}" for r in judged for miss in _own_misses(r)],
    })
    for t in out:
        t["status"] = "n/a" if not t["judged"] else ("met" if not t["missed"] else "MISSED")
    return out


def _norm_targets(suite: Suite) -> list[dict[str, Any]]:
    """Issue 4's targets over the normalization rows: speed-up >= 1 each, geometric mean >= 2 per thread count,
    each within 1.3× its pass-count roofline."""
    rows = [r for r in suite.rows if r.group == "normalization" and r.normcore_s and not r.skipped and r.speedup]
    per_thread = {str(t): geomean([float(r.speedup) for r in rows if r.threads == t])  # type: ignore[arg-type]
                  for t in suite.threads if any(r.threads == t for r in rows)}
    roof = [r for r in rows if r.roofline_ratio]
    return [{
        "target": "normalization: every case at least as fast as the best peer (speed-up >= "
                  f"{TARGET_NORM_SPEEDUP:g}), every thread count",
        "judged": len(rows),
        "missed": [f"{r.label}: {fmt_ratio(r.speedup)} ({r.best_peer.name})"  # type: ignore[union-attr]
                   for r in rows if r.speedup < TARGET_NORM_SPEEDUP],  # type: ignore[operator]
    }, {
        "target": f"normalization: geometric-mean speed-up over the best peer >= {TARGET_NORM_GEOMEAN:g}× (each "
                  "thread count)",
        "judged": len(per_thread),
        "values": per_thread,
        "missed": [f"{t} thread{'s' if t != '1' else ''}: {fmt_ratio(v)}" for t, v in per_thread.items()
                   if v < TARGET_NORM_GEOMEAN],
    }, {
        "target": f"normalization: every case within {TARGET_NORM_ROOFLINE:g}× its pass-count roofline (its "
                  "streams at the copy bandwidth), every thread count",
        "judged": len(roof),
        "missed": [f"{r.label}: {fmt_ratio(r.roofline_ratio)} the roofline of {r.streams} streams "
                   f"({fmt_time(r.normcore_s, 'ms')} ms vs {fmt_time(r.roofline_s, 'ms')} ms)" for r in roof
                   if r.roofline_ratio > TARGET_NORM_ROOFLINE],  # type: ignore[operator]
    }]


def _own_misses(row: Row) -> list[str]:
    """How a row misses its case's own targets (empty when it meets them, or they cannot be judged)."""
    misses = []
    if row.min_speedup is not None and row.speedup is not None and row.speedup < row.min_speedup:
        misses.append(f"{fmt_ratio(row.speedup)} the best peer ({row.best_peer.name}), target "  # type: ignore[union-attr]
                      f"{row.min_speedup:g}×")
    if row.max_roofline is not None and row.roofline_ratio is not None and row.roofline_ratio > row.max_roofline:
        misses.append(f"{fmt_ratio(row.roofline_ratio)} the copy roofline, target {row.max_roofline:g}×")
    return misses


def skipped(suite: Suite) -> list[str]:
    """The cases skipped because normcore does not implement them yet (one line per case, not per row)."""
    seen: dict[str, str] = {}
    for r in suite.rows:
        if r.skipped:
            seen.setdefault(f"{r.name} {r.size}", r.skipped)
    return [f"{case}: skipped, {why}" for case, why in seen.items()]


def in_cache_table(suite: Suite) -> Table | None:
    """normcore's in-cache throughput in elements per cycle, one line per function and size, a column per thread
    count: n / (median seconds × nominal clock)."""
    hz = suite.machine.get("cpu_hz")
    rows_in = [r for r in suite.rows if r.group not in ("overhead", "inference") and r.n <= IN_CACHE_MAX]
    if not hz or not rows_in:
        return None
    lines: dict[tuple[str, str], dict[int, Row]] = {}
    for r in rows_in:
        lines.setdefault((r.name, r.size), {})[r.threads] = r
    threads = sorted({r.threads for r in rows_in})

    def cell(r: Row | None) -> str:
        if r is None:
            return "—"
        if r.skipped:
            return "skipped"
        epc = r.elements_per_cycle(hz)
        return f"{epc:.2f}" if epc else "—"

    def ns_per_elem(r: Row | None) -> str:
        return f"{r.normcore_s / r.n * 1e9:.3f}" if r is not None and r.normcore_s else "—"

    rows = [[name, size, *(cell(by_t.get(t)) for t in threads), *(ns_per_elem(by_t.get(t)) for t in threads)]
            for (name, size), by_t in lines.items()]
    headers = ["case", "size", *(f"elem/cycle t={t}" for t in threads), *(f"ns/elem t={t}" for t in threads)]
    return Table(f"In-cache throughput of normcore: elements per cycle at the nominal {hz / 1e9:.2f} GHz "
                 "(all threads together)", headers, rows, [False, True, *[True] * (2 * len(threads))])


def summary_lines(suite: Suite) -> list[str]:
    lines = []
    for t, s in summary(suite).items():
        if not s["rows"]:
            continue
        by_size = ", ".join(f"{k}: {fmt_ratio(v)}" for k, v in s["speedup_geomean_by_size"].items())
        line = (f"{t} thread{'s' if t != '1' else ''}: geometric-mean speed-up over the best peer "
                f"{fmt_ratio(s['speedup_geomean'])} over {s['rows']} rows ({by_size})")
        if s["forward_memory_bound_speedup_geomean"]:
            line += (f"; forwards at 16M: {fmt_ratio(s['forward_memory_bound_speedup_geomean'])} over "
                     f"{s['forward_memory_bound_rows']} rows")
        if s["roofline_ratio_geomean"]:
            line += f"; normcore/copy-roofline geomean {fmt_ratio(s['roofline_ratio_geomean'])}"
        lines.append(line)
    for t in targets(suite):
        lines.append(f"target {t['status']}: {t['target']}"
                     + (f" ({len(t['missed'])} of {t['judged']} missed, listed below)" if t["missed"] else
                        (f" ({t['judged']} judged)" if t["judged"] else " (no row to judge)")))
    skips = skipped(suite)
    if skips:
        lines.append(f"skipped (not implemented in this build, not timed): {len(skips)} cases, listed below")
    return lines


def missed_lines(suite: Suite) -> list[tuple[str, list[str]]]:
    """(target, rows missing it) for every target missed."""
    return [(t["target"], t["missed"]) for t in targets(suite) if t["missed"]]


def problems(suite: Suite) -> list[str]:
    """Every check that did not pass, and every row that could not run."""
    out = []
    for row in suite.rows:
        if row.error:
            out.append(f"{row.label}: {row.error}")
        for r in row.results:
            if r.status not in ("ok", "skipped"):
                out.append(f"{row.label}: {r.name} {r.status}: {r.detail}")
    return out


def noisy(suite: Suite) -> list[str]:
    """Rows where normcore's or the best peer's samples spread widely (a busy or throttling machine)."""
    out = []
    for row in suite.rows:
        for r in (row.result(NORMCORE.name), row.best_peer):
            s = spread(r) if r is not None else None
            if r is not None and s is not None and s > NOISY:
                out.append(f"{row.label}: {r.name} interquartile range {s:.0%} of its median")
    return out


def busy(suite: Suite, threshold: float = 0.25) -> list[str]:
    """A warning when other processes took a noticeable share of the CPUs during some rows."""
    rows = [r for r in suite.rows if r.other_load is not None and r.other_load >= threshold]
    if not rows:
        return []
    worst = max(rows, key=lambda r: r.other_load or 0.0)
    return [f"other processes kept ≥ {threshold:g} core busy during {len(rows)} of {len(suite.rows)} rows (up to "
            f"{worst.other_load:.2f} cores, {worst.label}); their times, multi-threaded ones above all, are "
            "distorted: rerun on a quiet machine"]


def machine_lines(m: dict[str, Any]) -> list[str]:
    v = m["versions"]
    hz = f", nominal {m['cpu_hz'] / 1e9:.2f} GHz" if m.get("cpu_hz") else ""
    peers = ", ".join(f"{k} {val}" for k, val in v.items() if k != "normcore" and val) or "none"
    missing = [k for k, val in v.items() if not val]
    return [
        f"CPU: {m['cpu']}{hz}, {m['cores']} usable cores",
        f"normcore {v['normcore']}, ISA {m['isa']} (available: {', '.join(m['available_isas'])})",
        f"peers: {peers}" + (f" (not installed: {', '.join(missing)})" if missing else ""),
        f"Python {m['python']} on {m['platform']}; {m['date']}",
    ]


# ------------------------------------------------------------------------------------------- documents


def text_report(suite: Suite) -> str:
    parts = ["normcore benchmark", *("  " + line for line in machine_lines(suite.machine)), ""]
    parts += [throughput_table(suite).text(), ""]
    ov = overhead_table(suite)
    if ov is not None:
        parts += [ov.text(), ""]
    cache = in_cache_table(suite)
    if cache is not None:
        parts += [cache.text(), ""]
    parts += ["Summary:", *("  " + line for line in summary_lines(suite))]
    parts += [f"  warning: {line}" for line in busy(suite)]
    for target, rows in missed_lines(suite):
        parts += ["", f"Missed: {target}", *("  " + r for r in rows)]
    skips = skipped(suite)
    if skips:
        parts += ["", "Skipped (normcore raised NotImplementedError; picked up once the kernel lands):",
                  *("  " + s_ for s_ in skips)]
    bad = problems(suite)
    if bad:
        parts += ["", "Checks that failed (these contenders were not timed):", *("  " + b for b in bad)]
    parts.append(f"\nNumPy runs on one thread in every row. Took {suite.elapsed_s:.0f} s.")
    return "\n".join(parts)


NOTES = """\
- Every contender writes into the same preallocated output array (no allocation inside any timed call, but for
  two PyTorch backward ops without a real `.out`, see below):
  normcore and NumPy through `out=`, PyTorch through the aten `.out` / `grad_input` overloads over
  `torch.from_numpy` views, ONNX Runtime through an IOBinding whose input and output are OrtValues over the
  same NumPy buffers (a one-node model per op, session built outside the timing with `intra_op_num_threads`
  = threads, `inter_op_num_threads` = 1).
- PyTorch spellings: relu = `torch.clamp_min(x, 0, out=)` (aten's relu math; `aten::relu.out` allocates and
  copies, ~10× slower), leaky_relu = `torch._C._nn.leaky_relu(x, slope, out=)`, sigmoid = `torch.sigmoid(x, out=)`,
  elu = `torch._C._nn.elu(x, 1, 1, 1, out=)`, selu = the same with selu's alpha and scale (aten::selu has no
  `.out`; aten computes selu as elu), gelu = `torch._C._nn.gelu(x, approximate=, out=)`, silu, mish, softplus,
  hardswish = `torch._C._nn.<op>(..., out=)`, tanh = `torch.tanh(x, out=)`, arctan = `torch.atan(x, out=)`.
  Backward: `aten::<op>_backward.grad_input` (threshold, leaky_relu, sigmoid, elu, gelu, silu, tanh, softplus);
  sigmoid, tanh, elu and selu from the forward's output y (PyTorch's form; normcore is given the same y), the
  others from x. Two have no real non-allocating overload in torch 2.13 and are timed allocating their result
  (a PyTorch user's cost, page faults of a fresh 64 MB output at 16M included): `aten::mish_backward` (no
  `.out`), `aten::hardswish_backward` (its `.out` computes into a fresh tensor and copies: slower than the
  allocating call). arctan backward is `dy / (1 + x²)` with `.out` ops (aten has no atan_backward).
  NumPy spellings are chains of ufuncs with `out=` (e.g. sigmoid: negative, exp, add, reciprocal in place; elu:
  minimum, expm1, maximum; softplus: `logaddexp(0, x)`), where a short chain exists (none for gelu).
  ONNX Runtime has no backward ops and is not in the per-call-overhead case; its models are one node (opset 17;
  Gelu opset 20, Mish 18), silu = x·Sigmoid(x) (two nodes, fused by ONNX Runtime into QuickGelu).
- Before timing, each contender runs once into a NaN-filled output and is compared with normcore's answer
  (relu, leaky_relu and their backward: exactly; the others: rtol 1e-5, atol 1e-6, except gelu atol 1e-5 since
  PyTorch and ONNX Runtime compute ½x(1 + tanh u), which cancels for x < −3, and silu atol 5e-6 since ONNX
  Runtime's fused sigmoid is off by up to 5e-4 relative in the left tail). A contender that disagrees is
  reported WRONG and not timed. A case normcore raises NotImplementedError for (a kernel not in this build) is
  skipped: listed, not timed, not a failure.
- Timing: warm-up, then interleaved rounds: in round r every contender takes a turn, in an order rotated by r,
  so drift of the machine hits all alike. A turn is a few samples; a sample is a block of back-to-back calls
  lasting at least 1 ms (one call for the large arrays), timed with `time.perf_counter`. Each contender's time
  is the median of its samples. It is sampled until it has ≥ min_rounds turns and ≥ budget seconds of samples.
- Threads: each row sets normcore's, PyTorch's and ONNX Runtime's thread count; NumPy is single-threaded (it and
  `np.copyto` are measured in a case's 1-thread row and their figures reused in its other rows). On
  multi-threaded rows each turn starts with a few ms of untimed calls: OpenMP runtimes (normcore's, PyTorch's)
  keep idle workers spinning ~4 ms after a parallel region, which would otherwise steal a core from the next
  contender. ONNX Runtime's sessions use `session.force_spinning_stop` = 1 for the same reason (its threads
  spin over 10 ms after a run otherwise).
- speed-up = best peer's time / normcore's time (> 1: normcore is faster). GB/s = bytes of all streams
  (forward: x read + y written = 2 streams; backward: dy, x or y, dx = 3) / normcore's time.
- copy roofline = time to move the same bytes at the memory-copy bandwidth measured in the same row (the faster
  of normcore's threaded copy loop, with its streaming stores, and NumPy's single-threaded `np.copyto`, copying
  the row's own input into its own output). normcore/roofline = 1.00× means "as fast as a memcpy".
- others' load = cores kept busy by other processes (and hypervisor steal) while the row was timed, from
  /proc/stat, shown from 0.05 up. On a 2-core machine a busy neighbour wrecks the 2-thread rows (a parallel
  call waits for its descheduled worker): rerun such rows on a quiet machine.
- elem/cycle (in-cache rows only) = elements / (time × nominal clock from /proc/cpuinfo), all threads together;
  turbo makes it optimistic.
- Normalization and inference cases allocate their results on both sides where PyTorch has no `out=` (the functional
  calls as users make them). Inference: `scale_shift_act` with ReLU (BatchNorm eval folded to a per-channel scale and
  shift once, outside the timing) against PyTorch's `F.batch_norm(x, ..., training=False).relu_()` and ONNX
  Runtime's BatchNormalization → Relu graph (NCHW; ONNX has no channels-last BatchNormalization); `normalize_image`
  (uint8 NHWC → normalized float32 NCHW, 5 bytes moved per element) against NumPy's and PyTorch's fastest
  spellings, two passes with `out=` over the NCHW view (`x·(1/(255·std)) − mean/std`: fewer passes than
  torchvision's `ToTensor()` + `Normalize`); the "resnet-like" row is a small ResNet-like PyTorch model in eval
  mode (conv-BN-ReLU stem, residual blocks, Linear → BatchNorm1d head) folded by `nc.fuse.fuse_torch` (normcore's
  column, run by PyTorch under `torch.inference_mode`) against the same model unfolded: its speed-up is the
  end-to-end gain of folding.
- Targets checked by the Summary: the geometric-mean speed-up of the 16M forwards over the faster peer ≥ 2× (per
  thread count); every forward at least as fast as the faster peer (all sizes and thread counts); every 16M
  forward within 1.5× a memory copy on 1 thread; every 16M backward within 1.5× its 3-stream roofline (every
  thread count; in cache there is no memory roofline to hold a transcendental to); and each case's own targets
  (issue 5: scale_shift_act ≥ 1.2× the best peer and within 1.2× a memory copy, normalize_image ≥ 3× the best
  peer, every thread count). Normalization (issue 4), every thread count: each case at least as fast as the best
  peer, their geometric-mean speed-up ≥ 2×, each within 1.3× its pass-count roofline. Passes counted (streams of
  x-sized arrays at least moved): BatchNorm training forward 3 (read x for the statistics, read x and write y),
  its backward 5 (read dy and x for the sums, read them again and write dx), every other forward 2 and backward 3
  (a row, plane or group is re-read from cache).
- normcore's outputs of 1 MiB and more come from its output cache (`nc.set_output_cache_limit`): a buffer freed by
  an earlier call is reused instead of page-faulting fresh memory (which costs more than writing it). PyTorch
  and ONNX Runtime allocate through their own allocators.
"""


def markdown_report(suite: Suite) -> str:
    cfg = suite.config
    parts = [
        "# normcore performance",
        "",
        "Generated by the benchmark suite, not typed in: to reproduce on your machine, run",
        "",
        "```",
        suite.command or "python -m normcore bench",
        "```",
        "",
        "## Machine",
        "",
        *(f"- {line}" for line in machine_lines(suite.machine)),
        f"- measurement: {cfg.budget_s:g} s of samples per contender and row in turns of {cfg.turn_s * 1e3:g} ms "
        f"({cfg.min_rounds}–{cfg.max_rounds} rounds), each after {cfg.settle_s * 1e3:g} ms of untimed calls; "
        f"the whole run took {suite.elapsed_s:.0f} s",
        "",
        "## Throughput",
        "",
        "Median time per call; the unit (ms or µs) is given in the normcore column and holds for the whole line. "
        "speed-up = best peer / normcore: above 1 normcore is faster. NumPy runs on one thread in every row.",
        "",
        throughput_table(suite).markdown(),
        "",
    ]
    ov = overhead_table(suite)
    if ov is not None:
        parts += ["## Per-call overhead", "", "µs per call, calls back to back, output preallocated.", "",
                  ov.markdown(), ""]
    cache = in_cache_table(suite)
    if cache is not None:
        parts += ["## In-cache throughput", "", f"{cache.title}: n / (median seconds × clock).", "",
                  cache.markdown(), ""]
    parts += ["## Summary", "", *(f"- {line}" for line in summary_lines(suite)),
              *(f"- **Warning:** {line}" for line in busy(suite)), ""]
    missed = missed_lines(suite)
    if missed:
        parts += ["## Missed targets", ""]
        for target, rows in missed:
            parts += [f"**{target}**", "", *(f"- {r}" for r in rows), ""]
    skips = skipped(suite)
    if skips:
        parts += ["## Skipped", "", "normcore raised NotImplementedError for these cases (a kernel not in this "
                  "build yet): nothing was timed; they are picked up automatically once it lands.", "",
                  *(f"- {s_}" for s_ in skips), ""]
    bad = problems(suite)
    if bad:
        parts += ["## Failed checks", "", "These contenders disagreed with normcore or failed, and were not timed:",
                  "", *(f"- {b}" for b in bad), ""]
    shaky = noisy(suite)
    if shaky:
        parts += ["## Noisy rows", "", "Times on shared machines drift; these rows spread more than "
                  f"{NOISY:.0%} (interquartile range / median), read them with care:", "",
                  *(f"- {s}" for s in shaky), ""]
    parts += ["## How it is measured", "", NOTES]
    return "\n".join(parts)


def _json_safe(v: Any) -> Any:
    """Non-finite floats become None (JSON has no NaN or infinity)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def json_report(suite: Suite) -> dict[str, Any]:
    d = suite.as_dict()
    for row_dict, row in zip(d["rows"], suite.rows):
        for r in row.results:
            row_dict["contenders"][r.name]["spread"] = spread(r)
    d["summary"] = summary(suite)
    d["targets"] = targets(suite)
    d["skipped"] = skipped(suite)
    d["problems"] = problems(suite)
    return _json_safe(d)


def write_json(suite: Suite, path: str | Path) -> None:
    Path(path).write_text(json.dumps(json_report(suite), indent=1) + "\n", encoding="utf-8")


def write_markdown(suite: Suite, path: str | Path) -> None:
    Path(path).write_text(markdown_report(suite), encoding="utf-8")
