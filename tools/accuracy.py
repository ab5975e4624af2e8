"""Measure normcore's accuracy against the float64 references of tests/reference.py, on every ISA.

float32: max error in ulp over a dense sweep (>= 2^20 values spread over the bit patterns of [-90, 90], plus
±0, ±inf, NaN, subnormals), counted wherever the reference is a normal float32 (or 0/inf); float64: max
relative error over 2^20 values. Writes a Markdown table with --markdown (docs/accuracy.md is made so).

    python tools/accuracy.py --markdown docs/accuracy.md
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import reference as ref  # noqa: E402

import normcore as nc  # noqa: E402
from normcore import _core  # noqa: E402

# name → (normcore function of x, float64 reference of x). Smooth functions only: the piecewise-linear ones
# are exact by construction and tested bit for bit.
FUNCTIONS = {
    "sigmoid": (nc.sigmoid, ref.sigmoid),
    "sigmoid_backward (from x)": (lambda x: nc.sigmoid_backward(np.ones_like(x), x), ref.sigmoid_grad),
}


def float32_error(fn, reference, x):
    want = reference(x.astype(np.float64))
    counted = ~np.isfinite(want) | (np.abs(want) >= np.finfo(np.float32).tiny) | (want == 0)
    err = ref.ulp_error(fn(x), want)
    err = np.where(counted, err, 0.0)
    i = int(np.argmax(err))
    return float(err[i]), float(x[i])


def float64_error(fn, reference, x):
    want = reference(x)
    got = fn(x)
    finite = np.isfinite(want) & (want != 0)
    rel = np.abs(got[finite] - want[finite]) / np.abs(want[finite])
    return float(rel.max(initial=0.0))


def measure():
    x32 = ref.float32_sweep()
    x64 = np.random.default_rng(0).uniform(-90, 90, 1 << 20)
    rows = []
    before = nc.active_isa()
    try:
        for isa in nc.available_isas():
            _core.set_isa(isa)
            for name, (fn, reference) in FUNCTIONS.items():
                ulp, worst = float32_error(fn, reference, x32)
                rel = float64_error(fn, reference, x64)
                rows.append({"function": name, "isa": isa, "f32_max_ulp": ulp, "f32_worst_input": worst,
                             "f64_max_rel": rel})
    finally:
        _core.set_isa(before)
    return rows


def markdown(rows) -> str:
    lines = [
        "# Accuracy",
        "",
        "Written by `python tools/accuracy.py --markdown docs/accuracy.md` "
        f"(normcore {nc.__version__}, {datetime.date.today().isoformat()}); do not edit by hand.",
        "",
        "float32: max error in ulp over 2^20 inputs spread over the bit patterns of [−90, 90] plus ±0, ±inf, NaN",
        "and subnormals, wherever the float64 reference is a normal float32 (or 0 / inf). float64: max relative",
        "error over 2^20 uniform inputs in [−90, 90]. References: `tests/reference.py`.",
        "",
        "| function | ISA | float32 max ulp | at x = | float64 max rel. error |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['function']} | {r['isa']} | {r['f32_max_ulp']:.2f} | {r['f32_worst_input']:.9g} | "
                     f"{r['f64_max_rel']:.2e} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--markdown", type=Path, help="write the table to this Markdown file")
    args = p.parse_args(argv)
    text = markdown(measure())
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
