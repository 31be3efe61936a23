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
from .noise import *  # noqa: F403 - noise_report, suspicious_samples, inject_*_noise, ...
from .tensorboard import TensorBoard

__all__ = [
    "fit", "evaluate", "predict", "compile_step", "CompiledStep", "History", "TrainState",
    "NonFiniteLossError", "Callback",
    "MaxEpochs", "TargetLoss", "TargetAccuracy", "AllWithinTolerance", "EarlyStopping",
    "ProgressBar", "TensorBoard", "metrics", "accuracy", "confusion_matrix",
]  # fmt: skip
