"""The ``retrograd`` command line (also ``python -m retrograd``).

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (called with the parsed arguments, returning an exit status). A
module may instead expose ``add_parser(subparsers)`` and ``run(args) -> int``; it is
registered through a small adapter. A subcommand module that is missing is skipped, so
one unfinished command never breaks the others.

Errors print one line, ``retrograd: error: ...``. Exit statuses (the table in
docs/cli.md): 0 success, 1 failure at run time (``--debug`` shows the traceback), 2 usage
mistake (bad option, missing input or output directory), 3 ``gradcheck`` found a wrong
gradient, 130 interrupted by Ctrl-C (SIGINT), 143 by SIGTERM (handled like Ctrl-C).

Example::

    $ retrograd demo            # train a 64-128-64-10 network on the shipped digits
    $ retrograd train --data digits --model mlp:64 --out digits.safetensors
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ._common import Formatter, UsageError

# Exit statuses, one table for every command (docs/cli.md).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_GRADCHECK_FAILED = 3
EXIT_SIGINT = 130  # 128 + the signal number, as shells report a signal's end
EXIT_SIGTERM = 143

# Modules (under retrograd.cli) that define a subcommand, in the order --help lists them.
SUBCOMMANDS = (
    "train", "evaluate", "predict", "summary", "gradcheck", "demo", "bench", "noise", "export",
)  # fmt: skip
# Modules that may legitimately be absent (written separately); skipped when missing.
OPTIONAL_SUBCOMMANDS = ("noise",)

EPILOG = """\
examples:
  retrograd demo                                   # the classic network on 8x8 digits
  retrograd demo cnn                               # also: recurrent, sequence
  retrograd train --data digits:train --model mlp:64,64 --plot curves.png
  retrograd evaluate model.safetensors --data digits:test --plot cm.png
  retrograd predict model.safetensors --data new.csv --out preds.csv
  retrograd summary model.safetensors
  retrograd gradcheck model.safetensors --data digits
  retrograd export model.safetensors --onnx model.onnx

`retrograd COMMAND --help` shows each command's options and examples.
"""


def _register(sub: Any, name: str) -> None:
    try:
        mod = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if name in OPTIONAL_SUBCOMMANDS and exc.name == f"{__name__}.{name}":
            return
        raise
    if hasattr(mod, "register"):
        mod.register(sub)
        return
    if hasattr(mod, "add_parser") and hasattr(mod, "run"):
        # Adapter for modules written as add_parser(subparsers) + run(args) -> int.
        parser = mod.add_parser(sub)
        if not isinstance(parser, argparse.ArgumentParser):
            parser = sub.choices.get(name)
        if parser is not None:
            parser.set_defaults(func=mod.run)
            if not any("--debug" in a.option_strings for a in parser._actions):
                from ._common import add_debug

                add_debug(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the whole command line (all subcommands registered)."""
    parser = argparse.ArgumentParser(
        prog="retrograd",
        description="Neural networks trained by backpropagation, on NumPy.",
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"retrograd {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        _register(sub, name)
    # An abbreviated flag (`--drop` for `--dropout`) taken silently is a wrong run.
    parser.allow_abbrev = False
    for p in sub.choices.values():
        p.allow_abbrev = False
    return parser


class _TermAsInterrupt:
    """While active, SIGTERM does what Ctrl-C does (e.g. `retrograd train` finishes the
    step and saves); ``received`` says whether it came."""

    def __init__(self) -> None:
        self.received = False
        self.previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        import signal

        self.received = True
        handler = signal.getsignal(signal.SIGINT)
        try:
            if callable(handler):
                handler(signal.SIGINT, frame)  # the default one raises KeyboardInterrupt
            else:
                raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            # Marked, so that a distributed rank reports SIGTERM (most often the MPI
            # runtime ending it after another rank aborted), not a Ctrl-C.
            exc.signal_name = "SIGTERM"  # type: ignore[attr-defined]
            raise

    def __enter__(self) -> _TermAsInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _error(msg: str) -> None:
    msg = " ".join(str(msg).split()) or "unknown error"
    print(f"retrograd: error: {msg}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Example::

        >>> from retrograd.cli import main
        >>> main(["summary", "--help"])  # doctest: +SKIP
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `retrograd bench ARGS...` hands ARGS to benchmarks/run.py untouched (argparse would
    # take its options for ours).
    i = next((k for k, a in enumerate(argv) if not a.startswith("-")), None)
    passthrough = (
        i is not None and argv[i] == "bench" and argv[i + 1 : i + 2] not in (["-h"], ["--help"])
    )
    if passthrough:
        args = parser.parse_args(argv[: i + 1])
        args.args = argv[i + 1 :]
    else:
        args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    debug = bool(getattr(args, "debug", False))
    term = _TermAsInterrupt()
    try:
        with term:
            return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        why = "terminated (SIGTERM)" if term.received else "interrupted"
        detail = " ".join(str(exc).split())
        print(f"retrograd: {why}" + (f": {detail}" if detail else ""), file=sys.stderr,
              flush=True)  # fmt: skip
        return EXIT_SIGTERM if term.received else EXIT_SIGINT
    except UsageError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _error(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:
        # `retrograd predict ... | head`: the reader left; not an error of ours.
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into lines
        if debug:
            import traceback

            traceback.print_exc()
        from ..errors import RetrogradError

        expected = (ValueError, TypeError, RuntimeError, OSError, ImportError, RetrogradError)
        name = type(exc).__name__
        # Errors users cause read as they are; anything else says what it was.
        _error(str(exc) if isinstance(exc, expected) and str(exc) else f"{name}: {exc}")
        return EXIT_ERROR
