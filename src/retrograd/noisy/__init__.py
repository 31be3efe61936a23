"""Noisy data: inject label and input noise, measure how training copes, find bad samples.

Three tools, all built on :func:`retrograd.train.fit` (also importable from
:mod:`retrograd.train`, as before this package existed):

- :func:`inject_label_noise` / :func:`inject_input_noise` corrupt a copy of a data set in a
  controlled, reproducible way (labels flipped to a *different* class at an exact rate;
  Gaussian noise in units of each feature's standard deviation).
- :func:`noise_report` trains the same network on noisy copies of a data set with plain
  cross-entropy and with robust options (label smoothing, the bounded losses GCE and SCE,
  gradient-norm clipping, weight decay, dropout, and combinations such as ``"gce+clip"``)
  and tabulates test accuracy, on a clean test split, against the noise level.
- :func:`suspicious_samples` ranks training samples by how badly a model fits their
  labels (by default the mean loss over training epochs, recorded by
  :class:`LossTrajectory`; also cross-validated out-of-fold loss, or the final loss of a
  trained model) to surface likely mislabelled samples and outliers;
  :func:`suspicious_precision` measures how well it does on a data set with planted label
  flips.

Example::

    >>> import numpy as np, retrograd as rg
    >>> y = np.arange(100) % 10
    >>> y_noisy, flipped = rg.noisy.inject_label_noise(y, 0.2, 10, rng=0)
    >>> int(flipped.sum()), bool((y_noisy[flipped] != y[flipped]).all())
    (20, True)
"""

from ..optim.clipped import ClippedOptimizer
from .inject import inject_input_noise, inject_label_noise
from .options import DEFAULT_LOSSES, OPTION_DEFAULTS, RobustOption, default_model
from .report import NoiseReport, noise_report
from .suspicious import SuspiciousSamples, suspicious_precision, suspicious_samples
from .trajectory import LossTrajectory, per_sample_loss

# retrograd.train re-exports the first ten (its names before this package existed).
__all__ = [
    "inject_label_noise", "inject_input_noise", "noise_report", "NoiseReport",
    "suspicious_samples", "SuspiciousSamples", "suspicious_precision", "LossTrajectory",
    "ClippedOptimizer", "RobustOption", "per_sample_loss", "default_model", "DEFAULT_LOSSES",
    "OPTION_DEFAULTS",
]  # fmt: skip
