"""Running the cases: check every contender against normcore, then time them side by side.

For each row (a case at one thread count):

1. every library is set to the row's thread count and each contender is bound to the case's preallocated
   buffers (sessions, views and scratch space are made here, outside the timing);
2. each contender runs once into an output filled with NaN and its answer is compared with normcore's; a
   contender that disagrees is marked WRONG and is not timed, one that fails is marked "error". When normcore
   itself raises NotImplementedError (a case written before its kernel landed) the row is *skipped*: nothing is
   timed, the reports say "skipped: not implemented", and it is not a failure;
3. the checked contenders, plus the memory-copy roofline over the same arrays, are warmed up; the time per call
   seen meanwhile sizes their *samples*: blocks of k back-to-back calls lasting at least ``sample_s``, timed
   with ``time.perf_counter`` and divided by k;
4. rounds are interleaved: in round r every contender still running takes a *turn*, in an order rotated by r,
   so drift of the machine (clock, neighbours) hits all of them alike. A turn is ``turn_s`` worth of samples,
   preceded by ``settle_s`` of untimed calls (see :class:`Config`). A contender stops
   once it has at least ``min_rounds`` turns and ``budget_s`` seconds of samples, or after ``max_rounds``;
5. each contender's time is the median of its samples.

Single-threaded contenders (NumPy, ``np.copyto``) are measured once per case, in its first thread count's row,
and their results reused in the other rows of the case.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import math
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, Sequence

import numpy as np

import normcore as nc
from normcore import _core

from .cases import ROOFLINE, Case, Contender
from .machine import OtherLoad, machine_info


@dataclass(frozen=True)
class Config:
    """How long to measure.

    - ``budget_s``: seconds of timed samples per contender and row (at least ``min_rounds`` turns, at most
      ``max_rounds``);
    - ``turn_s``: timed seconds of one contender's turn in a round, made of samples;
    - ``sample_s``: minimum duration of a sample, a block of back-to-back calls (one call for large arrays);
    - ``settle_s``: untimed calls of the contender before each of its turns, so that a turn times the contender's
      own steady state, not what the previous contender left behind: OpenMP runtimes (normcore's, PyTorch's) keep
      their idle workers spinning ~4 ms after a parallel region, which share a core with the next contender's
      first milliseconds (measured here: 64K-element calls of 5 µs taking 4.5 ms); and a previous contender's
      output, tens of MB written through the caches, is still being written back when the next one starts
      (normalize_image, 1 thread, quick mode, before settling was applied to one-thread rows too: samples of
      2.8, 2.3, 2.2, 1.6 ms in each turn after NumPy's and PyTorch's, median 1.9 ms; settled, 0.89 ms, as the
      full mode measures);
    - ``warmup_s``: untimed calls before a contender's first turn (at least ``warmup_calls``), also used to size
      its samples.
    """

    budget_s: float = 0.3
    turn_s: float = 0.03
    sample_s: float = 0.001
    settle_s: float = 0.006
    min_rounds: int = 5
    max_rounds: int = 200
    warmup_s: float = 0.05
    warmup_calls: int = 2
    seed: int = 20261124

    @classmethod
    def quick(cls) -> Config:
        """~0.025 s of samples per contender and row, in at least 3 turns, one warm-up call at least (the check
        has run it once already): the default cases (26 operations × 2 sizes × 2 thread counts, 106 rows) in
        about 1.5 minutes on this project's 2-core machine with a neighbour compiling, under 2 in any case."""
        return cls(budget_s=0.025, turn_s=0.006, warmup_s=0.01, min_rounds=3, max_rounds=20, warmup_calls=1)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Result:
    """One contender in one row. ``status``: "ok", "WRONG" (disagreed with normcore: not timed), "error", or
    "skipped" (the row was skipped: normcore does not implement the case yet)."""

    name: str
    library: str
    role: str
    status: str = "ok"
    detail: str = ""
    max_abs_err: float | None = None
    samples_s: list[float] = field(default_factory=list)
    calls_per_sample: int = 0
    rounds: int = 0

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.samples_s) if self.samples_s else None

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["median_s"] = self.median_s
        return d


@dataclass
class Row:
    """A case at one thread count, with every contender's result and the derived figures."""

    name: str
    group: str
    n: int
    size: str
    dtype: str
    threads: int
    streams: int
    bytes_moved: int
    unit: str
    results: list[Result]
    error: str = ""
    #: Why the row was skipped (normcore raised NotImplementedError: the case's kernel has not landed); "" if run.
    skipped: str = ""
    #: Cores kept busy by other processes (and hypervisor steal) while the row was timed; None if unknown.
    other_load: float | None = None
    #: The case's own targets (see :class:`Case`), None where it has none.
    min_speedup: float | None = None
    max_roofline: float | None = None

    def _timed(self, role: str) -> list[Result]:
        return [r for r in self.results if r.role == role and r.median_s is not None]

    @property
    def normcore_s(self) -> float | None:
        timed = self._timed("normcore")
        return timed[0].median_s if timed else None

    @property
    def best_peer(self) -> Result | None:
        """The fastest correct peer."""
        return min(self._timed("peer"), key=lambda r: r.median_s, default=None)  # type: ignore[arg-type,return-value]

    @property
    def speedup(self) -> float | None:
        """Best peer's time / normcore's time: > 1 means normcore is faster."""
        best, mine = self.best_peer, self.normcore_s
        return best.median_s / mine if best is not None and mine else None  # type: ignore[operator]

    @property
    def bandwidth_gbs(self) -> float | None:
        """normcore's effective bandwidth: bytes of all streams / time, in GB/s (1e9)."""
        return self.bytes_moved / self.normcore_s / 1e9 if self.normcore_s else None

    @property
    def copy_s(self) -> float | None:
        """The faster of the two memory copies (normcore's loop, np.copyto) of n elements: 2 streams."""
        timed = self._timed("roofline")
        return min(r.median_s for r in timed) if timed else None  # type: ignore[type-var]

    @property
    def roofline_s(self) -> float | None:
        """Time to move this case's bytes (streams · n · itemsize) at the measured copy bandwidth."""
        return self.copy_s * self.streams / 2 if self.copy_s else None

    @property
    def roofline_ratio(self) -> float | None:
        """normcore's time / the roofline time (1.0 = at memory-copy speed)."""
        return self.normcore_s / self.roofline_s if self.normcore_s and self.roofline_s else None

    def elements_per_cycle(self, hz: float | None) -> float | None:
        """n / (normcore's time · clock), all threads together."""
        return self.n / (self.normcore_s * hz) if self.normcore_s and hz else None

    def result(self, name: str) -> Result | None:
        return next((r for r in self.results if r.name == name), None)

    @property
    def label(self) -> str:
        return f"{self.name} {self.size} t={self.threads}"

    @property
    def direction(self) -> str:
        """"fwd", "bwd" or "" from the case name ("sigmoid bwd")."""
        last = self.name.rsplit(" ", 1)[-1]
        return last if last in ("fwd", "bwd") else ""

    def as_dict(self, hz: float | None = None) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "results"}
        best = self.best_peer
        d.update(
            normcore_s=self.normcore_s,
            best_peer=best.name if best else None,
            best_peer_s=best.median_s if best else None,
            speedup=self.speedup,
            bandwidth_gbs=self.bandwidth_gbs,
            copy_s=self.copy_s,
            roofline_s=self.roofline_s,
            roofline_ratio=self.roofline_ratio,
            elements_per_cycle=self.elements_per_cycle(hz),
            contenders={r.name: r.as_dict() for r in self.results},
        )
        return d


@dataclass
class Suite:
    """Everything a run produced: what the reports and the JSON file are made from."""

    machine: dict[str, Any]
    config: Config
    threads: list[int]
    rows: list[Row]
    command: str = ""
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        hz = self.machine.get("cpu_hz")
        return {
            "schema": 1,
            "command": self.command,
            "elapsed_s": self.elapsed_s,
            "machine": self.machine,
            "config": self.config.as_dict(),
            "threads": self.threads,
            "rows": [r.as_dict(hz) for r in self.rows],
        }


class Progress(Protocol):
    """Told when a row starts and when it is done (the command line prints a line per row on stderr)."""

    def start(self, index: int, total: int, case: Case, threads: int) -> None: ...

    def done(self, row: Row) -> None: ...


# ------------------------------------------------------------------------------------------- checking


def compare(got: np.ndarray, ref: np.ndarray, tolerance: tuple[float, float]) -> tuple[bool, float]:
    """Whether ``got`` matches ``ref`` within (rtol, atol) (NaN where and only where ref has NaN), and the
    largest absolute difference. (0, 0) demands equality. Works through the arrays in blocks of
    ``_COMPARE_BLOCK`` elements: whole-array float64 temporaries of 16M elements cost ~1 s of page faults per
    check."""
    rtol, atol = tolerance
    if got.shape != ref.shape:
        return False, math.inf
    got, ref = got.reshape(-1), ref.reshape(-1)
    ok, err = True, 0.0
    for start in range(0, got.size, _COMPARE_BLOCK):
        g = got[start:start + _COMPARE_BLOCK]
        r = ref[start:start + _COMPARE_BLOCK]
        nan_got, nan_ref = np.isnan(g), np.isnan(r)
        if not np.array_equal(nan_got, nan_ref):
            return False, math.nan
        with np.errstate(invalid="ignore"):  # inf - inf where both are inf: equal, handled by ==
            same = (g == r) | nan_ref
            diff = np.abs(g.astype(np.float64) - r)
            diff[same] = 0.0
            bound = atol + rtol * np.abs(r.astype(np.float64))
            bound[same] = np.inf
        err = max(err, float(diff.max(initial=0.0)))
        ok = ok and bool(np.all(diff <= bound))
    return ok, err


_COMPARE_BLOCK = 1 << 16


def check(
    case: Case, contenders: Sequence[Contender], calls: dict[str, Callable[[], Any]], out: np.ndarray,
    results: dict[str, Result],
) -> bool:
    """Run each bound contender once into a NaN-filled ``out`` and compare with normcore's answer (the
    contender whose role is "normcore", run first). Disagreeing contenders become WRONG, failing ones "error";
    both are removed from ``calls``. Returns False (checking nothing) when normcore itself did not run."""

    def run_once(c: Contender) -> bool:
        out.fill(np.nan)
        try:
            calls[c.name]()
            return True
        except Exception as e:  # noqa: BLE001 - a peer's failure is reported, not raised
            status = "skipped" if c.role == "normcore" and isinstance(e, NotImplementedError) else "error"
            results[c.name].status, results[c.name].detail = status, f"{type(e).__name__}: {e}"
            del calls[c.name]
            return False

    mine = next((c for c in contenders if c.role == "normcore" and c.name in calls), None)
    if mine is None or not run_once(mine):
        return False
    reference = out.copy()
    results[mine.name].max_abs_err, results[mine.name].detail = 0.0, "reference"
    for c in contenders:
        if c is mine or c.name not in calls or not run_once(c):
            continue
        ok, err = compare(out, reference, case.tolerance)
        results[c.name].max_abs_err = err
        if not ok:
            results[c.name].status = "WRONG"
            results[c.name].detail = (
                f"differs from normcore: max |diff| {err:.3g}, tolerance (rtol, atol) = {case.tolerance}")
            del calls[c.name]
    return True


# -------------------------------------------------------------------------------------------- timing


def _block(call: Callable[[], Any], k: int) -> float:
    """Seconds for k back-to-back calls (timeit-style: the loop costs one iteration of ``repeat``)."""
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, k):
        call()
    return time.perf_counter() - t0


def _run_for(call: Callable[[], Any], seconds: float, min_calls: int = 1) -> tuple[float, int]:
    """Call ``call`` in doubling blocks until ``seconds`` have passed, at least ``min_calls`` times (warm-up and
    settling: not samples). Returns (elapsed seconds, calls)."""
    spent, count, k = 0.0, 0, 1
    while count < min_calls or spent < seconds:
        spent += _block(call, k)
        count += k
        k = count
    return spent, count


@dataclass
class _Plan:
    """How one contender is sampled: ``calls`` per sample, ``samples`` per turn."""

    calls: int
    samples: int


def _plan(call: Callable[[], Any], config: Config) -> _Plan:
    """Warm ``call`` up and size its samples and turns from the time per call seen meanwhile."""
    spent, count = _run_for(call, config.warmup_s, config.warmup_calls)
    per_call = spent / count
    calls = max(1, math.ceil(config.sample_s / per_call))
    return _Plan(calls, max(1, round(config.turn_s / (calls * per_call))))


@dataclass
class Timing:
    """One contender's measurement: seconds per call of each sample, calls per sample, turns taken."""

    samples_s: list[float]
    calls_per_sample: int
    rounds: int


def measure(calls: dict[str, Callable[[], Any]], config: Config) -> dict[str, Timing]:
    """Warm up, then time ``calls`` in interleaved rounds (see the module docstring): in round r each contender
    still running takes a turn, in an order rotated by r; a turn is ``settle_s`` of untimed
    calls, then samples."""
    names = list(calls)
    settle = config.settle_s
    samples: dict[str, list[float]] = {name: [] for name in names}
    spent = dict.fromkeys(names, 0.0)
    turns = dict.fromkeys(names, 0)
    plans: dict[str, _Plan] = {}
    for name in names:
        if settle:
            _run_for(calls[name], settle)
        plans[name] = _plan(calls[name], config)
    active = names[:]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(config.max_rounds):
            if not active:
                break
            shift = r % len(active)
            for name in active[shift:] + active[:shift]:
                call, plan = calls[name], plans[name]
                if settle:
                    _run_for(call, settle)
                for _ in range(plan.samples):
                    dt = _block(call, plan.calls)
                    samples[name].append(dt / plan.calls)
                    spent[name] += dt
                    if dt > config.turn_s and plan.calls > 1:
                        # A block sized for ~sample_s took over a whole turn: the machine slowed this contender
                        # down (a busy neighbour descheduling a worker thread). Shrink its blocks so its turns stay
                        # ~turn_s long instead of growing with the slowdown, and end this turn.
                        plan.calls = max(1, math.ceil(plan.calls * config.sample_s / dt))
                        break
                turns[name] += 1
            active = [m for m in active if turns[m] < config.min_rounds or spent[m] < config.budget_s]
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(samples[name], plans[name].calls, turns[name]) for name in names}


# ----------------------------------------------------------------------------------------------- rows


def run_row(case: Case, inputs: Sequence[np.ndarray], out: np.ndarray, threads: int, config: Config,
            reuse: dict[str, Result] | None = None) -> Row:
    """Check and time every contender of ``case`` at ``threads`` threads over the given buffers. Contenders
    named in ``reuse`` (single-threaded ones already measured in this case's row at another thread count) are
    neither run nor timed again: their result is copied."""
    reuse = reuse or {}
    contenders = list(case.contenders) + (list(ROOFLINE) if case.roofline else [])
    results = {c.name: Result(c.name, c.library.name, c.role) for c in contenders}
    for name, res in reuse.items():
        if name in results:
            results[name] = dataclasses.replace(res, samples_s=list(res.samples_s), detail=res.detail)
    contenders = [c for c in contenders if c.name not in reuse]
    row = Row(case.name, case.group, case.n, case.size, np.dtype(case.dtype).name, threads, case.streams,
              case.bytes_moved, case.unit, list(results.values()), min_speedup=case.min_speedup,
              max_roofline=case.max_roofline)
    for lib in {c.library for c in contenders}:
        lib.set_threads(threads)
    calls: dict[str, Callable[[], Any]] = {}
    for c in contenders:
        try:
            calls[c.name] = c.library.bind(c.build, inputs, out, threads)
        except Exception as e:  # noqa: BLE001 - reported in the row
            status = "skipped" if c.role == "normcore" and isinstance(e, NotImplementedError) else "error"
            results[c.name].status, results[c.name].detail = status, f"{type(e).__name__}: {e}"
    checked = check(case, [c for c in contenders if c.role != "roofline"], calls, out, results)
    mine = next((r for r in results.values() if r.role == "normcore"), None)
    if mine is not None and mine.status == "skipped":
        row.skipped = f"not implemented ({mine.detail.removeprefix('NotImplementedError: ')})"
        for r in results.values():
            if r is not mine:
                r.status, r.detail, r.max_abs_err = "skipped", "not run: normcore does not implement the case", None
        return row
    if not checked:
        row.error = "normcore did not run: nothing to compare the peers with, nothing timed"
        return row
    load = OtherLoad()
    load.start()
    timings = measure(calls, config)
    row.other_load = load.stop()
    for name, timing in timings.items():
        res = results[name]
        res.samples_s, res.calls_per_sample, res.rounds = timing.samples_s, timing.calls_per_sample, timing.rounds
    return row


def select(cases: Iterable[Case], pattern: str | None) -> list[Case]:
    """The cases whose label ("sigmoid fwd 16M") matches the regular expression (re.search); all if None."""
    rx = re.compile(pattern) if pattern else None
    return [c for c in cases if rx is None or rx.search(c.label)]


def run_suite(
    cases: Sequence[Case],
    threads: Sequence[int],
    config: Config = Config(),
    *,
    isa: str | None = None,
    progress: Progress | None = None,
    command: str = "",
) -> Suite:
    """Run every case at every thread count. Inputs are made once per case (seeded) and freed after it; the
    thread counts and ISA in force before are restored at the end."""
    t_start = time.perf_counter()
    isa_before, threads_before = nc.active_isa(), nc.get_num_threads()
    torch_threads_before = _torch_threads()
    if isa is not None:
        _core.set_isa(isa)
    try:
        suite = Suite(machine_info(), config, list(threads), [], command)
        total, index = len(cases) * len(threads), 0
        for case in cases:
            inputs = case.setup(np.random.default_rng(config.seed), case.n)
            out = case.output(inputs) if case.output is not None else np.empty_like(inputs[0])
            # Single-threaded contenders (NumPy, np.copyto) are measured in the case's first row that runs and
            # reused in its other thread counts: the same measurement again would only cost time.
            single = {c.name for c in (*case.contenders, *ROOFLINE) if not c.library.threaded}
            reuse: dict[str, Result] = {}
            for t in threads:
                index += 1
                if progress is not None:
                    progress.start(index, total, case, t)
                row = run_row(case, inputs, out, t, config, reuse)
                if not reuse and not row.skipped and not row.error:
                    reuse = {r.name: r for r in row.results if r.name in single}
                suite.rows.append(row)
                if progress is not None:
                    progress.done(row)
            del inputs, out
            gc.collect()
    finally:
        _core.set_isa(isa_before)
        nc.set_num_threads(threads_before)
        if torch_threads_before is not None:
            import torch

            torch.set_num_threads(torch_threads_before)
    suite.elapsed_s = time.perf_counter() - t_start
    return suite


def _torch_threads() -> int | None:
    """PyTorch's thread count if PyTorch is already imported (so it can be restored), else None."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None

