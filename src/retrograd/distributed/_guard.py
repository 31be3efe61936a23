"""Abort, never hang: the part of :mod:`retrograd.distributed` that keeps a job from waiting
forever for a rank that will not come.

Three mechanisms, each for a way a rank can go missing:

- A rank that leaves a distributed ``fit`` by an exception, ``sys.exit`` or Ctrl-C
  (:func:`training`) or dies of an uncaught exception (:func:`install_hooks`) prints what
  happened and calls ``MPI_Abort``, which ends every rank at once.
- A rank whose process ends otherwise (its script caught the error and returned) sends a
  short notice to every other rank as it exits (an ``atexit`` hook). A rank waiting in one
  of retrograd's collectives reads it and aborts the job if the leaver never joined that
  collective.
- Every collective retrograd posts is non-blocking and waited for with a time limit
  (:func:`get_timeout`), so a rank that is alive but never comes (stuck elsewhere) ends the
  job after that limit instead of never.

The notices go point-to-point on ``COMM_WORLD`` with a tag of their own; collectives never
match point-to-point messages, so they cannot be confused with the training traffic.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._backend import xp
from ..errors import DistributedError

#: Environment variable holding the time limit of a collective, in seconds ("0": none).
TIMEOUT_ENV = "RETROGRAD_MPI_TIMEOUT"
DEFAULT_TIMEOUT = 600.0
_NOTICE_TAG = 0x5247  # "RG": a rank's exit notice (point-to-point, COMM_WORLD)
_ABORT_TAG = 0x5248  # a rank about to call MPI_Abort says why (point-to-point, COMM_WORLD)
_SIGTERM_WAIT = 0.5  # seconds a rank stopped by SIGTERM looks for another rank's abort notice
_MAX_CAUSE = 400  # characters of a cause sent in a notice (stays an eager message)


class _State:
    comm: Any = None  # COMM_WORLD once hooks are installed (world size > 1)
    seq = 0  # guarded collectives this rank has posted on the whole world
    gone: dict = {}  # world rank -> (its seq when it exited, cause)
    aborted: dict = {}  # world rank -> (cause, whether SIGTERM stopped it) from abort notices
    training = 0  # distributed fits in progress on this rank
    aborting = False
    timeout_override: float | None = None
    timeout_set = False


_S = _State()


# ------------------------------------------------------------------ the time limit
def set_timeout(seconds: float | None) -> None:
    """Limit how long a rank waits in one of retrograd's collectives for the other ranks.

    ``None`` waits forever; the default (until this is called) comes from the environment
    variable ``RETROGRAD_MPI_TIMEOUT`` (seconds, ``0`` for no limit), else 600 s. After the
    limit the rank prints which collective it waited in and aborts the whole job.

    Example::

        >>> from retrograd import distributed as dist
        >>> dist.set_timeout(120.0)
        >>> dist.get_timeout()
        120.0
        >>> dist.set_timeout(None); dist.get_timeout() is None
        True
    """
    if seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ValueError(
                f"set_timeout: seconds must be a positive number or None (no limit), "
                f"got {seconds!r}"
            )
        seconds = float(seconds)
    _S.timeout_override = seconds
    _S.timeout_set = True


def get_timeout() -> float | None:
    """The time limit of a collective in seconds, or None for none (see :func:`set_timeout`)."""
    if _S.timeout_set:
        return _S.timeout_override
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds (0 for no limit)")
    return None if value == 0 else value


# ------------------------------------------------------------------ aborting
def _rank() -> int:
    return _S.comm.Get_rank() if _S.comm is not None else _world().Get_rank()


def _world() -> Any:
    from mpi4py import MPI

    return MPI.COMM_WORLD


def abort_job(message: str, code: int = 1, *, sigterm: bool = False) -> None:
    """Print ``retrograd: <message>; aborting the job`` to stderr and ``MPI_Abort`` it.

    The other ranks get a short notice first: the MPI runtime ends them with SIGTERM, and
    with the notice they can say that it came from this rank's abort (``sigterm``: this
    rank was itself stopped by SIGTERM, so it did not start the abort)."""
    _S.aborting = True
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a closed stdout must not keep us from aborting
        pass
    sys.stderr.write(f"retrograd: {message}; aborting the job\n")
    sys.stderr.flush()
    _end_job(message, code, sigterm)


def _end_job(message: str, code: int, sigterm: bool) -> None:
    try:
        _announce_abort(message, sigterm)
    finally:
        try:
            _world().Abort(code)
        finally:  # pragma: no cover - Abort does not return
            os._exit(code)


def _announce_abort(message: str, sigterm: bool) -> None:
    """Tell every other rank why this one aborts (eager sends, waited for 0.1 s at most)."""
    comm = _S.comm
    if comm is None:
        return
    from mpi4py import MPI

    if MPI.Is_finalized():
        return
    reqs = _send_notice(comm, _ABORT_TAG, {"cause": message[:_MAX_CAUSE], "sigterm": sigterm})
    deadline = time.monotonic() + 0.1
    while not MPI.Request.Testall(reqs) and time.monotonic() < deadline:
        _yield()


def _read_abort_notices(comm: Any) -> None:
    for src, note in _receive_notices(comm, _ABORT_TAG):
        try:
            _S.aborted[src] = (str(note["cause"]), bool(note["sigterm"]))
        except (KeyError, TypeError):
            _S.aborted[src] = ("it aborted the job", False)


def _send_notice(comm: Any, tag: int, note: dict) -> list:
    """Post ``note`` (JSON) to every other rank; returns the send requests."""
    buf = bytearray(json.dumps(note).encode())
    me = comm.Get_rank()
    return [comm.Isend(buf, dest=r, tag=tag) for r in range(comm.Get_size()) if r != me]


def _receive_notices(comm: Any, tag: int) -> Iterator[tuple[int, Any]]:
    """The notices with ``tag`` that have arrived: ``(source rank, the decoded JSON or
    None when it does not decode)``."""
    from mpi4py import MPI

    status = MPI.Status()
    while comm.Iprobe(source=MPI.ANY_SOURCE, tag=tag, status=status):
        buf = bytearray(status.Get_count(MPI.BYTE))
        src = status.Get_source()
        comm.Recv(buf, source=src, tag=tag)
        try:
            yield src, json.loads(bytes(buf).decode())
        except ValueError:
            yield src, None


def _who_aborted(wait_s: float) -> tuple[int, str] | None:
    """The first rank that announced an abort it started (not one stopped by SIGTERM),
    looking for ``wait_s`` seconds at most; None if none did."""
    comm = _S.comm
    if comm is None:
        return None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            _read_abort_notices(comm)
        except Exception:  # noqa: BLE001 - MPI half torn down: we only lose the detail
            return None
        first = next((r for r, (_, term) in sorted(_S.aborted.items()) if not term), None)
        if first is not None:
            return first, _S.aborted[first][0]
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)


def describe(exc: BaseException | None) -> str:
    """A one-line cause: ``ValueError: bad data``, ``sys.exit(0)``, ``KeyboardInterrupt``."""
    if exc is None:
        return "its process ended (the script returned or called sys.exit)"
    if isinstance(exc, SystemExit):
        return f"sys.exit({exc.code!r})"
    if isinstance(exc, KeyboardInterrupt):
        if _by_sigterm(exc):
            return "terminated (SIGTERM)"
        return "KeyboardInterrupt (Ctrl-C or SIGTERM)"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _by_sigterm(exc: BaseException | None) -> bool:
    # `retrograd train` turns SIGTERM into a KeyboardInterrupt marked so (cli._TermAsInterrupt).
    return isinstance(exc, KeyboardInterrupt) and getattr(exc, "signal_name", None) == "SIGTERM"


def exit_code(exc: BaseException | None) -> int:
    """The job's exit status for a rank that left because of ``exc`` (never 0)."""
    if isinstance(exc, KeyboardInterrupt):
        return 143 if _by_sigterm(exc) else 130
    if isinstance(exc, SystemExit) and isinstance(exc.code, int) and 0 < exc.code < 256:
        return exc.code
    return 1


def leave_early(exc: BaseException | None) -> None:
    """This rank is leaving training before the others: say why, abort the job."""
    if exc is not None and not isinstance(exc, (SystemExit, KeyboardInterrupt)):
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)
    if _by_sigterm(exc):
        # Most often the MPI runtime ending this rank because another one aborted: say so
        # (that rank already said why) instead of blaming this one.
        origin = _who_aborted(_SIGTERM_WAIT)
        if origin is not None:
            _S.aborting = True
            sys.stderr.write(
                f"retrograd: rank {_rank()} stopped: terminated (SIGTERM) by the MPI runtime "
                f"after rank {origin[0]} aborted the job\n"
            )
            sys.stderr.flush()
            os._exit(exit_code(exc))  # the abort is under way: a second one only adds noise
        abort_job(
            f"rank {_rank()} left training early: terminated (SIGTERM; mpirun sends it to "
            f"every rank when it is stopped)", exit_code(exc), sigterm=True,
        )  # fmt: skip
    abort_job(f"rank {_rank()} left training early: {describe(exc)}", exit_code(exc))


# ------------------------------------------------------------------ hooks
def install_hooks(comm: Any) -> None:
    """On a world of more than one rank: abort on an uncaught exception, send the exit
    notice when the process ends. Called once, when the communicator is first used."""
    if _S.comm is not None or comm.Get_size() < 2:
        return
    _S.comm = comm
    get_timeout()  # a malformed RETROGRAD_MPI_TIMEOUT fails now, on every rank alike
    install_excepthook()
    atexit.register(_on_exit)


def install_excepthook() -> None:
    """Make an uncaught exception on this rank abort the whole job (installed once)."""
    if getattr(sys.excepthook, "_retrograd_aborts", False):
        return
    previous = sys.excepthook

    def hook(exc_type: Any, exc: Any, tb: Any) -> None:
        previous(exc_type, exc, tb)
        try:
            what = "left training early" if _S.training else "failed"
            abort_job(f"rank {_rank()} {what}: uncaught {describe(exc)}", exit_code(exc))
        except Exception:  # pragma: no cover - MPI already gone
            os._exit(1)

    hook._retrograd_aborts = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _on_exit() -> None:
    if _S.aborting or _S.comm is None:
        return
    if _S.training:  # pragma: no cover - fit's guard normally sees the exit first
        abort_job(f"rank {_rank()} left training early: its process is exiting")
    from mpi4py import MPI

    if MPI.Is_finalized():  # the script finalized MPI itself: nobody left to tell
        return
    comm = _S.comm
    reqs = _send_notice(comm, _NOTICE_TAG, {"seq": _S.seq, "cause": describe(None)[:_MAX_CAUSE]})
    # Small messages go eagerly: the sends complete at once, read or not.
    MPI.Request.Waitall(reqs)


def _read_notices(comm: Any) -> None:
    for src, note in _receive_notices(comm, _NOTICE_TAG):
        try:
            _S.gone[src] = (int(note["seq"]), str(note["cause"]))
        except (ValueError, KeyError, TypeError):
            _S.gone[src] = (-1, "its process ended")


def _check_gone(seq: int, what: str) -> None:
    """Abort if a rank that exited never posted collective number ``seq``."""
    for r, (their_seq, cause) in sorted(_S.gone.items()):
        if their_seq < seq:
            abort_job(
                f"rank {r} left training early: {cause}; rank {_rank()} was waiting for it ({what})"
            )


# ------------------------------------------------------------------ guarded collectives
def _covers_world(comm: Any) -> bool:
    return _S.comm is not None and comm.Get_size() == _S.comm.Get_size()


def wait(req: Any, comm: Any, what: str) -> None:
    """Wait for a posted collective, aborting the job on a known leaver or the time limit."""
    if req.Test():
        return
    world = _covers_world(comm)
    seq = _S.seq
    limit = get_timeout()
    start = time.monotonic()
    spins = 0
    while not req.Test():
        spins += 1
        if spins < 200:
            continue  # a peer a few microseconds behind: do not give the core away yet
        now = time.monotonic()
        if world and spins % 16 == 0:
            _read_notices(_S.comm)
            _check_gone(seq, what)
        if limit is not None and now - start > limit:
            abort_job(
                f"rank {comm.Get_rank()} waited {limit:g} s in {what} and not every rank "
                f"joined (a rank stuck elsewhere?); {TIMEOUT_ENV} or "
                f"retrograd.distributed.set_timeout() sets this limit"
            )
        # Oversubscribed ranks share cores: let the others run while waiting.
        if now - start < 0.01:
            _yield()
        else:
            time.sleep(0.0005)


_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


def _post(comm: Any, what: str) -> None:
    if _covers_world(comm):
        _S.seq += 1
        _check_gone(_S.seq, what)


def allreduce_sum(buf: Any, comm: Any, what: str) -> None:
    """Sum ``buf`` (a contiguous ndarray) over the ranks, in place."""
    from mpi4py import MPI

    _post(comm, what)
    wait(comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM), comm, what)


def bcast(buf: Any, root: int, comm: Any, what: str) -> None:
    """Rank ``root``'s ``buf`` into every rank's ``buf``, in place."""
    _post(comm, what)
    wait(comm.Ibcast(buf, root=root), comm, what)


def allgather_json(obj: Any, comm: Any, what: str) -> list:
    """Every rank's JSON-able ``obj``, in rank order (no pickle)."""
    from mpi4py import MPI

    data = xp.frombuffer(json.dumps(obj).encode(), dtype=xp.uint8)
    sizes = xp.zeros(comm.Get_size(), dtype=xp.int64)
    sizes[comm.Get_rank()] = data.size
    allreduce_sum(sizes, comm, what)
    out = xp.empty(int(sizes.sum()), dtype=xp.uint8)
    offsets = xp.concatenate([[0], xp.cumsum(sizes)[:-1]]).astype(xp.int64)
    _post(comm, what)
    req = comm.Iallgatherv(data, [out, (sizes.tolist(), offsets.tolist()), MPI.BYTE])
    wait(req, comm, what)
    return [
        json.loads(out[o : o + n].tobytes().decode())
        for o, n in zip(offsets.tolist(), sizes.tolist())
    ]


# ------------------------------------------------------------------ training as one unit
@contextmanager
def training(comm: Any) -> Iterator[None]:
    """Run a distributed training: leaving it on this rank alone aborts the job.

    A normal exit means every rank got here together (the loop's last collective is the
    agreement to stop); an exception (or ``sys.exit``, Ctrl-C) means this rank leaves
    while the others still wait for it, unless it is a :class:`DistributedError` that
    every rank raises together.
    """
    if comm.Get_size() < 2:
        yield
        return
    _S.training += 1
    try:
        yield
    except BaseException as exc:
        _S.training -= 1
        # Raised by every rank together: a DistributedError, or fit stopping every rank
        # after the same step on Ctrl-C (with checkpoints).
        together = isinstance(exc, (DistributedError, KeyboardInterrupt))
        if not (together and getattr(exc, "collective", False)):
            leave_early(exc)
        raise
    _S.training -= 1


def collective_error(message: str) -> DistributedError:
    """A :class:`DistributedError` that every rank raises together (no abort needed)."""
    err = DistributedError(message)
    err.collective = True  # type: ignore[attr-defined]
    return err


def exchange(comm: Any, stage: str, error: BaseException | None, payload: Any = None) -> list:
    """One allgather of (this rank failed?, payload). Raises on the ranks that did not fail
    when another did; the failing rank gets the list back and raises its own error."""
    mine = {"error": None if error is None else describe(error), "payload": payload}
    entries = allgather_json(mine, comm, f"the exchange after {stage}")
    failed = [(r, e["error"]) for r, e in enumerate(entries) if e["error"] is not None]
    if failed and error is None:
        shown = "; ".join(f"rank {r}: {cause}" for r, cause in failed)
        raise collective_error(
            f"{'rank' if len(failed) == 1 else 'ranks'} "
            f"{', '.join(str(r) for r, _ in failed)} failed while {stage} ({shown}); "
            f"every rank stops"
        )
    return [e["payload"] for e in entries]


def disagreements(configs: list) -> list:
    """The keys on which the ranks' config dicts differ, each with every rank's value."""
    lines = []
    for key in configs[0]:
        values = [c.get(key) for c in configs]
        if all(v == values[0] for v in values):
            continue
        if key == "model parameters":
            lines.append(f"{key}: " + _param_diff(values))
        else:
            lines.append(
                f"{key}: " + ", ".join(f"rank {r} {_short(v)}" for r, v in enumerate(values))
            )
    return lines


def _short(v: Any) -> str:
    text = json.dumps(v)
    return text if len(text) <= 120 else text[:117] + "..."


def _param_diff(values: list) -> str:
    # Long lists: name the first tensor that differs and each rank's totals.
    first = next(
        i
        for i in range(max(len(v) for v in values))
        if len({json.dumps(v[i] if i < len(v) else None) for v in values}) > 1
    )
    parts = []
    for r, v in enumerate(values):
        total = sum(int(xp.prod(p[1])) if p[1] else 1 for p in v)
        at = v[first] if first < len(v) else "none"
        parts.append(f"rank {r} {len(v)} tensors, {total} values, #{first}: {_short(at)}")
    return ", ".join(parts)


@contextmanager
def fail_together(stage: str, comm: Any) -> Iterator[None]:
    """Run a block on every rank; if it fails on any rank, it fails on every rank.

    After the block the ranks exchange whether it worked (one allgather). The rank that
    failed raises its own error; the others raise a :class:`DistributedError` naming that
    rank and its error, so no rank goes on to wait for one that will never come.
    """
    if comm.Get_size() < 2:
        yield
        return
    try:
        yield
    except BaseException as exc:
        exchange(comm, stage, exc)
        raise
    exchange(comm, stage, None)
