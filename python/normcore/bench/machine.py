"""What the benchmark ran on: CPU, cores, clock, ISA, library versions, date."""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from typing import Any

import numpy as np

import normcore as nc

from .peers import LIBRARIES


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    if fields:
                        break
                    continue
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_info() -> dict[str, Any]:
    """A JSON-ready description of the machine and software. ``cpu_hz`` is the nominal clock from /proc/cpuinfo's
    'cpu MHz' (None when unknown): elements per cycle are computed with it, turbo and throttling aside."""
    cpu = _cpuinfo()
    mhz = cpu.get("cpu MHz")
    try:
        hz = float(mhz) * 1e6 if mhz else None
    except ValueError:
        hz = None
    versions = {lib.name: lib.version() for lib in LIBRARIES}
    versions["numpy"] = np.__version__
    return {
        "cpu": cpu.get("model name") or platform.processor() or platform.machine() or "unknown",
        "cpu_hz": hz,
        "cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "isa": nc.active_isa(),
        "available_isas": nc.available_isas(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds"),
    }


def _cpu_busy_s() -> tuple[float, float] | None:
    """(busy, steal) seconds of all CPUs since boot from /proc/stat, or None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (user + nice + system + irq + softirq) / tick, steal / tick


class OtherLoad:
    """How many cores other processes (and the hypervisor's steal) kept busy between :meth:`start` and
    :meth:`stop`: on a shared machine this is what spoils multi-threaded timings. None where /proc/stat is missing.
    """

    def __init__(self) -> None:
        self._start: tuple[float, float, float, float] | None = None

    def start(self) -> None:
        busy = _cpu_busy_s()
        own = os.times()
        self._start = None if busy is None else (*busy, own.user + own.system, time.perf_counter())

    def stop(self) -> float | None:
        busy = _cpu_busy_s()
        if busy is None or self._start is None:
            return None
        own = os.times()
        b0, s0, own0, t0 = self._start
        wall = time.perf_counter() - t0
        if wall <= 0:
            return None
        others = (busy[0] - b0) - (own.user + own.system - own0)
        return max(0.0, others + (busy[1] - s0)) / wall
