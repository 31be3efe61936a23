"""The ``retrograd`` command line (also ``python -m retrograd``).

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (called with the parsed arguments, returning an exit status).

Example::

    $ retrograd demo            # train a 64-128-64-10 network on the shipped digits
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__

# Modules (under retrograd.cli) that define a subcommand, in the order --help lists them.
SUBCOMMANDS = ("demo",)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="retrograd",
        description="Neural networks trained by backpropagation, on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"retrograd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
