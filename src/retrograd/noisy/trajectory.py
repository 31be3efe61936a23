"""Per-sample losses, and their trajectory over training epochs (a callback)."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import check_int
from ..train.callbacks import Callback


def per_sample_loss(outputs: Any, targets: Any) -> Any:
    """The loss of each sample as a float64 (N,) array: cross-entropy of (N, C) logits for
    integer labels, else the mean squared error of each row.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> z = np.array([[0.0, 0.0], [5.0, -5.0]])
        >>> rg.noisy.per_sample_loss(z, np.array([0, 1])).round(3).tolist()
        [0.693, 10.0]
    """
    z = xp.asarray(outputs, dtype=xp.float64)
    t = xp.asarray(targets)
    if t.ndim == 1 and t.dtype.kind in "iu":
        if z.ndim != 2 or z.shape[0] != t.shape[0]:
            raise ValueError(
                f"per_sample_loss: outputs of shape {z.shape} do not match {t.shape[0]} labels"
            )
        m = z.max(axis=1, keepdims=True)
        lse = (m + xp.log(xp.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
        return lse - z[xp.arange(z.shape[0]), t]
    t = t.astype(xp.float64).reshape(z.shape)
    d = (z - t).reshape(z.shape[0], -1)
    return (d * d).mean(axis=1)


class LossTrajectory(Callback):
    """Records the loss of every training sample after each epoch (one extra forward pass
    of the training set per epoch, in eval mode), for :func:`suspicious_samples`.

    ``losses`` is a list with one (N,) array per epoch, in the training data's order;
    :meth:`mean_loss` averages them. Mislabelled samples are fitted late, if at all, so
    their loss stays high over most of training.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
        >>> traj = rg.noisy.LossTrajectory()
        >>> net = rg.nn.Linear(3, 2)
        >>> _ = rg.train.fit(net, rg.nn.CrossEntropyLoss(), rg.optim.SGD(net.parameters(), lr=0.1),
        ...                  (X.astype("float32"), y), epochs=3, verbose=0, callbacks=[traj])
        >>> len(traj.losses), traj.mean_loss().shape
        (3, (40,))
    """

    def __init__(self, skip_epochs: int = 0) -> None:
        self.skip_epochs = check_int(skip_epochs, "skip_epochs", "LossTrajectory", 0)
        self.losses: list = []
        self.last_predicted: Any = None

    def on_train_begin(self, state: Any) -> None:
        self.losses = []
        self.last_predicted = None

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        if state.epoch <= self.skip_epochs:
            return
        out, target = state.predict_train()
        if target is None:
            raise ValueError("LossTrajectory: the training data has no targets")
        self.losses.append(per_sample_loss(out, target))
        if target.ndim == 1 and target.dtype.kind in "iu":
            self.last_predicted = out.argmax(axis=1)

    def mean_loss(self) -> Any:
        """The mean over the recorded epochs of each sample's loss, a float64 (N,) array."""
        if not self.losses:
            raise ValueError("LossTrajectory: nothing recorded yet (train with this callback)")
        return xp.mean(xp.stack(self.losses), axis=0)

    def state_dict(self) -> dict:
        return {"recorded_epochs": len(self.losses)}

    def array_state(self) -> dict:
        return {"losses": xp.stack(self.losses)} if self.losses else {}

    def load_array_state(self, arrays: dict) -> None:
        self.losses = list(arrays["losses"]) if "losses" in arrays else []
