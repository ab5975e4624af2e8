"""Command line: ``python -m normcore bench ...``, ``python -m normcore --cmakedir``."""

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
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
