"""Command line: ``python -m normcore bench ...``, ``python -m normcore fuse in.onnx -o out.onnx``,
``python -m normcore lab init|gradients|saturation|batchnorm [--plot PATH.png]``, ``python -m normcore --cmakedir``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m normcore", description=__doc__)
    parser.add_argument("--version", action="store_true", help="print normcore's version")
    parser.add_argument("--cmakedir", action="store_true", help="print the directory of normcore's CMake package")
    parser.add_argument("--includedir", action="store_true", help="print the directory of the C++ headers")
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("bench", help="run the benchmark suite against the installed peers")
    from .bench.cli import add_arguments

    add_arguments(bench)
    fuse = sub.add_parser("fuse", help="fold BatchNormalization nodes into Conv/ConvTranspose/Gemm of an ONNX model")
    fuse.add_argument("input", help="the ONNX model to read")
    fuse.add_argument("-o", "--output", required=True, help="where to write the folded model")
    lab = sub.add_parser("lab", help="the lecture's experiments: activations per init, gradient flow, saturation, "
                                     "BatchNorm's effect on training (tables; figures with --plot)")
    from .lab.cli import add_arguments as add_lab_arguments

    add_lab_arguments(lab)
    args = parser.parse_args(argv)

    import normcore

    if args.version:
        print(normcore.__version__)
        return 0
    if args.cmakedir:
        print(normcore.get_cmake_dir())
        return 0
    if args.includedir:
        print(normcore.get_include())
        return 0
    if args.command == "bench":
        from .bench.cli import run

        return run(args)
    if args.command == "fuse":
        import onnx

        from .fuse import fold_onnx

        folded: list = []
        model = fold_onnx(args.input, report=folded)
        onnx.save(model, args.output)
        for producer, bn in folded:
            print(f"folded {bn} into {producer}")
        print(f"{len(folded)} BatchNormalization node(s) folded; wrote {args.output}")
        return 0
    if args.command == "lab":
        from .lab.cli import run as run_lab

        return run_lab(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
