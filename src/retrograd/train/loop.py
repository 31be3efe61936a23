"""fit / evaluate / predict: the training loop, with everything else in callbacks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import _malloc
from .._backend import xp
from ..autograd.mode import no_grad
from ..autograd.tensor import Tensor
from ..data.dataset import ArrayDataset, Dataset
from ..data.loader import DataLoader
from ..errors import RetrogradError
from ..random import get_rng_state, set_rng_state
from .callbacks import Callback, MaxEpochs, ProgressBar
from .history import History
from .metrics import METRICS
from .options import Checkpointing, StepOptions, resolve_options

# Validation and prediction go through the data in chunks of this many rows.
_EVAL_CHUNK = 4096


class NonFiniteLossError(RetrogradError, RuntimeError):
    """The training loss became NaN or Inf (the message names the epoch and step)."""


# ------------------------------------------------------------------------- data plumbing
def _as_loader(
    data: Any, what: str, batch_size: int | None, shuffle: bool, seed: int | None
) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)):
        if len(data) not in (1, 2):
            raise ValueError(
                f"fit: {what} must be (X, y) or (X,), got a sequence of {len(data)} items"
            )
        ds = ArrayDataset(*data, name=what)
    elif isinstance(data, Dataset) or (
        hasattr(data, "__len__")
        and hasattr(data, "__getitem__")
        and not isinstance(data, (xp.ndarray, Tensor))
    ):
        ds = data
    else:
        raise TypeError(
            f"fit: {what} must be an (X, y) tuple of arrays, a Dataset or a DataLoader, got "
            f"{type(data).__name__}"
        )
    if batch_size is not None and batch_size is not False:
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, xp.integer))
            or batch_size <= 0
        ):
            raise ValueError(
                f"fit: batch_size must be a positive int or None (full batch), got {batch_size!r}"
            )
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, seed=seed)


def _eval_loader(data: Any, what: str, batch_size: int | None = None) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    loader = _as_loader(data, what, None, False, 0)
    n = loader.num_samples
    bs = batch_size if batch_size is not None else (None if n <= _EVAL_CHUNK else _EVAL_CHUNK)
    if bs is not None:
        loader = DataLoader(loader.dataset, batch_size=bs, shuffle=False, seed=0)
    return loader


def _labels(loader: DataLoader) -> Any:
    arrays = getattr(loader.dataset, "arrays", None)
    return arrays[1] if arrays is not None and len(arrays) > 1 else None


def _is_cross_entropy(loss_fn: Any) -> bool:
    from ..nn import functional as F
    from ..nn.losses import CrossEntropyLoss

    return isinstance(loss_fn, CrossEntropyLoss) or loss_fn is F.cross_entropy


def _check_targets(loss_fn: Any, loader: DataLoader, what: str) -> None:
    """Catch the classic label mistakes before the first step, with a message that helps."""
    y = _labels(loader)
    if y is None or not _is_cross_entropy(loss_fn):
        return
    if y.ndim == 1 and y.dtype.kind == "f":
        integral = bool((y == xp.round(y)).all())
        hint = " (they look integral: pass y.astype('int64'))" if integral else ""
        raise ValueError(
            f"fit: {what} has float labels of dtype {y.dtype}, but CrossEntropyLoss needs "
            f"integer class indices 0..C-1{hint}"
        )


def _check_label_range(loss_fn: Any, loader: DataLoader | None, what: str, n_out: int) -> None:
    if loader is None or not _is_cross_entropy(loss_fn):
        return
    y = _labels(loader)
    if y is None or y.ndim != 1 or y.dtype.kind not in "iu":
        return
    ignore = getattr(loss_fn, "ignore_index", -100)
    y = y[y != ignore]
    if y.size and (int(y.min()) < 0 or int(y.max()) >= n_out):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise ValueError(
            f"fit: {what} contains class label {bad}, but the model outputs {n_out} class "
            f"scores (labels must be in 0..{n_out - 1}); check the labels or the size of the "
            "output layer"
        )


def _resolve_metrics(metrics: Any, loss_fn: Any, loader: DataLoader) -> dict:
    if metrics is None:
        return {}
    if metrics == "auto":
        y = _labels(loader)
        is_class = _is_cross_entropy(loss_fn) or (y is not None and y.dtype.kind in "iu")
        return {"accuracy": METRICS["accuracy"]} if is_class else {}
    if isinstance(metrics, str):
        metrics = (metrics,)
    out = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(
                    f"fit: unknown metric {m!r}; known: {sorted(METRICS)} "
                    "(or pass a function f(output, target) -> float)"
                )
            out[m] = METRICS[m]
        elif callable(m):
            out[getattr(m, "__name__", f"metric{len(out)}")] = m
        else:
            raise TypeError(f"fit: metrics must be names or callables, got {m!r}")
    return out


def _loss_is_sum(loss_fn: Any) -> bool:
    return getattr(loss_fn, "reduction", "mean") == "sum"


def _contextual(exc: Exception, where: str) -> Exception:
    msg = f"{where}: {exc}"
    try:
        new = type(exc)(msg)
    except Exception:  # noqa: BLE001 - exception types with other constructors
        new = (TypeError if isinstance(exc, TypeError) else ValueError)(msg)
    return new


# --------------------------------------------------------------------------- loop state
class TrainState:
    """Everything the loop knows, in one place: what callbacks read, what a checkpoint saves.

    ``state_dict()`` holds the counters (``epoch``: completed epochs, ``step``: optimizer
    steps), the :class:`History`, the stop reason, retrograd's global RNG state (dropout,
    init), the training DataLoader's generator and position, and each callback's state;
    all plain JSON-able data. The model, optimizer and scheduler keep their own state dicts.
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Any,
        optimizer: Any,
        loader: DataLoader,
        val_loader: DataLoader | None,
        callbacks: Sequence[Callback],
        max_epochs: int | None,
        scheduler: Any = None,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.loader = loader
        self.val_loader = val_loader
        self.callbacks = list(callbacks)
        self.scheduler = scheduler
        self.max_epochs = max_epochs
        self.epoch = 0
        self.step = 0
        self.history = History()
        self.stop_reason: str | None = None
        self.stopping = False
        self.epoch_outputs: tuple | None = None

    @property
    def has_validation(self) -> bool:
        return self.val_loader is not None

    @property
    def batches_per_epoch(self) -> int:
        return len(self.loader)

    def stop(self, reason: str) -> None:
        """Ask the loop to stop after this epoch (the first reason given is kept)."""
        if not self.stopping:
            self.stopping = True
            self.stop_reason = reason

    def predict_train(self) -> tuple:
        """Outputs and targets of the whole training set with the current weights."""
        loader = _eval_loader(self.loader.dataset, "train_data")
        return _collect(self.model, loader)

    def _callback_keys(self) -> list:
        return [f"{i}:{type(cb).__name__}" for i, cb in enumerate(self.callbacks)]

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history.to_dict(),
            "stop_reason": self.stop_reason,
            "rng": get_rng_state(),
            "loader": self.loader.state_dict(),
            "callbacks": {
                k: cb.state_dict() for k, cb in zip(self._callback_keys(), self.callbacks)
            },
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.history = History.from_dict(state["history"])
        self.stop_reason = state.get("stop_reason")
        if state.get("rng") is not None:
            set_rng_state(state["rng"])
        if state.get("loader") is not None:
            self.loader.load_state_dict(state["loader"])
        saved = state.get("callbacks", {})
        for key, cb in zip(self._callback_keys(), self.callbacks):
            if key in saved:
                cb.load_state_dict(saved[key])


def _collect(model: Any, loader: DataLoader) -> tuple:
    outs, targets = [], []
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            for batch in loader:
                outs.append(model(batch[0]).data)
                if len(batch) > 1:
                    targets.append(batch[1].data)
    finally:
        if was_training:
            model.train()
    out = outs[0] if len(outs) == 1 else xp.concatenate(outs)
    tgt = None
    if targets:
        tgt = targets[0] if len(targets) == 1 else xp.concatenate(targets)
    return out, tgt


# ---------------------------------------------------------------------------------- fit
def fit(
    model: Any,
    loss_fn: Callable,
    optimizer: Any,
    train_data: Any,
    val_data: Any = None,
    epochs: int | None = 10,
    batch_size: int | None = 32,
    shuffle: bool = True,
    seed: int | None = None,
    callbacks: Sequence[Callback] = (),
    metrics: Any = "auto",
    verbose: int = 1,
    scheduler: Any = None,
    state: dict | None = None,
    *,
    checkpoint: Checkpointing | None = None,
    step: StepOptions | None = None,
    **options: Any,
) -> History:
    """Train ``model`` by backpropagation and return its :class:`History`.

    ``train_data`` (and ``val_data``) is an ``(X, y)`` tuple of arrays, a Dataset or a
    DataLoader. With arrays, ``batch_size`` picks online learning (1), mini-batches (k) or
    full-batch sweeps (None), ``shuffle`` reshuffles each epoch and ``seed`` fixes the
    order (None: drawn from :func:`rg.manual_seed`'s generator). A DataLoader is used as
    given. Each step is ``zero_grad``, forward, ``loss_fn(output, y)``, ``backward``,
    ``optimizer.step()``; ``scheduler.step()`` follows each epoch (``ReduceLROnPlateau``
    gets ``val_loss``, or ``loss`` without validation data).

    Stopping rules, progress and logging are callbacks: ``epochs`` adds
    :class:`MaxEpochs` (None: no limit, so another rule must stop it), and ``callbacks``
    may add :class:`TargetLoss`, :class:`TargetAccuracy`, :class:`AllWithinTolerance`,
    :class:`EarlyStopping`... ``metrics`` ("auto": accuracy for class labels; a name
    list; callables ``f(output, target) -> float``) are computed on the training batches
    as they go and on ``val_data`` after each epoch. ``verbose``: 0 silent, 1 a tqdm bar
    on a terminal or one line per epoch otherwise, 2 lines always. ``state``: a
    :meth:`TrainState.state_dict` to continue from (model and optimizer restored by the
    caller). A NaN or Inf loss raises :class:`NonFiniteLossError` naming epoch and step.

    The other options come in two groups (:mod:`retrograd.train.options`), or as the flat
    keywords that fill them: ``checkpoint=Checkpointing(dir, resume, keep_last,
    keep_best)`` (``checkpoint_dir=``, ``resume=``, ``keep_last=``, ``keep_best=``) and
    ``step=StepOptions(clip_grad_norm, detect_anomaly, distributed, compile)``
    (``clip_grad_norm=``, ``detect_anomaly=``, ``distributed=``, ``compile_step=``).

    Reliability: ``checkpoint_dir`` writes an atomic checkpoint after every epoch (model,
    optimizer, scheduler, loop state, every RNG and callback state; ``keep_last`` newest
    plus the best by ``keep_best=("val_loss", "min")``); ``resume=True`` continues from
    the newest one exactly (bitwise the same parameters as an uninterrupted run). With a
    ``checkpoint_dir``, Ctrl-C (SIGINT) finishes the current step, saves a checkpoint and
    then raises ``KeyboardInterrupt`` (without one, it also finishes the step first; the
    exception's ``history`` holds the epochs completed; a second Ctrl-C stops at once).
    A non-finite loss never overwrites the last good
    checkpoint. ``clip_grad_norm`` rescales gradients to that total norm before each step;
    ``detect_anomaly`` runs under :func:`retrograd.detect_anomaly`. ``distributed=True``
    trains data-parallel over MPI (see :mod:`retrograd.distributed`; run under mpirun).

    Speed: with ``compile_step=True`` (default) steps are recorded once and replayed when
    every module allows it (:func:`retrograd.train.compile_step`: the same results to the
    bit, without the per-op bookkeeping); other models, and ``False``, run eagerly.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
        >>> y = np.array([[0], [1], [1], [0]], "float32")
        >>> _ = rg.manual_seed(0)
        >>> net = rg.nn.Sequential(rg.nn.Linear(2, 4), rg.nn.Tanh(), rg.nn.Linear(4, 1))
        >>> opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        >>> h = rg.train.fit(net, rg.nn.MSELoss(), opt, (X, y), epochs=300, batch_size=None,
        ...                  verbose=0, callbacks=[rg.train.TargetLoss(0.01)])
        >>> h.stop_reason.split(":")[0], h["loss"][-1] <= 0.01
        ('target_loss', True)
    """
    _malloc.tune()  # training starts: see retrograd/_malloc.py (opt out there)
    ckpt, step = resolve_options(checkpoint, step, options)
    args = (model, loss_fn, optimizer, train_data, val_data, epochs, batch_size, shuffle,
            seed, callbacks, metrics, verbose, scheduler, state, ckpt, step)  # fmt: skip
    if step.distributed:
        return _fit_distributed(args)
    ts, metric_fns = _prepare(*args)
    _run_with_options(ts, metric_fns, step)
    return ts.history


def _prepare(
    model: Any, loss_fn: Any, optimizer: Any, train_data: Any, val_data: Any, epochs: Any,
    batch_size: Any, shuffle: bool, seed: Any, callbacks: Any, metrics: Any, verbose: int,
    scheduler: Any, state: Any, ckpt: Any, step: StepOptions,
) -> tuple:  # fmt: skip
    """fit's checks and set-up: the TrainState (restored when resuming) and the metrics."""
    clip_grad_norm = step.clip_grad_norm
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1
    ):
        raise ValueError(f"fit: epochs must be a positive int or None, got {epochs!r}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable (e.g. rg.nn.MSELoss()), got {loss_fn!r}")
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "zero_grad"):
        raise TypeError(
            f"fit: optimizer must have step() and zero_grad() (an rg.optim "
            f"optimizer), got {type(optimizer).__name__}"
        )
    _check_optimizer_owns_model(model, optimizer)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be rg.train.Callback instances, got {cb!r}")
    loader = _as_loader(train_data, "train_data", batch_size, shuffle, seed)
    arrays = getattr(loader.dataset, "arrays", None)
    if arrays is not None and len(arrays) < 2:
        raise ValueError("fit: train_data has no targets; pass (X, y) or a dataset of pairs")
    val_loader = None if val_data is None else _eval_loader(val_data, "val_data")
    _check_targets(loss_fn, loader, "train_data")
    if val_loader is not None:
        _check_targets(loss_fn, val_loader, "val_data")
    metric_fns = _resolve_metrics(metrics, loss_fn, loader)

    cbs = list(callbacks)
    if epochs is not None:
        cbs.insert(0, MaxEpochs(epochs))
    elif not cbs:
        raise ValueError(
            "fit: epochs=None needs a stopping callback (TargetLoss, "
            "EarlyStopping, ...), or training would never end"
        )
    if verbose:
        cbs.append(ProgressBar("auto" if verbose == 1 else "lines"))
    max_epochs = epochs
    for cb in cbs:
        if isinstance(cb, MaxEpochs):
            max_epochs = cb.max_epochs if max_epochs is None else min(max_epochs, cb.max_epochs)

    if clip_grad_norm is not None and not (
        isinstance(clip_grad_norm, (int, float)) and clip_grad_norm > 0
    ):
        raise ValueError(f"fit: clip_grad_norm must be a positive number, got {clip_grad_norm!r}")

    ts = TrainState(model, loss_fn, optimizer, loader, val_loader, cbs, max_epochs, scheduler)
    ts.clip_grad_norm = clip_grad_norm
    ts.compiled = None
    if step.compile:
        from .compiled import CompiledStep

        ts.compiled = CompiledStep(model, loss_fn)
    if ckpt is not None:
        from ..io.checkpoint import CheckpointManager

        ts.checkpoints = CheckpointManager(
            ckpt.dir, keep_last=ckpt.keep_last, keep_best=ckpt.keep_best
        )
    if state is not None:
        ts.load_state_dict(state)
    elif ckpt is not None and ckpt.resume:
        saved = ts.checkpoints.restore(
            model=model, optimizer=_inner_optimizer(optimizer), scheduler=scheduler
        )
        if saved is not None:
            ts.load_state_dict(saved["train"])
            _load_callback_arrays(ts, saved.get("arrays", {}))
    return ts, metric_fns


def _run_with_options(ts: TrainState, metric_fns: dict, step: StepOptions) -> None:
    if step.detect_anomaly:
        from ..autograd.mode import detect_anomaly as _anomaly

        with _anomaly():
            _run_guarded(ts, metric_fns)
    else:
        _run_guarded(ts, metric_fns)


def _check_optimizer_owns_model(model: Any, optimizer: Any) -> None:
    """An optimizer over another model's parameters would train nothing, silently."""
    params = getattr(model, "parameters", None)
    groups = getattr(optimizer, "param_groups", None)
    if not callable(params) or not isinstance(groups, list):
        return
    trainable = {id(p) for p in params() if getattr(p, "requires_grad", True)}
    stepped = {id(p) for g in groups for p in g.get("params", ())}
    if trainable and stepped and not trainable & stepped:
        raise ValueError(
            f"fit: the optimizer updates none of the model's {len(trainable)} trainable "
            f"parameters (it holds {len(stepped)} others; built over another model?); "
            f"create it with the model's parameters, e.g. SGD(model.parameters(), lr=...)"
        )


# ------------------------------------------------------------------ reliability plumbing
def _inner_optimizer(opt: Any) -> Any:
    # A DistributedOptimizer wraps the real one, whose state is what a checkpoint keeps.
    return opt.optimizer if getattr(opt, "averages_across_ranks", False) else opt


def _callback_arrays(ts: TrainState) -> dict:
    out = {}
    for key, cb in zip(ts._callback_keys(), ts.callbacks):
        arrays = cb.array_state() if hasattr(cb, "array_state") else None
        if arrays:
            out[key] = arrays
    return out


def _load_callback_arrays(ts: TrainState, saved: dict) -> None:
    for key, cb in zip(ts._callback_keys(), ts.callbacks):
        if key in saved and hasattr(cb, "load_array_state"):
            cb.load_array_state(saved[key])


def save_train_checkpoint(ts: TrainState, metrics: dict | None = None) -> Any:
    """Write a checkpoint of everything ``ts`` needs for an exact resume (root rank only)."""
    mgr = getattr(ts, "checkpoints", None)
    if mgr is None or not getattr(ts, "is_root", True):
        return None
    state = {"train": ts.state_dict(), "arrays": _callback_arrays(ts)}
    clean = None
    if metrics is not None:
        clean = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    return mgr.save(
        ts.step,
        model=ts.model,
        optimizer=_inner_optimizer(ts.optimizer),
        scheduler=ts.scheduler,
        state=state,
        metrics=clean,
    )


def _run_guarded(ts: TrainState, metric_fns: dict) -> None:
    """Run the loop, turning Ctrl-C into 'finish the step, save a checkpoint if on, stop'.

    The model is then never left half-way through an optimizer step, so what the caller
    keeps is consistent. Distributed runs without checkpoints stop at once as before
    (ranks stopping at different steps would wait for each other forever).
    """
    import signal
    import threading

    with_checkpoints = getattr(ts, "checkpoints", None) is not None
    distributed = getattr(ts, "distributed", False)
    averager = _flag_carrier(ts) if distributed else None
    if distributed and (not with_checkpoints or averager is None):
        _run(ts, metric_fns)
        return
    if threading.current_thread() is not threading.main_thread():
        _run(ts, metric_fns)
        return
    ts.interrupted = False
    requested = False

    def on_sigint(signum, frame):
        nonlocal requested
        if requested:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        requested = True
        if averager is None:
            ts.interrupted = True
        else:
            # Only this rank got it: the flag travels with the next step's gradients,
            # so that every rank stops after that same step and rank 0 saves.
            averager.flag = 1.0

    if averager is not None:
        averager.on_flag = lambda total: setattr(ts, "interrupted", True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        _run(ts, metric_fns)
    except _Interrupted:
        path = getattr(ts, "interrupt_checkpoint", None)
        err = KeyboardInterrupt(
            f"training interrupted at epoch {ts.epoch + 1}, step {ts.step}"
            + (f"; checkpoint saved to {path}" if path is not None else "")
        )
        # The epochs completed so far, for a caller that keeps the model (the CLI).
        err.history = ts.history  # type: ignore[attr-defined]
        # Every rank stops here together: not a rank leaving early (see _guard.training).
        err.collective = distributed  # type: ignore[attr-defined]
        raise err from None
    finally:
        signal.signal(signal.SIGINT, previous)
        if averager is not None:
            averager.on_flag = None


def _flag_carrier(ts: TrainState) -> Any:
    """The gradient averager of a distributed run, which carries the interrupt flag."""
    from ..distributed import GradientAverager

    averager = getattr(ts.optimizer, "averager", None)
    return averager if isinstance(averager, GradientAverager) else None


class _Interrupted(Exception):
    pass


def _fit_distributed(args: tuple) -> History:
    """fit over MPI: every rank checks its arguments and data, the ranks compare their
    configurations (one allgather), then train; a rank leaving early aborts the job."""
    from .. import distributed as dist
    from ..distributed import _guard

    comm = dist.get_comm()
    ts = metric_fns = error = None
    mine: dict = {}
    try:
        ts, metric_fns = _prepare(*args)
        mine = _json_safe({"config": _run_config(ts, metric_fns), "loader": ts.loader.state_dict()})
    except BaseException as exc:  # noqa: BLE001 - reported to every rank, then re-raised
        if comm.Get_size() < 2:
            raise
        error = exc
    if comm.Get_size() > 1:
        # One rank's bad data or different settings stop every rank, with the reason,
        # before any of them waits for the others in a step.
        entries = _guard.exchange(comm, "checking its arguments and data in fit", error, mine)
        if error is not None:
            raise error
        lines = _guard.disagreements([e["config"] for e in entries])
        if lines:
            raise _guard.collective_error(
                "fit: the ranks disagree on the run's configuration, so none of them starts: "
                + "; ".join(lines)
            )
        # Every rank must draw the same batch order: rank 0's loader state wins.
        ts.loader.load_state_dict(entries[0]["loader"])
        _check_shards(ts.loader, comm.Get_size())
    with _guard.training(comm):
        _setup_distributed(ts, comm)
        averager = _flag_carrier(ts)
        if averager is not None:  # on every rank alike: the flag changes the layout
            averager.flag = 0.0
        try:
            _run_with_options(ts, metric_fns, args[-1])
        finally:
            if averager is not None:
                averager.flag = None
    return ts.history


def _run_config(ts: TrainState, metric_fns: dict) -> dict:
    """What every rank of a data-parallel run must agree on (JSON-able values)."""
    loader = ts.loader
    ds = loader.dataset
    arrays = getattr(ds, "arrays", None)
    if arrays is None:
        first = ds[0]
        arrays = first if isinstance(first, (tuple, list)) else (first,)
        shapes = [list(xp.shape(getattr(a, "data", a))) for a in arrays]
        dtypes = [str(xp.asarray(getattr(a, "data", a)).dtype) for a in arrays]
    else:
        shapes = [list(a.shape[1:]) for a in arrays]
        dtypes = [str(a.dtype) for a in arrays]
    opt = _inner_optimizer(ts.optimizer)
    hyper = [
        {k: v for k, v in sorted(g.items()) if isinstance(v, (int, float, str, bool, tuple))}
        for g in getattr(opt, "param_groups", [])
    ]
    params = [
        [name, list(p.data.shape), str(p.data.dtype)]
        for name, p in (ts.model.named_parameters() if hasattr(ts.model, "named_parameters")
                        else enumerate(ts.model.parameters()))
    ]  # fmt: skip
    val = ts.val_loader
    return {
        "epochs": ts.max_epochs,
        "batch_size": loader.batch_size,
        "training samples": loader.num_samples,
        "batches per epoch": len(loader),
        "shuffle, drop_last": [loader.shuffle, loader.drop_last],
        "sample shapes": shapes,
        "data dtypes": dtypes,
        "validation samples": None if val is None else val.num_samples,
        "model parameters": params,
        "optimizer": [type(opt).__name__, hyper],
        "loss": type(ts.loss_fn).__name__,
        "metrics": sorted(metric_fns),
        "clip_grad_norm": getattr(ts, "clip_grad_norm", None),
        "starting epoch, step": [ts.epoch, ts.step],
    }


def _json_safe(value: Any) -> Any:
    """``value`` with tuples as lists and NumPy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, xp.generic):
        return value.item()
    return value


def _check_shards(loader: DataLoader, world: int) -> None:
    """Each rank needs at least one sample of every batch (an empty shard has no loss)."""
    n, bs = loader.num_samples, loader.batch_size
    if bs is None:
        sizes = [n]
    else:
        sizes = [bs] if n >= bs else []
        if n % bs and not loader.drop_last:
            sizes.append(n % bs)
    if sizes and min(sizes) < world:
        from ..distributed import _guard

        raise _guard.collective_error(
            f"fit: a batch of {min(sizes)} sample(s) ({n} training samples, batch_size "
            f"{bs}) cannot be shared by {world} ranks, each of which needs at least one "
            f"sample; choose a batch_size whose last batch has at least {world} samples, "
            f"or a DataLoader with drop_last=True"
        )


def _setup_distributed(ts: TrainState, comm: Any) -> None:
    from .. import distributed as dist

    ts.distributed = True
    ts.rank, ts.world = comm.Get_rank(), comm.Get_size()
    ts.is_root = ts.rank == 0
    # The shapes were compared above: only the values travel.
    model = ts.model
    dist.broadcast_tensors(list(model.parameters()) + list(model.buffers()), 0, comm)
    if not getattr(ts.optimizer, "averages_across_ranks", False):
        ts.optimizer = dist.DistributedOptimizer(ts.optimizer, comm)
    if not ts.is_root:
        ts.callbacks = [cb for cb in ts.callbacks if not isinstance(cb, ProgressBar)]


def _agree_on_stopping(ts: TrainState) -> None:
    """All ranks stop after the same epoch, or all raise (one Allreduce per epoch)."""
    from .. import distributed as dist
    from ..distributed import _guard

    comm = dist.get_comm()
    if comm.Get_size() < 2:
        return
    flag = xp.array([1.0 if ts.stopping else 0.0], dtype=xp.float64)
    _guard.allreduce_sum(flag, comm, "the agreement to stop at the end of an epoch")
    if flag[0] in (0.0, comm.Get_size()):
        return
    said = _guard.allgather_json([ts.stopping, ts.stop_reason], comm, "the stop agreement")
    raise _guard.collective_error(
        f"fit: the ranks disagree on stopping after epoch {ts.epoch}: "
        + ", ".join(
            f"rank {r} {'stops (' + str(why) + ')' if stops else 'goes on'}"
            for r, (stops, why) in enumerate(said)
        )
        + " (a callback that decides on one rank's own values?)"
    )


def _step_scheduler(scheduler: Any, logs: dict) -> None:
    if scheduler is None:
        return
    if getattr(scheduler, "steps_on_metric", False):
        scheduler.step(logs["val_loss"] if logs.get("val_loss") is not None else logs["loss"])
    else:
        scheduler.step()


def _run(ts: TrainState, metric_fns: dict) -> None:
    cbs = ts.callbacks
    for cb in cbs:
        cb.on_train_begin(ts)
    batch_cbs = [
        cb
        for cb in cbs
        if type(cb).on_batch_end is not Callback.on_batch_end
        and getattr(cb, "uses_batch_events", lambda: True)()
    ]
    keep_outputs = any(cb.needs_outputs for cb in cbs)
    # Training mode is set once (walking the modules every epoch costs); evaluation
    # puts it back after its own eval() pass.
    if hasattr(ts.model, "train"):
        ts.model.train()
    try:
        ts.stopping = False
        if ts.max_epochs is not None and ts.epoch >= ts.max_epochs:
            # Resumed from a run that had already finished.
            ts.stopping = True
            ts.stop_reason = ts.stop_reason or f"max_epochs: reached {ts.max_epochs} epochs"
        while not ts.stopping:
            for cb in cbs:
                cb.on_epoch_begin(ts)
            t0 = time.perf_counter()
            logs = _train_epoch(ts, metric_fns, batch_cbs, keep_outputs)
            if getattr(ts, "distributed", False):
                from ..distributed import allreduce_means

                n = logs.pop("_n")
                logs = allreduce_means(logs, n)
            else:
                logs.pop("_n", None)
            if ts.val_loader is not None:
                val = _evaluate(ts.model, ts.loss_fn, ts.val_loader, metric_fns)
                logs.update({f"val_{k}": v for k, v in val.items()})
            if ts.optimizer.param_groups:
                logs["lr"] = float(ts.optimizer.param_groups[0].get("lr", float("nan")))
            logs["epoch_time"] = time.perf_counter() - t0
            ts.epoch += 1
            _step_scheduler(ts.scheduler, logs)
            for cb in cbs:
                cb.on_epoch_end(ts, logs)
            ts.history.append(logs)
            ts.history.steps = ts.step
            if ts.max_epochs is not None and ts.epoch >= ts.max_epochs and not ts.stopping:
                ts.stop(f"max_epochs: reached {ts.max_epochs} epochs")
            if getattr(ts, "distributed", False):
                _agree_on_stopping(ts)
            if getattr(ts, "checkpoints", None) is not None:
                save_train_checkpoint(ts, logs)
        ts.history.stop_reason = ts.stop_reason
    except _Interrupted:
        # Saved before on_train_end runs: EarlyStopping may swap in its best weights there.
        ts.interrupt_checkpoint = save_train_checkpoint(ts)
        raise
    finally:
        ts.epoch_outputs = None
        for cb in cbs:
            cb.on_train_end(ts)


def _train_epoch(ts: TrainState, metric_fns: dict, batch_cbs: list, keep_outputs: bool) -> dict:
    model, loss_fn, opt = ts.model, ts.loss_fn, ts.optimizer
    zero_grad, opt_step = opt.zero_grad, opt.step
    needs_closure = getattr(opt, "needs_closure", False)
    total_loss = 0.0
    n_seen = 0
    metric_sums = dict.fromkeys(metric_fns, 0.0)
    metric_items = list(metric_fns.items())
    loss_is_sum = _loss_is_sum(loss_fn)
    outs, targets = [], []
    first = ts.step == 0
    step_in_epoch = 0
    isfinite = math.isfinite
    shard = None
    if getattr(ts, "distributed", False):
        from ..distributed import shard_slice

        shard = lambda n: shard_slice(n, ts.rank, ts.world)  # noqa: E731
    clip = getattr(ts, "clip_grad_norm", None)
    if clip is not None:
        from ..nn.utils import clip_grad_norm_

        params = [p for g in opt.param_groups for p in g["params"]]
        inner_step = opt_step

        def opt_step(closure=None):
            clip_grad_norm_(params, clip)
            return inner_step() if closure is None else inner_step(closure)

    check_interrupt = getattr(ts, "interrupted", None) is not None
    compiled = getattr(ts, "compiled", None)
    try:
        for batch in ts.loader:
            xb, yb = batch[0], batch[1]
            if shard is not None:
                sl = shard(xb.shape[0])
                xb, yb = xb[sl], yb[sl]
            if needs_closure:

                def closure(xb=xb, yb=yb):
                    zero_grad()
                    lo = loss_fn(model(xb), yb)
                    lo.backward()
                    return lo

                with no_grad():
                    out = model(xb)
                    loss = loss_fn(out, yb).data
                    out = out.data
                opt_step(closure)
            elif first or compiled is None:
                zero_grad()
                out = model(xb)
                if first:
                    # Eager, so that label problems are reported before the loss sees them.
                    first = False
                    n_out = out.shape[1] if out.ndim >= 2 else 1
                    _check_label_range(loss_fn, ts.loader, "train_data", n_out)
                    _check_label_range(loss_fn, ts.val_loader, "val_data", n_out)
                loss = loss_fn(out, yb)
                loss.backward()
                opt_step()
                out, loss = out.data, loss.data
            else:
                zero_grad()
                out, loss = compiled.run(xb, yb)
                opt_step()
            lv = float(loss)
            step_in_epoch += 1
            ts.step += 1
            if not isfinite(lv):
                raise NonFiniteLossError(
                    f"fit: the training loss became {lv} at epoch {ts.epoch + 1}, step "
                    f"{step_in_epoch} (global step {ts.step}); lower the learning rate, "
                    "check the data for extreme values, or clip gradients"
                )
            n = xb.shape[0]
            total_loss += lv if loss_is_sum else lv * n
            n_seen += n
            for name, fn in metric_items:
                metric_sums[name] += fn(out, yb.data) * n
            if keep_outputs:
                outs.append(out)
                targets.append(yb.data)
            for cb in batch_cbs:
                cb.on_batch_end(ts, lv)
            if check_interrupt and ts.interrupted:
                raise _Interrupted
    except (ValueError, TypeError) as exc:
        if isinstance(exc, RetrogradError) or str(exc).startswith("fit:"):
            raise
        where = f"fit (epoch {ts.epoch + 1}, step {step_in_epoch + 1})"
        raise _contextual(exc, where) from exc
    if keep_outputs:
        ts.epoch_outputs = (
            outs[0] if len(outs) == 1 else xp.concatenate(outs),
            targets[0] if len(targets) == 1 else xp.concatenate(targets),
        )
    logs = {"loss": total_loss if loss_is_sum else total_loss / n_seen, "_n": n_seen}
    for name in metric_fns:
        logs[name] = metric_sums[name] / n_seen
    return logs


# ----------------------------------------------------------------------- evaluate/predict
def _evaluate(model: Any, loss_fn: Any, loader: DataLoader, metric_fns: dict) -> dict:
    out, tgt = _collect(model, loader)
    if tgt is None:
        raise ValueError("evaluate: the data has no targets (y)")
    with no_grad():
        loss = float(loss_fn(Tensor._wrap(out, False, None), Tensor._wrap(tgt, False, None)).data)
    res = {"loss": loss}
    for name, fn in metric_fns.items():
        res[name] = float(fn(out, tgt))
    return res


def evaluate(
    model: Any, loss_fn: Callable, data: Any, batch_size: int | None = None, metrics: Any = "auto"
) -> dict:
    """Loss and metrics of ``model`` on ``data`` (no gradients, eval mode): a dict such as
    ``{"loss": 0.08, "accuracy": 0.97}``.

    ``data`` is ``(X, y)``, a Dataset or a DataLoader; ``batch_size`` (default: chunks of
    4096 rows) only bounds memory. The loss is ``loss_fn`` on all outputs at once.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> net = rg.nn.Linear(3, 2)
        >>> X, y = np.ones((5, 3), "float32"), np.array([0, 1, 1, 0, 1])
        >>> sorted(rg.train.evaluate(net, rg.nn.CrossEntropyLoss(), (X, y)))
        ['accuracy', 'loss']
    """
    loader = _eval_loader(data, "data", batch_size)
    _check_targets(loss_fn, loader, "data")
    return _evaluate(model, loss_fn, loader, _resolve_metrics(metrics, loss_fn, loader))


def predict(model: Any, X: Any, batch_size: int | None = None) -> Any:
    """Outputs of ``model`` for ``X`` (array, Tensor, Dataset or DataLoader) as an ndarray,
    computed without gradients in eval mode, in chunks of ``batch_size`` rows.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> rg.train.predict(rg.nn.Linear(3, 2), np.ones((5, 3))).shape
        (5, 2)
    """
    if isinstance(X, (xp.ndarray, Tensor, list)):
        X = (X.data if isinstance(X, Tensor) else X,)
    loader = _eval_loader(X, "X", batch_size)
    return _collect(model, loader)[0]
