"""``retrograd bench``: run the repository's benchmarks (benchmarks/run.py)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ._common import Formatter, add_debug

EPILOG = """\
examples:
  retrograd bench --quick                      # a tiny smoke run (seconds)
  retrograd bench --only mlp --configs digits-online
  retrograd bench --write BENCHMARKS.md

The benchmarks are not part of the installed package: they live in benchmarks/ of a
retrograd source checkout. This command finds benchmarks/run.py next to the installed
sources (an editable install), in the current directory or in $RETROGRAD_BENCHMARKS, and
passes every argument after `bench` to its main(); see `retrograd bench -- --help`.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="run the speed benchmarks of a source checkout (benchmarks/run.py)",
        description="Run benchmarks/run.py from a retrograd source checkout.",
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for benchmarks/run.py")
    add_debug(p)
    p.set_defaults(func=run)


def find_benchmarks() -> str | None:
    """The path of benchmarks/run.py, or None when no checkout is around."""
    import retrograd

    candidates = []
    env = os.environ.get("RETROGRAD_BENCHMARKS")
    if env:
        candidates.append(env if env.endswith(".py") else os.path.join(env, "run.py"))
    # src/retrograd/__init__.py -> the repository root is two levels above the package.
    pkg = os.path.dirname(os.path.abspath(retrograd.__file__))
    candidates.append(os.path.join(pkg, os.pardir, os.pardir, "benchmarks", "run.py"))
    candidates.append(os.path.join(os.getcwd(), "benchmarks", "run.py"))
    for c in candidates:
        if os.path.isfile(c):
            return os.path.normpath(c)
    return None


def run(args: argparse.Namespace) -> int:
    import importlib.util

    path = find_benchmarks()
    if path is None:
        raise RuntimeError(
            "retrograd bench needs the benchmarks/ folder of a retrograd source checkout "
            "(it is not installed with the package); run it from the checkout, or set "
            "RETROGRAD_BENCHMARKS=/path/to/benchmarks"
        )
    bench_args = list(args.args)
    if bench_args[:1] == ["--"]:
        bench_args = bench_args[1:]
    spec = importlib.util.spec_from_file_location("retrograd_benchmarks_run", path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    try:
        spec.loader.exec_module(mod)
        if not hasattr(mod, "main"):
            raise RuntimeError(f"{path} has no main(argv) function")
        return int(mod.main(bench_args) or 0)
    finally:
        if sys.path and sys.path[0] == os.path.dirname(path):
            sys.path.pop(0)
