"""fit's options, grouped (as Keras and Lightning group theirs): where checkpoints go and
how each training step runs. The flat keywords (``checkpoint_dir=``, ``resume=``,
``clip_grad_norm=``, ...) still work and fill these groups.

Example::

    >>> import numpy as np, retrograd as rg
    >>> from retrograd.train import Checkpointing, StepOptions
    >>> net = rg.nn.Linear(2, 1)
    >>> opt = rg.optim.SGD(net.parameters(), lr=0.1)
    >>> XY = (np.ones((4, 2), "float32"), np.ones((4, 1), "float32"))
    >>> h = rg.train.fit(net, rg.nn.MSELoss(), opt, XY, epochs=2, verbose=0,
    ...                  step=StepOptions(clip_grad_norm=1.0, compile=False))
    >>> h.epochs
    2
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Checkpointing:
    """Checkpoints after every epoch into ``dir``: ``keep_last`` newest plus the best by
    ``keep_best=("val_loss", "min")``; ``resume=True`` continues from the newest."""

    dir: Any
    resume: bool = False
    keep_last: int | None = 3
    keep_best: tuple | None = None


@dataclass(frozen=True)
class StepOptions:
    """How each step runs: gradient clipping to ``clip_grad_norm``, under
    ``detect_anomaly``, data-parallel over MPI (``distributed``), recorded and replayed
    (``compile``, the default)."""

    clip_grad_norm: float | None = None
    detect_anomaly: bool = False
    distributed: bool = False
    compile: bool = True


#: fit's flat keywords -> (group, field).
FLAT_KEYWORDS = {
    "checkpoint_dir": ("checkpoint", "dir"),
    "resume": ("checkpoint", "resume"),
    "keep_last": ("checkpoint", "keep_last"),
    "keep_best": ("checkpoint", "keep_best"),
    "clip_grad_norm": ("step", "clip_grad_norm"),
    "detect_anomaly": ("step", "detect_anomaly"),
    "distributed": ("step", "distributed"),
    "compile_step": ("step", "compile"),
}


def resolve_options(
    checkpoint: Checkpointing | None, step: StepOptions | None, flat: dict
) -> tuple:
    """(Checkpointing or None, StepOptions) from the groups and/or the flat keywords."""
    unknown = sorted(set(flat) - set(FLAT_KEYWORDS))
    if unknown:
        raise TypeError(f"fit() got an unexpected keyword argument {unknown[0]!r}")
    for group, given in (("checkpoint", checkpoint), ("step", step)):
        mixed = [k for k in flat if FLAT_KEYWORDS[k][0] == group]
        if given is not None and mixed:
            raise TypeError(f"fit: pass {group}= or {'=, '.join(mixed)}=, not both")
    if step is None:
        step = StepOptions(**{FLAT_KEYWORDS[k][1]: v for k, v in flat.items()
                              if FLAT_KEYWORDS[k][0] == "step"})  # fmt: skip
    if checkpoint is None:
        ck = {
            FLAT_KEYWORDS[k][1]: v for k, v in flat.items() if FLAT_KEYWORDS[k][0] == "checkpoint"
        }
        if ck.get("resume") and ck.get("dir") is None:
            raise ValueError("fit: resume=True needs checkpoint_dir (where to resume from)")
        if ck.get("dir") is not None:
            checkpoint = Checkpointing(**ck)
    groups = (("checkpoint", checkpoint, Checkpointing), ("step", step, StepOptions))
    for name, value, cls in groups:
        if value is not None and not isinstance(value, cls):
            raise TypeError(f"fit: {name} must be a retrograd.train.{cls.__name__}, got {value!r}")
    if checkpoint is not None and checkpoint.dir is None:
        raise ValueError("fit: Checkpointing needs dir (where the checkpoints go)")
    return checkpoint, step


__all__ = ["Checkpointing", "StepOptions", "FLAT_KEYWORDS", "resolve_options"]
assert {f.name for f in fields(Checkpointing)} | {f.name for f in fields(StepOptions)} == {
    f for _, f in FLAT_KEYWORDS.values()
}
