"""Callbacks: stopping rules, progress output and bookkeeping around the training loop.

A callback sees the loop at fixed events (train begin/end, epoch begin/end and, only for
callbacks that override it, batch end) and may ask it to stop with
``state.stop(reason)``; the loop itself knows nothing about targets or patience (chainer's
extensions, Keras's callbacks). Every callback exposes ``state_dict()`` /
``load_state_dict()`` with plain JSON-able data, so a checkpoint can restore it.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from .._backend import xp
from .._checks import check_int, positive_int


class Callback:
    """Base class. Override the events you need; all receive the :class:`TrainState`."""

    #: Set True to have the loop keep the epoch's outputs and targets
    #: (``state.epoch_outputs``), e.g. to check every output against its target.
    needs_outputs = False

    def on_train_begin(self, state: Any) -> None:
        pass

    def on_epoch_begin(self, state: Any) -> None:
        pass

    def on_batch_end(self, state: Any, loss: float) -> None:
        """Called after every optimizer step, only if a subclass overrides it (cost)."""

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        pass

    def on_train_end(self, state: Any) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs or logs[monitor] is None:
        have = sorted(k for k, v in logs.items() if v is not None)
        hint = " (pass val_data to fit)" if monitor.startswith("val_") else ""
        raise ValueError(f"{who}: monitor={monitor!r} is not logged{hint}; logged: {have}")
    return float(logs[monitor])


class MaxEpochs(Callback):
    """Stop after ``max_epochs`` epochs (fit's ``epochs=`` adds one of these for you)."""

    def __init__(self, max_epochs: int) -> None:
        self.max_epochs = positive_int(max_epochs, "max_epochs", "MaxEpochs")

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        if state.epoch >= self.max_epochs:
            state.stop(f"max_epochs: reached {self.max_epochs} epochs")


class TargetLoss(Callback):
    """Stop as soon as the monitored loss is at or below ``target`` ("train until the
    output matches the desired output", with the match measured by the loss).

    Example::

        >>> from retrograd.train import TargetLoss
        >>> TargetLoss(0.01).target
        0.01
    """

    def __init__(self, target: float, monitor: str = "loss") -> None:
        if (
            not isinstance(target, (int, float))
            or isinstance(target, bool)
            or not math.isfinite(target)
        ):
            raise ValueError(f"TargetLoss: target must be a finite number, got {target!r}")
        self.target = float(target)
        self.monitor = monitor

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        v = _monitored(logs, self.monitor, "TargetLoss")
        if v <= self.target:
            state.stop(
                f"target_loss: {self.monitor} {v:.6g} <= {self.target:g} at epoch {state.epoch}"
            )


class TargetAccuracy(Callback):
    """Stop as soon as the monitored accuracy reaches ``target`` (default 1.0: all
    correct)."""

    def __init__(self, target: float = 1.0, monitor: str = "accuracy") -> None:
        if not isinstance(target, (int, float)) or not 0.0 <= float(target) <= 1.0:
            raise ValueError(f"TargetAccuracy: target must be in [0, 1], got {target!r}")
        self.target = float(target)
        self.monitor = monitor

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        v = _monitored(logs, self.monitor, "TargetAccuracy")
        if v >= self.target:
            state.stop(
                f"target_accuracy: {self.monitor} {v:.6g} >= {self.target:g} at epoch {state.epoch}"
            )


class AllWithinTolerance(Callback):
    """Stop when every output is within ``tol`` of its target, for every training pattern.

    This is the criterion of the classic backpropagation experiments (Rumelhart, Hinton &
    Williams 1986): with 0/1 targets and ``tol=0.1`` each output must be below 0.1 or above
    0.9. By default the outputs checked are those the epoch's sweep computed (before that
    sweep's weight change), which is how the PDP software counted sweeps; with
    ``after_update=True`` the training set is run again after the epoch (stricter, one more
    forward pass per epoch). ``transform`` maps raw outputs first (e.g. a sigmoid when the
    model ends in logits). The largest error is logged as ``max_abs_error``.

    Example::

        >>> from retrograd.train import AllWithinTolerance
        >>> AllWithinTolerance(tol=0.1).tol
        0.1
    """

    needs_outputs = True

    def __init__(self, tol: float = 0.1, after_update: bool = False, transform: Any = None) -> None:
        if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not tol > 0:
            raise ValueError(f"AllWithinTolerance: tol must be a positive number, got {tol!r}")
        self.tol = float(tol)
        self.after_update = bool(after_update)
        self.transform = transform
        self.needs_outputs = not self.after_update

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        if self.after_update:
            out, target = state.predict_train()
        else:
            out, target = state.epoch_outputs
        if self.transform is not None:
            out = self.transform(out)
        if out.shape != target.shape:
            raise ValueError(
                f"AllWithinTolerance: outputs have shape {out.shape} but targets {target.shape}; "
                "the criterion compares each output with a target of the same shape"
            )
        err = float(xp.abs(out - target).max())
        logs["max_abs_error"] = err
        if err <= self.tol:
            state.stop(
                f"all_within_tolerance: every output within {self.tol:g} of its target "
                f"(max error {err:.4g}) at epoch {state.epoch}"
            )


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs in a row (as Keras: ``patience=3`` stops at the third epoch without
    improvement; 0 at the first); optionally put back the weights of the best epoch.

    ``mode`` is "min", "max" or "auto" (max for names containing "acc"). The best weights
    are copies of the model's arrays; :meth:`state_dict` holds the JSON-able part and
    :meth:`array_state` the arrays (for a checkpoint's tensor file).

    Example::

        >>> from retrograd.train import EarlyStopping
        >>> EarlyStopping(monitor="val_loss", patience=3).patience
        3
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        check_int(patience, "patience", "EarlyStopping", 0)
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.restore_best_weights = bool(restore_best_weights)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self._best_weights: dict | None = None

    def _improved(self, v: float) -> bool:
        if self.best is None:
            return not math.isnan(v)
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta

    def on_train_begin(self, state: Any) -> None:
        if self.monitor.startswith("val_") and not state.has_validation:
            raise ValueError(
                f"EarlyStopping: monitor={self.monitor!r} needs validation data; pass "
                "val_data to fit or monitor a training quantity such as 'loss'"
            )

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        v = _monitored(logs, self.monitor, "EarlyStopping")
        if self._improved(v):
            self.best, self.best_epoch, self.wait = v, state.epoch, 0
            if self.restore_best_weights:
                self._best_weights = {k: a.copy() for k, a in state.model.state_dict().items()}
            return
        self.wait += 1
        # As Keras: patience N stops after N epochs in a row without improvement.
        if self.wait >= self.patience:
            state.stop(
                f"early_stopping: {self.monitor} did not improve for {self.wait} epochs "
                f"(best {self.best:.6g} at epoch {self.best_epoch})"
            )

    def on_train_end(self, state: Any) -> None:
        if self.restore_best_weights and self._best_weights is not None:
            state.model.load_state_dict(self._best_weights)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        self.wait = int(state.get("wait", 0))

    def array_state(self) -> dict:
        """The best weights (name -> ndarray), or an empty dict."""
        return dict(self._best_weights or {})

    def load_array_state(self, arrays: dict) -> None:
        self._best_weights = {k: xp.array(v, copy=True) for k, v in arrays.items()} or None


def _fmt_logs(logs: dict) -> str:
    parts = []
    for k, v in logs.items():
        if v is None or k == "epoch_time":
            continue
        parts.append(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}")
    return " - ".join(parts)


def _under_mpirun() -> bool:
    import os

    return any(k in os.environ for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"))


class ProgressBar(Callback):
    """Progress output: a tqdm bar with the running loss and the ETA when ``stream`` is a
    terminal (``mode="bar"``), else one line per epoch (``mode="lines"``; with many epochs
    only about ``max_lines`` of them, always the first and last). fit adds one for you when
    ``verbose`` > 0."""

    def __init__(self, mode: str = "auto", stream: Any = None, max_lines: int = 50) -> None:
        if mode not in ("auto", "bar", "lines"):
            raise ValueError(f"ProgressBar: mode must be 'auto', 'bar' or 'lines', got {mode!r}")
        self.mode = mode
        self.stream = stream
        self.max_lines = max_lines
        self._bar = None

    def _stream(self) -> Any:
        return self.stream if self.stream is not None else sys.stdout

    def on_train_begin(self, state: Any) -> None:
        mode = self.mode
        if mode == "auto":
            isatty = getattr(self._stream(), "isatty", lambda: False)
            # Under mpirun the stream is a pty that mpirun relays line by line: a bar's
            # carriage returns arrive as one blank line, so print lines there.
            relayed = getattr(state, "distributed", False) or _under_mpirun()
            mode = "bar" if isatty() and not relayed else "lines"
        self._mode = mode
        self._every = max(1, state.max_epochs // self.max_lines) if state.max_epochs else 1
        self._t0 = time.perf_counter()
        if mode == "bar":
            from tqdm.auto import tqdm

            total = state.max_epochs * state.batches_per_epoch if state.max_epochs else None
            self._bar = tqdm(
                total=total,
                initial=state.step,
                file=self._stream(),
                unit="step",
                dynamic_ncols=True,
                leave=True,
            )
            self._pending = 0

    # Only the bar needs per-step events; see the loop's batch-callback filter.
    def on_batch_end(self, state: Any, loss: float) -> None:
        self._pending += 1
        if self._pending >= 16 or state.batches_per_epoch < 16:
            self._bar.update(self._pending)
            self._pending = 0

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        if self._mode == "bar":
            if self._pending:
                self._bar.update(self._pending)
                self._pending = 0
            self._bar.set_postfix_str(f"epoch {state.epoch} - {_fmt_logs(logs)}", refresh=True)
            return
        e = state.epoch
        if e == 1 or e % self._every == 0 or e == state.max_epochs or state.stopping:
            width = len(str(state.max_epochs)) if state.max_epochs else 1
            total = f"/{state.max_epochs}" if state.max_epochs else ""
            line = (
                f"epoch {e:>{width}}{total} - {_fmt_logs(logs)} - "
                f"{logs.get('epoch_time', 0.0):.2f}s"
            )
            print(line, file=self._stream(), flush=True)

    def on_train_end(self, state: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._mode == "lines" and state.stop_reason:
            print(
                f"stopped: {state.stop_reason} ({time.perf_counter() - self._t0:.2f}s)",
                file=self._stream(),
                flush=True,
            )

    def uses_batch_events(self) -> bool:
        return getattr(self, "_mode", self.mode) == "bar"


__all__ = [
    "Callback", "MaxEpochs", "TargetLoss", "TargetAccuracy", "AllWithinTolerance",
    "EarlyStopping", "ProgressBar",
]  # fmt: skip
