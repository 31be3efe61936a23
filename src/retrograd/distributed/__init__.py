"""Synchronous data-parallel training over MPI (Horovod-style), through mpi4py.

Every process (rank) holds the whole model and sees its own shard of each batch; before
each update the gradients of all parameters are packed into one contiguous buffer and
averaged with a single ``Allreduce``. mpi4py is imported lazily: ``import retrograd``
never needs it. Install it with ``pip install retrograd[mpi]`` (and an MPI such as
Debian's ``openmpi-bin libopenmpi-dev``).

Typical use (``mpirun -n 2 python train.py``)::

    import retrograd as rg
    from retrograd import distributed as dist

    model = ...
    dist.broadcast_parameters(model)              # everyone starts from rank 0's weights
    opt = dist.DistributedOptimizer(rg.optim.SGD(model.parameters(), lr=0.1))
    for xb, yb in loader:                          # same seed on every rank
        xb, yb = dist.shard_batch(xb, yb)          # this rank's slice of the batch
        opt.zero_grad(); loss_fn(model(xb), yb).backward(); opt.step()

or simply ``rg.train.fit(..., distributed=True)``.

A job never hangs on a rank that is gone: a rank that leaves training early (an error,
``sys.exit``, Ctrl-C, or its script returning) ends the whole job with a non-zero exit
status and a message naming the rank and the cause; every collective retrograd posts is
waited for with a time limit (:func:`set_timeout`, ``RETROGRAD_MPI_TIMEOUT``); ``fit``
refuses to start when the ranks disagree on the run's configuration.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._backend import xp
from ..errors import DistributedError
from . import _guard
from ._guard import get_timeout, set_timeout

_COMM: list = [None]


def is_available() -> bool:
    """True when mpi4py can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def launched_by_mpi() -> bool:
    """True when this process was started by mpirun/mpiexec (or srun) with more than one rank."""
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        v = os.environ.get(var)
        if v is not None and v.isdigit() and int(v) > 1:
            return True
    return False


def get_comm() -> Any:
    """The MPI world communicator (mpi4py imported on first call)."""
    if _COMM[0] is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError(
                "retrograd.distributed needs mpi4py: pip install 'retrograd[mpi]' "
                "(and an MPI implementation, e.g. apt-get install openmpi-bin libopenmpi-dev)"
            ) from e
        _COMM[0] = MPI.COMM_WORLD
        # From now on this process may be waited for: never leave the others hanging.
        _guard.install_hooks(_COMM[0])
    return _COMM[0]


def rank() -> int:
    return get_comm().Get_rank()


def world_size() -> int:
    return get_comm().Get_size()


def is_root() -> bool:
    return rank() == 0


def abort(message: str, code: int = 1) -> None:
    """Print ``message`` and abort every rank, so no rank is left waiting in a collective."""
    _guard._S.aborting = True
    sys.stderr.write(f"[rank {rank()}] {message}\n")
    sys.stderr.flush()
    get_comm().Abort(code)


def install_excepthook() -> None:
    """Make an uncaught exception on any rank abort the whole job instead of hanging it.

    Installed automatically, once, when a job of more than one rank first uses this module.
    """
    _guard.install_excepthook()


@contextmanager
def fail_together(stage: str) -> Iterator[None]:
    """Run a block on every rank; if it fails on one rank, it fails on every rank.

    Use it around work done before training that can fail on one rank alone (loading that
    rank's data, building its model): after the block the ranks exchange whether it worked
    (one allgather); the rank that failed raises its own error and the others raise a
    :class:`retrograd.DistributedError` naming that rank and its error, instead of waiting
    for it in the first step. ``stage`` ("loading the data") goes into the message.
    Without MPI (one rank, or no mpi4py) the block just runs.

    Example::

        >>> from retrograd import distributed as dist
        >>> with dist.fail_together("loading the data"):  # doctest: +SKIP
        ...     X, y = load(path)
    """
    if not is_available():  # no mpi4py: one process, nobody to tell
        yield
        return
    with _guard.fail_together(stage, get_comm()):
        yield


def broadcast_parameters(model: Any, root: int = 0) -> None:
    """Copy rank ``root``'s parameters and buffers into every rank's model, in place."""
    comm = get_comm()
    tensors = [p for p in model.parameters()] + [b for b in model.buffers()]
    shapes = [[list(t.data.shape), str(t.data.dtype)] for t in tensors]
    all_shapes = _guard.allgather_json(shapes, comm, "broadcast_parameters")
    if any(s != shapes for s in all_shapes):
        raise _guard.collective_error(
            "broadcast_parameters: ranks hold models of different architectures or dtypes: "
            + "; ".join(_guard.disagreements([{"model parameters": s} for s in all_shapes]))
        )
    broadcast_tensors(tensors, root, comm)


def broadcast_tensors(tensors: list, root: int = 0, comm: Any = None) -> None:
    """Rank ``root``'s data of each tensor into every rank's (shapes already agreed)."""
    comm = comm or get_comm()
    if comm.Get_size() < 2:
        return
    for t in tensors:
        buf = xp.ascontiguousarray(t.data)
        _guard.bcast(buf, root, comm, "the broadcast of the initial parameters")
        t.data = buf


class GradientAverager:
    """Averages the gradients of ``params`` across ranks with ONE Allreduce per step.

    The gradients are packed into one contiguous buffer per dtype (allocated once),
    summed with ``Allreduce`` and divided by the number of ranks. A parameter whose
    gradient is None on this rank contributes zeros, so every rank agrees on the layout.

    ``flag`` (set on every rank alike, or on none: it changes the layout) rides along in
    the first buffer of each step: the ranks' flags are summed with the gradients, and
    ``on_flag(total)`` is called when the total is not 0. ``fit`` uses it to stop every
    rank after the same step when one of them gets Ctrl-C (no extra message per step).
    """

    def __init__(self, params: Any, comm: Any = None) -> None:
        self.params = list(params)
        self.comm = comm or get_comm()
        self.size = self.comm.Get_size()
        self._buffers: dict = {}
        self.calls = 0
        self.flag: float | None = None
        self.on_flag: Any = None

    def _layout(self, dtype: Any, extra: int) -> tuple:
        group = [p for p in self.params if p.data.dtype == dtype]
        n = int(sum(p.data.size for p in group)) + extra
        buf = self._buffers.get(dtype)
        if buf is None or buf.size != n:
            buf = xp.empty(n, dtype=dtype)
            self._buffers[dtype] = buf
        return group, buf

    def average(self) -> None:
        if self.size == 1:
            return
        flag = self.flag
        for dtype in sorted({p.data.dtype for p in self.params}, key=str):
            group, buf = self._layout(dtype, flag is not None)
            if flag is not None:
                buf[-1] = flag
            off = 0
            for p in group:
                n = p.data.size
                if p.grad is None:
                    buf[off : off + n] = 0
                else:
                    buf[off : off + n] = p.grad.reshape(-1)
                off += n
            _guard.allreduce_sum(buf, self.comm, "the gradient allreduce of a step")
            self.calls += 1
            if flag is not None:
                total, flag = float(buf[-1]), None  # the first buffer carries it
                if total and self.on_flag is not None:
                    self.on_flag(total)
            buf /= self.size
            off = 0
            for p in group:
                n = p.data.size
                g = buf[off : off + n].reshape(p.data.shape)
                if p.grad is None:
                    p.grad = g.copy()
                else:
                    p.grad[...] = g
                off += n


class DistributedOptimizer:
    """Wrap an optimizer so that ``step()`` first averages gradients across ranks.

    Everything else (zero_grad, state_dict, param_groups, lr schedulers) is delegated.
    """

    # Declared here, not delegated to the wrapped optimizer (see optim.Optimizer).
    needs_closure = False
    averages_across_ranks = True

    def __init__(self, optimizer: Any, comm: Any = None) -> None:
        self.optimizer = optimizer
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.averager = GradientAverager(params, comm)

    def step(self, closure: Any = None) -> Any:
        if closure is not None:
            raise ValueError("DistributedOptimizer: closures (LBFGS) are not supported")
        self.averager.average()
        return self.optimizer.step()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)


def shard_slice(n: int, rank_: int | None = None, size: int | None = None) -> slice:
    """The contiguous part of ``range(n)`` owned by a rank (sizes differ by at most one)."""
    r = rank() if rank_ is None else rank_
    s = world_size() if size is None else size
    base, extra = divmod(n, s)
    start = r * base + min(r, extra)
    return slice(start, start + base + (1 if r < extra else 0))


def shard_batch(*arrays: Any) -> tuple:
    """This rank's slice of each array (or Tensor) in a batch, along the first axis."""
    if not arrays:
        raise ValueError("shard_batch: nothing to shard")
    n = len(arrays[0])
    sl = shard_slice(n)
    if sl.stop - sl.start == 0:
        raise ValueError(f"shard_batch: batch of {n} samples is too small for {world_size()} ranks")
    return tuple(a[sl] for a in arrays)


def allreduce_mean(value: float, weight: float = 1.0) -> float:
    """Weighted mean of a scalar across ranks (metrics: loss, accuracy)."""
    return allreduce_means({"value": value}, weight)["value"]


def allreduce_means(values: dict, weight: float = 1.0) -> dict:
    """Weighted means of several scalars across ranks, with one Allreduce.

    Every rank must pass the same keys (in the same order).
    """
    keys = list(values)
    buf = xp.array([float(values[k]) * weight for k in keys] + [float(weight)], dtype=xp.float64)
    comm = get_comm()
    if comm.Get_size() > 1:
        _guard.allreduce_sum(buf, comm, "the metrics allreduce at the end of an epoch")
    total = buf[-1]
    return {k: float(buf[i] / total) if total else float("nan") for i, k in enumerate(keys)}


__all__ = [
    "is_available", "launched_by_mpi", "get_comm", "rank", "world_size", "is_root", "abort",
    "install_excepthook", "broadcast_parameters", "broadcast_tensors", "GradientAverager",
    "DistributedOptimizer", "shard_slice", "shard_batch", "allreduce_mean", "allreduce_means",
    "fail_together", "set_timeout", "get_timeout", "DistributedError",
]  # fmt: skip
