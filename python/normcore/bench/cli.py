"""``python -m normcore bench``: the command line of the benchmark suite.

Examples::

    python -m normcore bench --quick
    python -m normcore bench --filter "sigmoid" --threads 1 2 4 --json out.json --markdown docs/performance.md
    python -m normcore bench --filter "fwd 64K" --isa avx2
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time

import normcore as nc

from . import report
from .cases import default_cases, inference_cases, norm_cases
from .harness import Config, Row, run_suite, select
from .machine import usable_cores


def default_threads() -> list[int]:
    """[1, 2], or [1] on a one-core machine."""
    return [1, 2] if usable_cores() >= 2 else [1]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Time normcore's kernels against NumPy, PyTorch and ONNX Runtime (those installed) and "
                     "against the memory-copy roofline, after checking every answer against normcore's.")
    p.add_argument("--quick", action="store_true",
                   help="measure for less time (~0.025 s of samples per contender and row instead of ~0.3 s)")
    p.add_argument("--filter", metavar="REGEX",
                   help='run the cases whose "name size" matches (re.search), e.g. "sigmoid", "bwd 64K"')
    p.add_argument("--threads", metavar="N", type=int, nargs="+",
                   help="thread counts, one row per case each (default: 1 2, or 1 on a one-core machine)")
    p.add_argument("--json", metavar="PATH", help="write every raw result (all samples, checks, machine) as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write the report as a Markdown page (docs/performance.md)")
    p.add_argument("--isa", metavar="NAME", help="force normcore's instruction-set variant (see --list-isas)")
    p.add_argument("--list-isas", action="store_true", help="print the variants this CPU can run and exit")
    # For the test-suite: element counts replacing the default sizes (the overhead case keeps its size).
    p.add_argument("--sizes", metavar="N", type=int, nargs="+", help=argparse.SUPPRESS)


def command_line(argv: list[str] | None = None) -> str:
    """How this process was started, as the user would type it (``python -m normcore bench ...``)."""
    argv = sys.argv if argv is None else argv
    prog = os.path.basename(argv[0]) if argv else ""
    head = "python -m normcore" if prog in ("__main__.py", "-m", "-c", "") else prog
    return " ".join([head, *map(shlex.quote, argv[1:])])


class StderrProgress:
    """One line per row on stderr: ``[3/26] relu fwd 64K t=2 ... normcore 2.2 µs, best peer torch 3.1 µs (1.41×)``."""

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._t0 = 0.0

    def start(self, index: int, total: int, case, threads: int) -> None:
        self._t0 = time.perf_counter()
        self.stream.write(f"[{index}/{total}] {case.label} t={threads} ...")
        self.stream.flush()

    def done(self, row: Row) -> None:
        unit = "us" if (row.normcore_s or 1) < 1e-4 else "ms"
        label = "µs" if unit == "us" else "ms"
        if row.skipped:
            msg = f" skipped: {row.skipped}"
        elif row.normcore_s is None:
            msg = f" {row.error or 'normcore failed'}"
        else:
            msg = f" normcore {report.fmt_time(row.normcore_s, unit)} {label}"
            best = row.best_peer
            if best is not None:
                msg += (f", best peer {best.name} {report.fmt_time(best.median_s, unit)} {label}"
                        f" ({report.fmt_ratio(row.speedup)})")
            if row.roofline_ratio:
                msg += f", {report.fmt_ratio(row.roofline_ratio)} copy roofline"
        bad = [f"{r.name} {r.status}" for r in row.results if r.status not in ("ok", "skipped")]
        if bad:
            msg += f"  [{', '.join(bad)}]"
        self.stream.write(f"{msg}  ({time.perf_counter() - self._t0:.1f} s)\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Run the suite as ``args`` asks, print the report, write the files. Exit code 0; 1 when a contender
    disagreed with normcore or normcore could not run; 2 for bad arguments."""
    available = nc.available_isas()
    if args.list_isas:
        print(" ".join(available))
        return 0
    if args.isa is not None and args.isa not in available:
        print(f"normcore bench: --isa {args.isa!r} is not available on this CPU; choose from {', '.join(available)}",
              file=sys.stderr)
        return 2
    threads = args.threads or default_threads()
    if any(t < 1 for t in threads):
        print(f"normcore bench: --threads must be >= 1, got {threads}", file=sys.stderr)
        return 2
    cases = default_cases(tuple(args.sizes)) if args.sizes else default_cases() + norm_cases() + inference_cases()
    try:
        cases = select(cases, args.filter)
    except re.error as e:
        print(f"normcore bench: bad --filter {args.filter!r}: {e}", file=sys.stderr)
        return 2
    if not cases:
        names = ", ".join(dict.fromkeys(c.label for c in default_cases() + norm_cases() + inference_cases()))
        print(f"normcore bench: no case matches --filter {args.filter!r}; cases: {names}", file=sys.stderr)
        return 2

    config = Config.quick() if args.quick else Config()
    suite = run_suite(cases, threads, config, isa=args.isa, progress=StderrProgress(), command=command_line())
    print(report.text_report(suite))
    for line in report.busy(suite):
        print(f"normcore bench: warning: {line}", file=sys.stderr)
    if args.json:
        report.write_json(suite, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.markdown:
        report.write_markdown(suite, args.markdown)
        print(f"wrote {args.markdown}", file=sys.stderr)
    failed = any(r.status == "WRONG" for row in suite.rows for r in row.results) or any(r.error for r in suite.rows)
    return 1 if failed else 0
