"""normcore against PyTorch on the normalization shapes real networks use, in one process.

    python tools/norm_shapes.py [--threads 1 2] [--quick] [--losses-only]

The benchmark suite (`python -m normcore bench`) times a few fixed cases; this sweeps the stages of common
networks (ResNet's BatchNorm from 56×56 down to 7×7, late stages' small spatial sizes, GroupNorm as in UNets,
InstanceNorm, LayerNorm/RMSNorm rows of transformer widths, GroupNorm of (N, C) input and of tiny planes), forward
and backward, channels-first and channels-last, to find where normcore is slower than PyTorch. Both sides allocate their outputs and call their
kernels directly (torch's aten `native_*` functions, no autograd); each case alternates the two (at least `--reps`
times and `--budget` seconds) and keeps each side's minimum. Ratio = torch time / normcore time (> 1: normcore faster). Needs torch.
"""

import argparse
import time

import numpy as np

import normcore as nc

CNN_SHAPES = [(32, 64, 56, 56), (64, 256, 14, 14), (64, 512, 7, 7), (32, 256, 4, 4), (8, 32, 64, 64),
              (256, 64, 4, 4), (64, 512, 3, 3), (1024, 64, 2, 2)]
ROWS = [(4096, 384), (2048, 768), (1024, 4096), (16384, 128), (1024, 64), (256, 64)]
QUICK_CNN = [(8, 64, 14, 14), (16, 128, 4, 4)]
QUICK_ROWS = [(512, 256)]
GROUP_SMALL_PLANES = [((1024, 64), 8), ((16384, 64), 8), ((100352, 64), 8), ((25088, 64, 4), 8)]
QUICK_GROUP_SMALL_PLANES = [((1024, 64), 8)]


def cnn_cases(torch, shape, rng):
    """(name, normcore call, torch call) for one (N, C, H, W) input: each function's own scope binds its arrays."""
    T = torch.from_numpy
    N, C, HW = shape[0], shape[1], int(np.prod(shape[2:]))
    x, dy = (rng.standard_normal(shape, dtype=np.float32) for _ in range(2))
    w, b = (rng.standard_normal(C, dtype=np.float32) for _ in range(2))
    tx, tdy, tw, tb = map(T, (x, dy, w, b))
    out = []

    def batch(axis):
        xa, dya = (x, dy) if axis == 1 else (np.ascontiguousarray(np.moveaxis(a, 1, -1)) for a in (x, dy))
        txa, tdya = (tx, tdy) if axis == 1 else (T(a).permute(0, 3, 1, 2) for a in (xa, dya))
        tag = "NCHW" if axis == 1 else "NHWC"
        _, m, s = nc.batch_norm_forward(xa, w, b, channel_axis=axis)
        _, tm, ts = torch.native_batch_norm(txa, tw, tb, None, None, True, 0.1, 1e-5)[:3]
        return [(f"batch_norm fwd {tag} {shape}", lambda: nc.batch_norm_forward(xa, w, b, channel_axis=axis),
                 lambda: torch.native_batch_norm(txa, tw, tb, None, None, True, 0.1, 1e-5)),
                (f"batch_norm bwd {tag} {shape}", lambda: nc.batch_norm_backward(dya, xa, m, s, w, channel_axis=axis),
                 lambda: torch.ops.aten.native_batch_norm_backward(tdya, txa, tw, None, None, tm, ts, True, 1e-5,
                                                                   [True, True, True]))]

    out += batch(1) + batch(-1) + group_cases(torch, x, dy, w, b, min(32, C))
    out += [(f"instance_norm fwd {shape}", lambda: nc.instance_norm_forward(x, w, b),
             lambda: torch.instance_norm(tx, tw, tb, None, None, True, 0.1, 1e-5, False))]
    return out


def group_cases(torch, x, dy, w, b, G):
    """(name, normcore call, torch call) for group norm forward and backward of one channels-first input."""
    T = torch.from_numpy
    tx, tdy, tw, tb = map(T, (x, dy, w, b))
    N, C, HW = x.shape[0], x.shape[1], int(np.prod(x.shape[2:]))
    _, m, s = nc.group_norm_forward(x, G, w, b)
    _, tm, ts = torch.native_group_norm(tx, tw, tb, N, C, HW, G, 1e-5)
    return [(f"group_norm fwd G={G} {x.shape}", lambda: nc.group_norm_forward(x, G, w, b),
             lambda: torch.native_group_norm(tx, tw, tb, N, C, HW, G, 1e-5)),
            (f"group_norm bwd G={G} {x.shape}", lambda: nc.group_norm_backward(dy, x, G, m, s, w),
             lambda: torch.ops.aten.native_group_norm_backward(tdy, tx, tm, ts, tw, N, C, HW, G, [True, True, True]))]


def small_plane_group_cases(torch, shape, G, rng):
    """Group norm of (N, C) input (one-element planes) and of tiny planes."""
    x, dy = (rng.standard_normal(shape, dtype=np.float32) for _ in range(2))
    w, b = (rng.standard_normal(shape[1], dtype=np.float32) for _ in range(2))
    return group_cases(torch, x, dy, w, b, G)


def row_cases(torch, R, D, rng):
    """(name, normcore call, torch call) for one (R, D) input of layer norm and RMS norm."""
    x, dy = (rng.standard_normal((R, D), dtype=np.float32) for _ in range(2))
    w, b = (rng.standard_normal(D, dtype=np.float32) for _ in range(2))
    tx, tdy, tw, tb = map(torch.from_numpy, (x, dy, w, b))
    _, m, s = nc.layer_norm_forward(x, (D,), w, b)
    _, tm, ts = torch.native_layer_norm(tx, [D], tw, tb, 1e-5)
    return [(f"layer_norm fwd ({R},{D})", lambda: nc.layer_norm_forward(x, (D,), w, b),
             lambda: torch.native_layer_norm(tx, [D], tw, tb, 1e-5)),
            (f"layer_norm bwd ({R},{D})", lambda: nc.layer_norm_backward(dy, x, (D,), m, s, w),
             lambda: torch.ops.aten.native_layer_norm_backward(tdy, tx, [D], tm, ts, tw, tb, [True, True, True])),
            (f"rms_norm fwd ({R},{D})", lambda: nc.rms_norm_forward(x, (D,), w), lambda: torch.rms_norm(tx, [D], tw))]


def best_of(f, g, reps, budget):
    """Minimum times (seconds) of f and g, called alternately: at least reps times each, and on until the two
    together have taken budget seconds (at most 2000 times): the minimum of 15 calls of 0.05 ms was off by 1.5×."""
    tf, tg = [], []
    while len(tf) < reps or (sum(tf) + sum(tg) < budget and len(tf) < 2000):
        for fn, ts in ((f, tf), (g, tg)):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return min(tf), min(tg)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=15, help="calls of each side at least")
    ap.add_argument("--budget", type=float, default=0.2, help="seconds per case at least (both sides)")
    ap.add_argument("--quick", action="store_true", help="two small CNN shapes and one row shape")
    ap.add_argument("--losses-only", action="store_true", help="print only the cases where torch is faster")
    args = ap.parse_args(argv)
    import torch

    rng = np.random.default_rng(0)
    todo = [c for shape in (QUICK_CNN if args.quick else CNN_SHAPES) for c in cnn_cases(torch, shape, rng)]
    todo += [c for R, D in (QUICK_ROWS if args.quick else ROWS) for c in row_cases(torch, R, D, rng)]
    todo += [c for shape, G in (QUICK_GROUP_SMALL_PLANES if args.quick else GROUP_SMALL_PLANES)
             for c in small_plane_group_cases(torch, shape, G, rng)]
    losses = 0
    print(f"{'case':44s} thr {'normcore':>10s} {'torch':>10s} {'ratio':>6s}")
    for threads in args.threads:
        nc.set_num_threads(threads)
        torch.set_num_threads(threads)
        for name, f, g in todo:
            a, b = best_of(f, g, args.reps, args.budget)
            losses += b < a
            if b < a or not args.losses_only:
                print(f"{name:44s} {threads:3d} {a * 1e3:8.3f}ms {b * 1e3:8.3f}ms {b / a:5.2f}x{'  <' if b < a else ''}")
    print(f"{losses} of {len(todo) * len(args.threads)} cases slower than torch")
    return losses


if __name__ == "__main__":
    main()
