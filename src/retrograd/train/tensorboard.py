"""A ``fit`` callback writing TensorBoard event files (through tensorboardX).

tensorboardX (``pip install 'retrograd[tensorboard]'``) is imported when training begins,
never at import time. The files are standard TensorBoard event files: ``tensorboard
--logdir DIR`` shows them, and TensorBoard's own reader (``EventAccumulator``) reads them.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .callbacks import Callback

__all__ = ["TensorBoard", "TENSORBOARD_MISSING"]

TENSORBOARD_MISSING = (
    "TensorBoard logging needs tensorboardX, which is not installed: pip install "
    "'retrograd[tensorboard]' (or pip install tensorboardX)"
)


def _writer_class() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(TENSORBOARD_MISSING) from None
    return SummaryWriter


class TensorBoard(Callback):
    """Log a training run for TensorBoard: ``fit(..., callbacks=[TensorBoard("runs/a")])``.

    Written under ``logdir`` as two runs, ``train`` and ``validation`` (so TensorBoard
    draws the training and validation curve of a quantity in one chart, as Keras does):

    - every epoch, each logged quantity as ``epoch_<name>`` (``epoch_loss``,
      ``epoch_accuracy``... of the training batches in ``train``, of ``val_data`` in
      ``validation``), the learning rate ``epoch_learning_rate`` and the epoch's
      duration ``epoch_time`` (train run); the step is the epoch number;
    - with ``update_freq=N`` (an int), the training loss every N optimizer steps as
      ``batch_loss`` (the step is the global step); ``"epoch"`` (default) logs no steps;
    - with ``histograms=N``, every N epochs a histogram of each parameter
      (``weights/<name>``) and of its gradient from the epoch's last step
      (``gradients/<name>``); ``histograms=True`` means every epoch, 0/False never;
    - with ``figures=True`` (needs matplotlib), the training-curve figure (loss and
      accuracy per epoch, train and validation, as ``plot_history`` draws it) as the image
      ``curves``, every ``figure_every`` epochs and at the end of training.

    Files are flushed after every epoch (TensorBoard shows a running job) and closed when
    training ends. Under ``distributed=True`` only rank 0 writes.

    Example::

        >>> import tempfile, numpy as np, retrograd as rg
        >>> X, y = np.random.rand(32, 3).astype("float32"), np.arange(32) % 2
        >>> net = rg.nn.Linear(3, 2)
        >>> tb = rg.train.TensorBoard(tempfile.mkdtemp(), figures=False)
        >>> h = rg.train.fit(net, rg.nn.CrossEntropyLoss(), rg.optim.SGD(net.parameters(),
        ...                  lr=0.1), (X, y), epochs=2, verbose=0, callbacks=[tb])
        >>> sorted(tb.tags()["train"])[:2]
        ['epoch_accuracy', 'epoch_learning_rate']
    """

    def __init__(
        self,
        logdir: str | os.PathLike,
        *,
        update_freq: int | str = "epoch",
        histograms: int | bool = False,
        figures: bool = True,
        figure_every: int | None = None,
        flush_secs: int = 30,
    ) -> None:
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise ValueError(
                f"TensorBoard: update_freq must be 'epoch' or a positive int, got {update_freq!r}"
            )
        if isinstance(histograms, bool):
            histograms = 1 if histograms else 0
        if not isinstance(histograms, int) or histograms < 0:
            raise ValueError(
                f"TensorBoard: histograms must be a bool or an int >= 0, got {histograms!r}"
            )
        if figure_every is not None and (
            isinstance(figure_every, bool) or not isinstance(figure_every, int) or figure_every < 1
        ):
            raise ValueError(
                f"TensorBoard: figure_every must be None or a positive int, got {figure_every!r}"
            )
        self.logdir = os.fspath(logdir)
        self.update_freq = update_freq
        self.histograms = histograms
        self.figures = bool(figures)
        self.figure_every = figure_every
        self.flush_secs = int(flush_secs)
        self._writers: dict = {}
        self._written: dict = {"train": set(), "validation": set()}
        self._last_figure: int | None = None

    # ------------------------------------------------------------------ events
    def on_train_begin(self, state: Any) -> None:
        if not getattr(state, "is_root", True):
            return
        SummaryWriter = _writer_class()
        if self.figures:
            from .plots import _figure

            _figure((1, 1), 10)  # fail now, not after the first epoch, without matplotlib
        self._writers = {
            run: SummaryWriter(os.path.join(self.logdir, run), flush_secs=self.flush_secs)
            for run in ("train", "validation")
        }

    def on_batch_end(self, state: Any, loss: float) -> None:
        if self._writers and state.step % self.update_freq == 0:
            self._scalar("train", "batch_loss", loss, state.step)

    def uses_batch_events(self) -> bool:
        return self.update_freq != "epoch"

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        if not self._writers:
            return
        e = state.epoch
        for key, value in logs.items():
            if not isinstance(value, (int, float)) or value is None:
                continue
            if key == "lr":
                self._scalar("train", "epoch_learning_rate", value, e)
            elif key == "epoch_time":
                self._scalar("train", "epoch_time", value, e)
            elif key.startswith("val_"):
                self._scalar("validation", "epoch_" + key[4:], value, e)
            else:
                self._scalar("train", "epoch_" + key, value, e)
        if self.histograms and e % self.histograms == 0:
            self._histograms(state.model, e)
        if self.figures and self.figure_every and e % self.figure_every == 0:
            self._figure(state, e, logs)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, state: Any) -> None:
        if not self._writers:
            return
        try:
            if self.figures and state.epoch and self._last_figure != state.epoch:
                self._figure(state, state.epoch)
        finally:
            for w in self._writers.values():
                w.close()
            self._writers = {}

    # ------------------------------------------------------------------ helpers
    def _scalar(self, run: str, tag: str, value: float, step: int) -> None:
        v = float(value)
        if math.isnan(v) and tag == "epoch_learning_rate":
            return
        self._writers[run].add_scalar(tag, v, step)
        self._written[run].add(tag)

    def _histograms(self, model: Any, epoch: int) -> None:
        import numpy as np

        w = self._writers["train"]
        for name, p in model.named_parameters():
            data = np.asarray(p.data)
            if data.size and np.isfinite(data).all():
                w.add_histogram(f"weights/{name}", data, epoch)
                self._written["train"].add(f"weights/{name}")
            g = getattr(p, "grad", None)
            if g is not None and np.size(g) and np.isfinite(g).all():
                w.add_histogram(f"gradients/{name}", np.asarray(g), epoch)
                self._written["train"].add(f"gradients/{name}")

    def _figure(self, state: Any, epoch: int, logs: dict | None = None) -> None:
        import tempfile

        from matplotlib.image import imread

        from .plots import plot_history

        series = {k: list(v) for k, v in state.history.history.items()}
        if logs is not None:
            # The loop appends this epoch to the history after the callbacks have run.
            for k, v in logs.items():
                series.setdefault(k, [None] * (epoch - 1)).append(v)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "curves.png")
            plot_history(series, path, title=f"epoch {epoch}")
            img = imread(path)[..., :3]
        self._writers["train"].add_image("curves", img, epoch, dataformats="HWC")
        self._written["train"].add("curves")
        self._last_figure = epoch

    def tags(self) -> dict:
        """The tags written so far, per run: ``{"train": [...], "validation": [...]}``."""
        return {run: sorted(t) for run, t in self._written.items()}

    def __repr__(self) -> str:
        return (
            f"TensorBoard(logdir={self.logdir!r}, update_freq={self.update_freq!r}, "
            f"histograms={self.histograms}, figures={self.figures})"
        )
