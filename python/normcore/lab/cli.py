"""``python -m normcore lab init|gradients|saturation|batchnorm [--plot PATH.png] [--seed N] ...``: run one lab
experiment, print its table and, with ``--plot`` (needs matplotlib), draw its figure."""

from __future__ import annotations

import argparse
import sys
import time

EXPERIMENTS = ("init", "gradients", "saturation", "batchnorm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="experiment", metavar="{" + ",".join(EXPERIMENTS) + "}", required=True)

    def common(p, activation, init):
        p.add_argument("--plot", metavar="PATH.png", help="write the figure there (needs matplotlib)")
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.add_argument("--activation", default=activation, help=f"activation name (default {activation})")
        p.add_argument("--init", default=init, help=f"weight init: small, large, xavier, he or an nc.init name "
                                                    f"(default {init})")

    def network(p):
        p.add_argument("--depth", type=int, default=10, help="hidden layers (default 10)")
        p.add_argument("--width", type=int, default=500, help="units per layer (default 500)")
        p.add_argument("--batch", type=int, default=1000, help="batch size (default 1000)")

    p = sub.add_parser("init", help="per-layer activation mean / std / histograms for an init and an activation")
    common(p, "tanh", "xavier")
    network(p)
    p = sub.add_parser("gradients", help="per-layer gradient norms (vanishing gradients)")
    common(p, "tanh", "xavier")
    network(p)
    p.add_argument("--batchnorm", action="store_true", help="BatchNorm before every activation")
    p = sub.add_parser("saturation", help="fraction of saturated units for growing input scales")
    common(p, "sigmoid", "xavier")
    p.add_argument("--input-std", type=float, nargs="+", default=[0.5, 1.0, 2.0, 3.0, 5.0, 10.0],
                   help="input standard deviations (default 0.5 1 2 3 5 10)")
    p.add_argument("--threshold", type=float, default=0.1,
                   help="saturated: |f'(z)| <= threshold * max|f'| (default 0.1)")
    p = sub.add_parser("batchnorm", help="train MLPs on the digits with and without BatchNorm")
    p.add_argument("--plot", metavar="PATH.png", help="write the figure there (needs matplotlib)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--activations", nargs="+", default=["sigmoid", "relu"], help="default: sigmoid relu")
    p.add_argument("--inits", nargs="+", default=["small", "xavier", "he"], help="default: small xavier he")
    p.add_argument("--depth", type=int, default=4, help="hidden layers (default 4)")
    p.add_argument("--width", type=int, default=64, help="units per hidden layer (default 64)")
    p.add_argument("--batch", type=int, default=32, help="minibatch size (default 32)")
    p.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    p.add_argument("--target", type=float, default=0.9, help="target test accuracy (default 0.9)")


class ProgressBar:
    """A plain ``\\r`` bar on stderr, shown once the work has lasted 1 s; ``bar(done, total)``."""

    def __init__(self, label: str, stream=None, delay: float = 1.0, width: int = 30) -> None:
        self.label, self.stream, self.delay, self.width = label, stream or sys.stderr, delay, width
        self.start = time.monotonic()
        self.shown = self.finished = False

    def __call__(self, done: int, total: int) -> None:
        if self.finished or not self.shown and time.monotonic() - self.start < self.delay and done < total:
            return
        self.shown = True
        filled = self.width * done // max(total, 1)
        self.stream.write(f"\r{self.label} [{'#' * filled}{' ' * (self.width - filled)}] {done}/{total}")
        if done >= total:
            self.finished = True
            self.stream.write("\n")
        self.stream.flush()


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.3e}"
    return str(v)


def table(rows: list[dict], columns: list[str]) -> str:
    """Rows as an aligned text table of the given columns."""
    cells = [columns] + [[_fmt(r[c]) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in cells)


def _run(args, lab):
    """(rows, table columns, title) of the experiment."""
    e = args.experiment
    if e == "init":
        rows = lab.activation_statistics(args.depth, args.width, args.batch, args.init, args.activation, args.seed)
        return rows, ["layer", "mean", "std"], f"activations: {args.init} init, {args.activation}"
    if e == "gradients":
        rows = lab.gradient_flow(args.depth, args.width, args.batch, args.init, args.activation, args.batchnorm,
                                 args.seed)
        bn = " + BatchNorm" if args.batchnorm else ""
        return (rows, ["layer", "act_std", "grad_std", "grad_norm", "weight_grad_norm"],
                f"gradients: {args.init} init, {args.activation}{bn}")
    if e == "saturation":
        rows = lab.saturation(tuple(args.input_std), args.activation, args.init, seed=args.seed,
                              threshold=args.threshold)
        return (rows, ["input_std", "preact_std", "saturated_fraction", "mean_grad_ratio"],
                f"saturation: {args.activation}, |f'| <= {args.threshold:g}·max|f'|")
    rows = lab.batchnorm_effect(tuple(args.activations), tuple(args.inits), args.depth, args.width, args.batch,
                                args.epochs, args.lr, args.target, args.seed, progress=ProgressBar("training"))
    return (rows, ["activation", "init", "batchnorm", "steps_to_target", "final_accuracy", "final_loss"],
            f"digits, {args.depth}×{args.width} MLP, SGD lr {args.lr:g}, batch {args.batch}, "
            f"{args.epochs} epochs; steps_to_target: first step with test accuracy >= {args.target:g}")


def run(args) -> int:
    from .. import lab

    if args.plot:
        try:
            from matplotlib.figure import Figure  # noqa: F401
        except ImportError:
            print("error: --plot needs matplotlib (pip install matplotlib, or normcore[lab])", file=sys.stderr)
            return 2
    try:
        rows, columns, title = _run(args, lab)
    except (ValueError, TypeError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(title)
    print(table(rows, columns))
    if args.plot:
        fig = PLOTS[args.experiment](rows, title)
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return 0


# ---------------------------------------------------------------- figures (matplotlib, imported by run)

def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _plot_init(rows, title):
    n = len(rows)
    fig = _figure((max(8.0, 1.6 * n), 5.5))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1])
    ax_mean, ax_std = top.subplots(1, 2)
    layers = [r["layer"] for r in rows]
    ax_mean.plot(layers, [r["mean"] for r in rows], "o-")
    ax_mean.set(title="layer mean", xlabel="layer")
    ax_std.plot(layers, [r["std"] for r in rows], "o-")
    ax_std.set(title="layer std", xlabel="layer")
    axes = bottom.subplots(1, n, sharex=True, sharey=True, squeeze=False)[0]
    for ax, r in zip(axes, rows):
        edges = r["hist_edges"]
        ax.stairs(r["hist_counts"], edges, fill=True)
        ax.set_title(f"layer {r['layer']}", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle(title)
    return fig


def _plot_gradients(rows, title):
    fig = _figure((8, 4))
    ax_w, ax_h = fig.subplots(1, 2)
    layers = [r["layer"] for r in rows]
    ax_w.semilogy(layers, [r["weight_grad_norm"] for r in rows], "o-")
    ax_w.set(title="‖∂L/∂W‖ per layer", xlabel="layer")
    ax_h.semilogy(layers, [r["grad_std"] for r in rows], "o-")
    ax_h.set(title="std of ∂L/∂h per layer", xlabel="layer")
    fig.suptitle(title)
    return fig


def _plot_saturation(rows, title):
    fig = _figure((6, 4))
    ax = fig.subplots()
    stds = [r["input_std"] for r in rows]
    ax.plot(stds, [r["saturated_fraction"] for r in rows], "o-", label="saturated fraction")
    ax.plot(stds, [r["mean_grad_ratio"] for r in rows], "s--", label="mean |f'| / max|f'|")
    ax.set(title=title, xlabel="input std", ylim=(0, 1.02))
    ax.set_xscale("log")
    ax.legend()
    return fig


def _plot_batchnorm(rows, title):
    fig = _figure((11, 4.5))
    ax_loss, ax_acc = fig.subplots(1, 2)
    from matplotlib import colormaps

    colors = colormaps["tab20"]
    for k, r in enumerate(rows):
        label = f"{r['activation']} {r['init']}{' +BN' if r['batchnorm'] else ''}"
        style = "-" if r["batchnorm"] else ":"
        ax_loss.plot(range(1, len(r["loss"]) + 1), r["loss"], style, lw=0.8, color=colors(k % 20), label=label)
        ax_acc.plot(r["eval_steps"], r["accuracy"], style, color=colors(k % 20), label=label)
    ax_loss.set(title="training loss", xlabel="step", yscale="log")
    ax_acc.set(title="test accuracy", xlabel="step", ylim=(0, 1))
    ax_acc.legend(fontsize=7, ncol=2)
    fig.suptitle(title, fontsize=9)
    return fig


PLOTS = {"init": _plot_init, "gradients": _plot_gradients, "saturation": _plot_saturation,
         "batchnorm": _plot_batchnorm}
