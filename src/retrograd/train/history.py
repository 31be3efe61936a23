"""History: what fit measured, epoch by epoch."""

from __future__ import annotations

import math
from typing import Any


class History:
    """Per-epoch records of a training run (Keras's layout: ``history["val_loss"]``).

    ``history`` maps each logged name (``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``, ``epoch_time``, ``lr``, ...) to a list with one value per epoch;
    ``epochs`` counts completed epochs and ``stop_reason`` says why training ended.
    ``to_dict()`` / ``from_dict()`` give plain JSON-able data.

    Example::

        >>> from retrograd.train import History
        >>> h = History(); h.append({"loss": 0.5}); h.append({"loss": 0.25})
        >>> h["loss"], h.epochs, h.best("loss")
        ([0.5, 0.25], 2, (2, 0.25))
    """

    def __init__(self) -> None:
        self.history: dict = {}
        self.epochs = 0
        self.stop_reason: str | None = None
        self.steps = 0

    def append(self, logs: dict) -> None:
        """Record one epoch's logs; names missing this epoch get None (keeps lists aligned)."""
        for key in logs:
            if key not in self.history:
                self.history[key] = [None] * self.epochs
        for key, values in self.history.items():
            v = logs.get(key)
            values.append(float(v) if isinstance(v, (int, float)) or hasattr(v, "item") else v)
        self.epochs += 1

    def __getitem__(self, key: str) -> list:
        if key not in self.history:
            raise KeyError(f"History: no record named {key!r}; recorded: {sorted(self.history)}")
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def keys(self) -> list:
        return list(self.history)

    def last(self, key: str) -> Any:
        """The value of ``key`` in the last epoch."""
        values = self[key]
        return values[-1] if values else None

    def best(self, key: str, mode: str = "auto") -> tuple:
        """``(epoch, value)`` (1-based epoch) of the best value; ``mode`` min, max or auto
        (max for accuracy-like names, min otherwise)."""
        if mode == "auto":
            mode = "max" if "acc" in key else "min"
        values = [
            (i + 1, v) for i, v in enumerate(self[key]) if v is not None and not math.isnan(v)
        ]
        if not values:
            raise ValueError(f"History.best: no values recorded for {key!r}")
        pick = min if mode == "min" else max
        return pick(values, key=lambda p: p[1])

    @property
    def total_time(self) -> float:
        return float(sum(self.history.get("epoch_time", [])))

    def to_dict(self) -> dict:
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "epochs": self.epochs,
            "steps": self.steps,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, d: dict) -> History:
        h = cls()
        h.load_state_dict(d)
        return h

    state_dict = to_dict

    def load_state_dict(self, d: dict) -> None:
        self.history = {k: list(v) for k, v in d.get("history", {}).items()}
        self.epochs = int(d.get("epochs", 0))
        self.steps = int(d.get("steps", 0))
        self.stop_reason = d.get("stop_reason")

    def __repr__(self) -> str:
        last = ", ".join(
            f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v and isinstance(v[-1], float)
        )
        return f"History(epochs={self.epochs}, {last}, stop_reason={self.stop_reason!r})"
