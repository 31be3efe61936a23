"""Training: the fit loop, callbacks (stopping rules, progress), metrics, History.

Example::

    >>> import retrograd as rg
    >>> X, y = rg.data.load_digits()
    >>> _ = rg.manual_seed(0)
    >>> net = rg.nn.Sequential(rg.nn.Linear(64, 32), rg.nn.ReLU(), rg.nn.Linear(32, 10))
    >>> opt = rg.optim.Adam(net.parameters(), lr=1e-2)
    >>> h = rg.train.fit(net, rg.nn.CrossEntropyLoss(), opt, (X / 16, y), epochs=2,
    ...                  verbose=0)
    >>> h.epochs, h["accuracy"][-1] > 0.8
    (2, True)
"""

from typing import TYPE_CHECKING

from . import metrics
from .callbacks import (
    AllWithinTolerance,
    Callback,
    EarlyStopping,
    MaxEpochs,
    ProgressBar,
    TargetAccuracy,
    TargetLoss,
)
from .compiled import CompiledStep, compile_step
from .history import History
from .logging import CSVLogger, JSONLLogger  # noqa: F401 - per-epoch metric files
from .loop import NonFiniteLossError, TrainState, evaluate, fit, predict
from .metrics import accuracy, confusion_matrix
from .options import Checkpointing, StepOptions
from .tensorboard import TensorBoard

#: The noisy-data toolkit (retrograd.noisy, which builds on fit) under the names it had
#: here; imported on first use, so the loop never depends on it.
_NOISY = (
    "inject_label_noise", "inject_input_noise", "noise_report", "NoiseReport",
    "suspicious_samples", "SuspiciousSamples", "suspicious_precision", "LossTrajectory",
    "ClippedOptimizer", "RobustOption",
)  # fmt: skip


if TYPE_CHECKING:  # what __getattr__ loads lazily, made visible to type checkers
    from ..noisy import (  # noqa: F401
        ClippedOptimizer,
        LossTrajectory,
        NoiseReport,
        RobustOption,
        SuspiciousSamples,
        inject_input_noise,
        inject_label_noise,
        noise_report,
        suspicious_precision,
        suspicious_samples,
    )


def __getattr__(name: str):
    import importlib

    if name == "noise":
        return importlib.import_module("retrograd.train.noise")
    if name in _NOISY:
        return getattr(importlib.import_module("retrograd.noisy"), name)
    raise AttributeError(f"module 'retrograd.train' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_NOISY))


__all__ = [
    "fit", "evaluate", "predict", "Checkpointing", "StepOptions", "compile_step",
    "CompiledStep", "History", "TrainState",
    "NonFiniteLossError", "Callback",
    "MaxEpochs", "TargetLoss", "TargetAccuracy", "AllWithinTolerance", "EarlyStopping",
    "ProgressBar", "TensorBoard", "metrics", "accuracy", "confusion_matrix", *_NOISY,
]  # fmt: skip
