"""Fit the polynomials of normcore's special functions and write cpp/src/simd/special_tables.inc.

gelu (erf form) and its derivative need Φ(−a) for a = |x| ≥ 0 without cancellation. normcore computes
Φ(−a) = e^{−a²/2}·R(a) with R(a) = e^{a²/2}·Φ(−a) = erfcx(a/√2)/2, smooth, bounded and slowly varying on
[0, ∞) (R ~ 1/(a·√(2π)) in the tail), so only the exponential carries the fast decay. R is a polynomial in
u = a − i·w around the centres i·w, i = round(a/w): on [0, w/2) for i = 0 and on [(i − ½)·w, (i + ½)·w) after
it, N intervals up to the cap (N − ½ − 1/64)·w, beyond which a·Φ(−a) is below half the smallest subnormal (the
kernels cap a there). i costs one rounding (adding a constant whose low bits are then i: no conversion, no
division, and u = a − i·w is exact), and the coefficients come from a table lookup indexed by those low bits
(one register permute on AVX-512).

    float:  w = 1,   15 intervals covering [0, 14.484375],  degree 7
    double: w = 2.5, 16 intervals covering [0, 38.7109375], degree 20


Each interval's polynomial minimises the maximum relative error (least squares at Chebyshev nodes in
50-digit arithmetic, then Lawson's reweighting towards minimax). The tool prints the error of each table
evaluated by Horner in the target precision (FMA emulated) against mpmath.

    python tools/fit_special.py                  # rewrites cpp/src/simd/special_tables.inc

Also arctan's polynomial (see ATAN_DEGREE) and log1p's on [0, 1] (see LOG1P_DEGREE), and the 32-interval float
tables that AVX-512 evaluates with one two-register permute per degree (see TABLES32: R again, log1p(e^{−a}) for
softplus/log_sigmoid, tanh).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mpmath as mp
import numpy as np

mp.mp.dps = 50
OUT = Path(__file__).resolve().parents[1] / "cpp" / "src" / "simd" / "special_tables.inc"
LANES = 16  # table entries per coefficient: one 512-bit register of float, two of double

# type name → (interval width, interval count, degree, numpy dtype)
SPECS = {
    "float": (1.0, 15, 7, np.float32),
    "double": (2.5, 16, 20, np.float64),
}


def cap(width, count):
    """Where the kernels cap a: a·Φ(−a) and e^{−a²/2}·R(a)·a are below half the smallest subnormal beyond."""
    return (mp.mpf(count) - mp.mpf(1) / 2 - mp.mpf(1) / 64) * width


def R(a):
    """e^{a²/2}·Φ(−a) = erfcx(a/√2)/2."""
    a = mp.mpf(a)
    return mp.exp(a * a / 2) * mp.erfc(a / mp.sqrt(2)) / 2


def fit_interval(lo, hi, c, degree, iterations=8, f=R):
    """Coefficients (constant first) of p(u) ≈ f(c + u) on [lo, hi], minimising the max relative error."""
    m = 4 * (degree + 1)
    us = [(lo + hi) / 2 - c + (hi - lo) / 2 * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / m) for i in range(m)]
    vals = [f(c + u) for u in us]
    w = [mp.mpf(1)] * m
    coef = None
    for _ in range(iterations):
        A = mp.matrix([[w[i] * us[i] ** j / vals[i] for j in range(degree + 1)] for i in range(m)])
        coef = mp.qr_solve(A, mp.matrix(w))[0]
        err = [abs(mp.polyval(list(reversed(coef)), us[i]) / vals[i] - 1) for i in range(m)]
        total = sum(wi * ei for wi, ei in zip(w, err))
        w = [wi * ei / total * m for wi, ei in zip(w, err)]
    return [coef[j] for j in range(degree + 1)]


def horner(coef_high_first, u, dtype):
    """Horner in dtype; for float32 each step is one rounding of an exact product-sum (an FMA)."""
    p = np.full_like(u, coef_high_first[0])
    for cj in coef_high_first[1:]:
        if dtype == np.float32:
            p = (p.astype(np.float64) * u.astype(np.float64) + np.float64(cj)).astype(np.float32)
        else:
            p = p * u + cj
    return p


def build_intervals(f, width, count, degree, dtype, end):
    """Per interval i (centre i·width, [0, end) cut into [(i − ½)·width, (i + ½)·width)), the coefficients of f's
    fit, highest degree first, rounded to dtype; and the max relative error of Horner in dtype against mpmath."""
    table = []
    worst = 0.0
    for i in range(count):
        c = mp.mpf(i) * width
        lo = max(mp.mpf(0), c - width / 2)
        hi = min(c + width / 2, end)
        if c == 0 and f(c) == 0:  # u·q(u): the constant coefficient exactly 0, so f keeps its relative precision
            q = fit_interval(lo, hi, c, degree - 1, f=lambda a: f(a) / a if a else mp.diff(f, 0))
            coef = [dtype(float(x)) for x in reversed(q)] + [dtype(0)]
        else:
            coef = [dtype(float(x)) for x in reversed(fit_interval(lo, hi, c, degree, f=f))]
        a = np.linspace(float(lo), float(hi), 300)[int(c == 0 and f(c) == 0):].astype(dtype)
        u = (a - dtype(float(c))).astype(dtype)
        want = np.array([float(f(mp.mpf(float(x)))) for x in a])
        err = float(np.max(np.abs(horner(coef, u, dtype).astype(np.float64) / want - 1)))
        worst = max(worst, err)
        table.append(coef)
    return table, worst


def build(tname):
    width, count, degree, dtype = SPECS[tname]
    table, worst = build_intervals(R, width, count, degree, dtype, cap(width, count))
    return width, count, degree, table, worst


def emit(tname, width, count, degree, table, worst):
    fmt = (lambda x: f"{float(x):.9e}f") if tname == "float" else (lambda x: f"{float(x):.17e}")
    padded = table + [table[-1]] * (LANES - count)
    rows = []
    for j in range(degree + 1):
        entries = ", ".join(fmt(padded[i][j]) for i in range(LANES))
        rows.append(f"      {{{entries}}},")
    return "\n".join([
        f"// {tname}: {count} intervals of width {width}, degree {degree}; max relative error of R as evaluated",
        f"// (Horner in {tname}, against mpmath): {worst:.2e}",
        "template <> struct normal_tail_consts<" + tname + "> {",
        f"  static constexpr {tname} width = {width};",
        f"  static constexpr {tname} inv_width = {1 / width};",
        f"  static constexpr int intervals = {count};",
        f"  static constexpr {tname} cap = {float(cap(width, count))};  // (intervals − ½ − 1/64)·width",
        f"  // coef[j][i]: coefficient of u^(degree − j) on interval i (entries past the last interval repeat it)",
        f"  static constexpr {tname} coef[{degree + 1}][{LANES}] = {{",
        *rows,
        "  };",
        "};",
    ])


# Tables of 32 intervals for AVX-512 float (the coefficients of one degree are two registers, one vpermt2ps):
# f(a) for 0 ≤ a < limit = 31.5·width, in u = a − i·width around the centres i·width, i = round(a/width). A
# vector whose lanes are all below the limit takes f from the table alone, with no exponential; the kernels keep
# their exponential-based path for the other lanes (math.hpp, piecewise_or).
#   name → (f, what it is, width, degree)
TABLES32 = {
    "normal_tail_ratio32": (R, "R(a) = e^{a²/2}·Φ(−a)", mp.mpf(1) / 2, 5),
    "log1p_exp_tail32": (lambda a: mp.log1p(mp.exp(-a)), "log1p(e^{−a})", mp.mpf(1) / 2, 5),
    # tanh rounds to 1 in float from 9.01 on, below the limit 9.84375
    "tanh32": (mp.tanh, "tanh(a)", mp.mpf(5) / 16, 6),
}


def emit_table32(name):
    f, what, width, degree = TABLES32[name]
    limit = width * mp.mpf(63) / 2
    table, worst = build_intervals(f, width, 32, degree, np.float32, limit)
    print(f"{name}: {what}, 32 intervals of width {float(width)}, degree {degree}, max relative error {worst:.2e}")
    rows = [f"      {{{', '.join(f'{float(table[i][j]):.9e}f' for i in range(32))}}}," for j in range(degree + 1)]
    return "\n".join([
        f"// {what} on [0, {float(limit)}): 32 intervals of width {float(width)}, degree {degree}; max relative error",
        f"// as evaluated (Horner in float, against mpmath): {worst:.2e}",
        f"struct {name} {{",
        f"  static constexpr float width = {float(width)}f;",
        f"  static constexpr float inv_width = {float(1 / width)}f;",
        f"  static constexpr float limit = {float(limit)}f;  // 31.5·width",
        "  // coef[j][i]: coefficient of u^(degree − j) on interval i",
        f"  alignas(64) static constexpr float coef[{degree + 1}][32] = {{",
        *rows,
        "  };",
        "};",
    ])


# arctan: atan(t) = t + t·z·G(z), z = t², on |t| ≤ tan(π/8) (the kernel reduces |x| to there with
# π/2 − atan(1/|x|) and π/4 + atan((|x| − 1)/(|x| + 1))); degree of G per type
ATAN_DEGREE = {"float": 4, "double": 10}


def atan_g(z):
    t = mp.sqrt(z)
    return (mp.atan(t) - t) / (t * z) if z else mp.mpf(-1) / 3


def fit_atan(degree, iterations=8):
    """Coefficients (constant first) of G minimising the max error of t·z·G(z) relative to atan(t)."""
    hi = mp.tan(mp.pi / 8) ** 2
    m = 4 * (degree + 1)
    zs = [hi / 2 + hi / 2 * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / m) for i in range(m)]
    # weight: the error of G enters atan relatively as z·t/atan(t) ≈ z
    scale = [z * mp.sqrt(z) / mp.atan(mp.sqrt(z)) for z in zs]
    vals = [atan_g(z) for z in zs]
    w = [mp.mpf(1)] * m
    coef = None
    for _ in range(iterations):
        A = mp.matrix([[w[i] * scale[i] * zs[i] ** j for j in range(degree + 1)] for i in range(m)])
        b = mp.matrix([w[i] * scale[i] * vals[i] for i in range(m)])
        coef = mp.qr_solve(A, b)[0]
        err = [abs(scale[i] * (mp.polyval(list(reversed(coef)), zs[i]) - vals[i])) for i in range(m)]
        total = sum(wi * ei for wi, ei in zip(w, err))
        w = [wi * ei / total * m for wi, ei in zip(w, err)]
    return [coef[j] for j in range(degree + 1)], float(max(err))


def emit_atan(tname):
    coef, err = fit_atan(ATAN_DEGREE[tname])
    fmt = (lambda x: f"{float(x):.9e}f") if tname == "float" else (lambda x: f"{float(x):.17e}")
    print(f"atan {tname}: degree {ATAN_DEGREE[tname]}, max relative error of the fit {err:.2e}")
    return "\n".join([
        f"// atan(t) = t + t·z·G(z), z = t² ≤ tan²(π/8), G of degree {ATAN_DEGREE[tname]} (fit error {err:.1e} of atan)",
        f"template <> struct atan_consts<{tname}> {{",
        f"  static constexpr {tname} poly[] = {{{', '.join(fmt(c) for c in reversed(coef))}}};  // highest first",
        "};",
    ])


# log1p on [0, 1] (softplus and log_sigmoid take log1p(e^{−|z|})): log1p(t) = t − t²·K(t), K(t) =
# (t − log1p(t))/t² ∈ [1 − ln 2, ½], a polynomial of degree LOG1P_DEGREE per type. K's error enters log1p(t)
# damped by t²/log1p(t) ≤ 0.44; the nearest singularity is t = −1, so one polynomial covers [0, 1].
LOG1P_DEGREE = {"float": 8, "double": 18}


def log1p_k(t):
    return (t - mp.log1p(t)) / (t * t) if t else mp.mpf(1) / 2


def fit_log1p(degree, iterations=8):
    """Coefficients (constant first) of K minimising the max error of t²·K(t) relative to log1p(t) on [0, 1]."""
    m = 4 * (degree + 1)
    ts = [mp.mpf(1) / 2 + mp.mpf(1) / 2 * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / m) for i in range(m)]
    scale = [t * t / mp.log1p(t) for t in ts]
    vals = [log1p_k(t) for t in ts]
    w = [mp.mpf(1)] * m
    coef, err = None, []
    for _ in range(iterations):
        A = mp.matrix([[w[i] * scale[i] * ts[i] ** j for j in range(degree + 1)] for i in range(m)])
        b = mp.matrix([w[i] * scale[i] * vals[i] for i in range(m)])
        coef = mp.qr_solve(A, b)[0]
        err = [abs(scale[i] * (mp.polyval(list(reversed(coef)), ts[i]) - vals[i])) for i in range(m)]
        total = sum(wi * ei for wi, ei in zip(w, err))
        w = [wi * ei / total * m for wi, ei in zip(w, err)]
    return [coef[j] for j in range(degree + 1)], float(max(err))


def emit_log1p(tname):
    coef, err = fit_log1p(LOG1P_DEGREE[tname])
    fmt = (lambda x: f"{float(x):.9e}f") if tname == "float" else (lambda x: f"{float(x):.17e}")
    print(f"log1p {tname}: degree {LOG1P_DEGREE[tname]}, max relative error of the fit {err:.2e}")
    return "\n".join([
        f"// log1p(t) = t − t²·K(t) on [0, 1], K of degree {LOG1P_DEGREE[tname]} (fit error {err:.1e} of log1p)",
        f"template <> struct log1p_consts<{tname}> {{",
        f"  static constexpr {tname} poly[] = {{{', '.join(fmt(c) for c in reversed(coef))}}};  // highest first",
        "};",
    ])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args()
    parts = ["// Generated by tools/fit_special.py: do not edit; rerun the tool instead.",
             "// R(a) = e^{a²/2}·Φ(−a) as piecewise polynomials in u = a − i·width, i = round(a/width).", ""]
    for tname in SPECS:
        width, count, degree, table, worst = build(tname)
        print(f"{tname}: {count} intervals, degree {degree}, max relative error {worst:.2e}")
        parts += [emit(tname, width, count, degree, table, worst), ""]
    for tname in SPECS:
        parts += [emit_atan(tname), ""]
    for tname in SPECS:
        parts += [emit_log1p(tname), ""]
    for name in TABLES32:
        parts += [emit_table32(name), ""]
    args.output.write_text("\n".join(parts))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
