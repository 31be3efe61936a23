"""Noisy data: inject label and input noise, measure how training copes, find bad samples.

Three tools, all built on :func:`retrograd.train.fit`:

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
    >>> y_noisy, flipped = rg.train.inject_label_noise(y, 0.2, 10, rng=0)
    >>> int(flipped.sum()), bool((y_noisy[flipped] != y[flipped]).all())
    (20, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._backend import xp
from ..random import default_generator, manual_seed
from .callbacks import Callback

# Defaults of the named robust options; each can be overridden as "name=value".
OPTION_DEFAULTS = {
    "label_smoothing": 0.1,  # the usual value (Szegedy et al. 2016)
    "gce": 0.7,  # q of Zhang & Sabuncu (2018)
    "clip": 1.0,  # max gradient norm
    "weight_decay": 0.1,  # AdamW's decoupled decay (multiplied by lr each step)
    "dropout": 0.3,  # after the hidden layer
}
_ALIASES = {"ls": "label_smoothing", "wd": "weight_decay", "clip_grad_norm": "clip"}
_LOSSES = ("ce", "label_smoothing", "gce", "sce", "mae")
_MODIFIERS = ("clip", "weight_decay", "dropout")

DEFAULT_LOSSES = ("ce", "label_smoothing", "gce", "sce", "ce+clip", "ce+weight_decay", "ce+dropout")


# ------------------------------------------------------------------------------ helpers
def _as_rng(rng: Any, fn: str) -> Any:
    """None: retrograd's global generator; an int: a fresh seeded one; a Generator: itself."""
    if rng is None:
        return default_generator()
    if isinstance(rng, xp.random.Generator):
        return rng
    if isinstance(rng, (int, xp.integer)) and not isinstance(rng, bool) and rng >= 0:
        return xp.random.default_rng(int(rng))
    raise TypeError(
        f"{fn}: rng must be None, a non-negative int seed or a numpy Generator, got {rng!r}"
    )


def _check_rate(rate: Any, name: str, fn: str, hi: float | None = 1.0) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, xp.integer, xp.floating)):
        raise TypeError(f"{fn}: {name} must be a number, got {rate!r}")
    r = float(rate)
    if not (r >= 0 and (hi is None or r <= hi)) or math.isnan(r):
        rng_s = f"[0, {hi:g}]" if hi is not None else ">= 0"
        raise ValueError(f"{fn}: {name} must be in {rng_s}, got {rate!r}")
    return r


def _class_labels(y: Any, fn: str) -> Any:
    y = xp.asarray(y.data if hasattr(y, "data") and not isinstance(y, xp.ndarray) else y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"{fn}: y must be a 1-D array of integer class labels, got shape {y.shape} and "
            f"dtype {y.dtype}"
        )
    if y.size and int(y.min()) < 0:
        raise ValueError(f"{fn}: y contains the negative label {int(y.min())}")
    return y


# ---------------------------------------------------------------------- noise injection
def inject_label_noise(y: Any, rate: float, n_classes: int | None = None, rng: Any = None) -> tuple:
    """Flip ``round(rate * len(y))`` labels, chosen at random, each to a *different* class
    drawn uniformly from the other ``n_classes - 1``; returns ``(y_noisy, flipped)``.

    ``y`` is (N,) integer labels (not modified); ``n_classes`` defaults to ``y.max() + 1``;
    ``rng`` is None (retrograd's global generator), an int seed or a numpy Generator.
    ``flipped`` is a boolean mask of the changed labels, so ``flipped.mean()`` is exactly
    the requested rate (up to rounding) and ``y_noisy[flipped] != y[flipped]`` everywhere.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> y = np.zeros(10, dtype=np.int64)
        >>> y_noisy, flipped = rg.train.inject_label_noise(y, 0.3, n_classes=3, rng=1)
        >>> int(flipped.sum()), sorted(set(y_noisy[flipped].tolist())) <= [1, 2]
        (3, True)
    """
    fn = "inject_label_noise"
    y = _class_labels(y, fn)
    r = _check_rate(rate, "rate", fn)
    if n_classes is None:
        n_classes = int(y.max()) + 1 if y.size else 0
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, xp.integer)):
        raise TypeError(f"{fn}: n_classes must be an int, got {n_classes!r}")
    if n_classes < 2:
        raise ValueError(f"{fn}: n_classes must be >= 2 to flip a label, got {n_classes}")
    if y.size and int(y.max()) >= n_classes:
        raise ValueError(
            f"{fn}: y contains label {int(y.max())}, expected labels in 0..{n_classes - 1}"
        )
    gen = _as_rng(rng, fn)
    n = y.shape[0]
    n_flip = int(round(r * n))
    idx = gen.choice(n, size=n_flip, replace=False)
    # Adding 1..C-1 modulo C gives every *other* class with equal probability.
    shift = gen.integers(1, n_classes, size=n_flip)
    y_noisy = y.copy()
    y_noisy[idx] = (y[idx] + shift) % n_classes
    flipped = xp.zeros(n, dtype=bool)
    flipped[idx] = True
    return y_noisy, flipped


def inject_input_noise(X: Any, scale: float, rng: Any = None, *, std: Any = None) -> Any:
    """``X`` plus Gaussian noise whose standard deviation is ``scale`` times each feature's
    standard deviation (a copy; float dtypes kept, integer inputs become float32).

    ``std`` gives the per-feature standard deviations to use (e.g. those of the training
    split, to corrupt a test split the same way); by default they are ``X.std(axis=0)``.
    Constant features (std 0) get no noise. ``rng`` as in :func:`inject_label_noise`.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> X = np.random.default_rng(0).normal(0, 3, size=(20000, 2))
        >>> Xn = rg.train.inject_input_noise(X, 0.5, rng=0)
        >>> round(float((Xn - X).std() / X.std()), 1)
        0.5
    """
    fn = "inject_input_noise"
    X = xp.asarray(X.data if hasattr(X, "data") and not isinstance(X, xp.ndarray) else X)
    if X.ndim < 1 or X.dtype.kind not in "fiu":
        raise ValueError(f"{fn}: X must be a numeric array of samples, got shape {X.shape}")
    s = _check_rate(scale, "scale", fn, hi=None)
    if X.dtype.kind != "f":
        X = X.astype(xp.float32)
    if std is None:
        std = X.std(axis=0)
    std = xp.asarray(std, dtype=X.dtype)
    if std.shape != X.shape[1:]:
        raise ValueError(
            f"{fn}: std has shape {std.shape}, expected one value per feature {X.shape[1:]}"
        )
    if s == 0:
        return X.copy()
    gen = _as_rng(rng, fn)
    noise = gen.standard_normal(X.shape).astype(X.dtype)
    return X + noise * (std * xp.asarray(s, dtype=X.dtype))


# ------------------------------------------------------------------- per-sample losses
def per_sample_loss(outputs: Any, targets: Any) -> Any:
    """The loss of each sample as a float64 (N,) array: cross-entropy of (N, C) logits for
    integer labels, else the mean squared error of each row.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> z = np.array([[0.0, 0.0], [5.0, -5.0]])
        >>> rg.train.noise.per_sample_loss(z, np.array([0, 1])).round(3).tolist()
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
        >>> traj = rg.train.noise.LossTrajectory()
        >>> net = rg.nn.Linear(3, 2)
        >>> _ = rg.train.fit(net, rg.nn.CrossEntropyLoss(), rg.optim.SGD(net.parameters(), lr=0.1),
        ...                  (X.astype("float32"), y), epochs=3, verbose=0, callbacks=[traj])
        >>> len(traj.losses), traj.mean_loss().shape
        (3, (40,))
    """

    def __init__(self, skip_epochs: int = 0) -> None:
        if isinstance(skip_epochs, bool) or not isinstance(skip_epochs, int) or skip_epochs < 0:
            raise ValueError(
                f"LossTrajectory: skip_epochs must be an int >= 0, got {skip_epochs!r}"
            )
        self.skip_epochs = skip_epochs
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


# ----------------------------------------------------------------- gradient clipping
class ClippedOptimizer:
    """Wraps an optimizer so each ``step()`` first clips the joint gradient norm of its
    parameters to ``max_norm`` (:func:`retrograd.nn.utils.clip_grad_norm_`); everything
    else (``param_groups``, ``state_dict``, schedulers) goes to the wrapped optimizer.

    Use it where :func:`fit` takes an optimizer.

    Example::

        >>> import retrograd as rg
        >>> net = rg.nn.Linear(3, 2)
        >>> opt = rg.train.noise.ClippedOptimizer(rg.optim.SGD(net.parameters(), lr=0.1), 1.0)
        >>> opt.param_groups[0]["lr"]
        0.1
    """

    def __init__(self, optimizer: Any, max_norm: float, norm_type: float = 2.0) -> None:
        if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
            raise TypeError(f"ClippedOptimizer: expected an rg.optim optimizer, got {optimizer!r}")
        if type(optimizer).__name__ == "LBFGS":
            raise TypeError("ClippedOptimizer: LBFGS re-evaluates its closure; clip inside it")
        if isinstance(max_norm, bool) or not float(max_norm) > 0:
            raise ValueError(f"ClippedOptimizer: max_norm must be > 0, got {max_norm!r}")
        self.optimizer = optimizer
        self.max_norm = float(max_norm)
        self.norm_type = float(norm_type)

    def step(self, closure: Callable | None = None) -> Any:
        from ..nn.utils import clip_grad_norm_

        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        clip_grad_norm_(params, self.max_norm, self.norm_type)
        return self.optimizer.step() if closure is None else self.optimizer.step(closure)

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found on the wrapper: zero_grad, param_groups, state...
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __repr__(self) -> str:
        return f"ClippedOptimizer({self.optimizer!r}, max_norm={self.max_norm})"


# ---------------------------------------------------------------------- robust options
@dataclass(frozen=True)
class RobustOption:
    """One training recipe of :func:`noise_report`, parsed from a name such as ``"ce"``,
    ``"gce"``, ``"gce=0.5"``, ``"ce+clip=0.5"`` or ``"label_smoothing+dropout+weight_decay"``.

    The first part names the loss: ``ce`` (cross-entropy), ``label_smoothing[=eps]``
    (alias ``ls``), ``gce[=q]`` (generalized cross-entropy), ``sce`` (symmetric
    cross-entropy, alpha 0.1, beta 1, A -4) or ``mae`` (GCE with q = 1, the mean absolute
    error of the probabilities); ``+`` adds ``clip[=max_norm]``, ``weight_decay[=wd]``
    (alias ``wd``) and ``dropout[=p]``. A modifier alone (``"clip"``) means ``ce+clip``.
    Defaults are in :data:`OPTION_DEFAULTS`.

    Example::

        >>> from retrograd.train.noise import RobustOption
        >>> o = RobustOption.parse("gce=0.5+clip")
        >>> o.loss, o.loss_param, o.clip, o.weight_decay, o.dropout
        ('gce', 0.5, 1.0, 0.0, 0.0)
    """

    name: str
    loss: str = "ce"
    loss_param: float | None = None
    clip: float | None = None
    weight_decay: float = 0.0
    dropout: float = 0.0

    @classmethod
    def parse(cls, spec: str | RobustOption) -> RobustOption:
        if isinstance(spec, RobustOption):
            return spec
        if not isinstance(spec, str) or not spec.strip():
            raise TypeError(f"RobustOption: expected a name such as 'gce+clip', got {spec!r}")
        loss, loss_param = None, None
        mods: dict = {}
        for part in spec.strip().split("+"):
            key, _, val = part.strip().partition("=")
            key = _ALIASES.get(key.strip().lower(), key.strip().lower())
            value = None
            if val:
                try:
                    value = float(val)
                except ValueError:
                    raise ValueError(
                        f"RobustOption {spec!r}: {key}={val!r} is not a number"
                    ) from None
            if key in _LOSSES:
                if loss is not None:
                    raise ValueError(f"RobustOption {spec!r}: two losses ({loss}, {key})")
                if value is not None and key in ("ce", "sce", "mae"):
                    raise ValueError(f"RobustOption {spec!r}: {key} takes no value")
                loss, loss_param = key, value
            elif key in _MODIFIERS:
                if key in mods:
                    raise ValueError(f"RobustOption {spec!r}: {key} given twice")
                mods[key] = OPTION_DEFAULTS[key] if value is None else value
            else:
                raise ValueError(
                    f"RobustOption {spec!r}: unknown part {key!r}; losses: {list(_LOSSES)}, "
                    f"modifiers: {list(_MODIFIERS)} (joined with '+', values as name=value)"
                )
        loss = loss or "ce"
        if loss_param is None and loss in ("label_smoothing", "gce"):
            loss_param = OPTION_DEFAULTS[loss]
        opt = cls(
            name=spec.strip(),
            loss=loss,
            loss_param=loss_param,
            clip=mods.get("clip"),
            weight_decay=float(mods.get("weight_decay", 0.0)),
            dropout=float(mods.get("dropout", 0.0)),
        )
        opt.make_loss()  # validates the loss parameter now, not after an hour of training
        if opt.clip is not None and not opt.clip > 0:
            raise ValueError(f"RobustOption {spec!r}: clip must be > 0, got {opt.clip}")
        if not opt.weight_decay >= 0:
            raise ValueError(f"RobustOption {spec!r}: weight_decay must be >= 0")
        if not 0.0 <= opt.dropout < 1.0:
            raise ValueError(f"RobustOption {spec!r}: dropout must be in [0, 1), got {opt.dropout}")
        return opt

    def make_loss(self) -> Any:
        """A fresh loss Module for this option."""
        from .. import nn

        if self.loss == "ce":
            return nn.CrossEntropyLoss()
        if self.loss == "label_smoothing":
            return nn.CrossEntropyLoss(label_smoothing=self.loss_param)
        if self.loss == "gce":
            return nn.GeneralizedCrossEntropyLoss(q=self.loss_param)
        if self.loss == "mae":
            return nn.GeneralizedCrossEntropyLoss(q=1.0)
        return nn.SymmetricCrossEntropyLoss()


def default_model(n_features: int, n_classes: int, hidden: int = 64, dropout: float = 0.0) -> Any:
    """The network :func:`noise_report` trains by default: ``Linear(n_features, hidden)``,
    ReLU, (Dropout), ``Linear(hidden, n_classes)``.

    Example::

        >>> from retrograd.train.noise import default_model
        >>> default_model(64, 10, dropout=0.3)[2]
        Dropout(p=0.3)
    """
    from .. import nn

    layers = [nn.Linear(n_features, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, n_classes))
    return nn.Sequential(*layers)


def _build_model(model_fn: Callable | None, n_features: int, n_classes: int, dropout: float) -> Any:
    if model_fn is None:
        return default_model(n_features, n_classes, dropout=dropout)
    if dropout:
        try:
            return model_fn(n_features, n_classes, dropout=dropout)
        except TypeError as exc:
            raise TypeError(
                f"noise_report: a dropout option needs model_fn(n_features, n_classes, "
                f"dropout=p); calling model_fn with dropout={dropout} failed: {exc}"
            ) from exc
    return model_fn(n_features, n_classes)


def _train(
    option: RobustOption,
    X: Any,
    y: Any,
    n_classes: int,
    *,
    model_fn: Callable | None,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    callbacks: Sequence[Callback] = (),
) -> Any:
    """Train a fresh model with ``option`` on (X, y); returns the model (in eval mode)."""
    from ..optim import AdamW
    from .loop import fit

    manual_seed(seed)  # same initial weights for every option at a given seed
    model = _build_model(model_fn, X.shape[1], n_classes, option.dropout)
    opt: Any = AdamW(model.parameters(), lr=lr, weight_decay=option.weight_decay)
    if option.clip is not None:
        opt = ClippedOptimizer(opt, option.clip)
    fit(
        model,
        option.make_loss(),
        opt,
        (X, y),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        verbose=0,
        metrics=None,
        callbacks=list(callbacks),
    )
    model.eval()
    return model


def _accuracy(model: Any, X: Any, y: Any) -> float:
    from .loop import predict

    return float((predict(model, X).argmax(axis=1) == y).mean())


def _standardize(X_tr: Any, *others: Any) -> list:
    # Training statistics only; constant features are centred, not scaled.
    mu = X_tr.mean(axis=0)
    sd = X_tr.std(axis=0)
    sd = xp.where(sd > 0, sd, 1.0)
    return [((a - mu) / sd).astype(X_tr.dtype) for a in (X_tr, *others)]


# ----------------------------------------------------------------- suspicious samples
@dataclass
class SuspiciousSamples:
    """What :func:`suspicious_samples` found: ``indices`` of the ``top_k`` most suspicious
    samples (most suspicious first), their ``scores``, ``all_scores`` (one per sample),
    the ``method`` used and, for class labels, ``predicted``: the class each sample's
    scoring model chose (for "trajectory", the model after the last recorded epoch). Unpacks as
    ``indices, scores = suspicious_samples(...)``."""

    indices: Any
    scores: Any
    all_scores: Any
    method: str
    predicted: Any = None

    def __iter__(self) -> Any:
        return iter((self.indices, self.scores))

    def precision(self, truly_bad: Any) -> float:
        """Fraction of ``indices`` marked True in the boolean mask ``truly_bad``."""
        mask = xp.asarray(truly_bad, dtype=bool)
        return float(mask[self.indices].mean()) if len(self.indices) else float("nan")


_METHODS = ("auto", "oof", "trajectory", "loss")


def suspicious_samples(
    model: Any,
    data: tuple,
    top_k: int = 10,
    *,
    method: str = "auto",
    trajectory: LossTrajectory | None = None,
    folds: int = 4,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    option: str | RobustOption = "gce",
) -> SuspiciousSamples:
    """Rank the samples of ``data = (X, y)`` by how badly their labels are fitted, to find
    likely mislabelled samples and outliers: the ``top_k`` worst come first.

    ``model`` is either a trained Module or a factory ``model_fn(n_features, n_classes)``
    that builds a fresh, untrained one (e.g. :func:`default_model`). ``method``:

    - ``"trajectory"`` (the default for a factory, or for a Module given with its
      ``trajectory``; measured best, see ``docs/noisy-data.md``): each sample's
      cross-entropy averaged over the training epochs, recorded by a
      :class:`LossTrajectory`. Mislabelled samples are learned late, if ever, so their
      loss stays high for most of training. Pass the trajectory recorded while training
      ``model``, or give a factory: one model is then trained here (``epochs``,
      ``batch_size``, AdamW ``lr``, training recipe ``option``, default ``"gce"``,
      which fits wrong labels less readily than cross-entropy).
    - ``"oof"``: cross-validated out-of-fold loss. The data is cut into ``folds`` random
      parts and a fresh model trained on the other parts scores each one, so no sample
      is judged by a model that saw its (possibly wrong) label. Costs ``folds``
      trainings; on digits about one point less precise than "trajectory".
    - ``"loss"`` (the default for a trained Module without ``trajectory``): the final
      per-sample loss of ``model`` (a factory's model is trained once on all the data
      first). Weakest: a network that has memorized the wrong labels fits them too.

    Scores are cross-entropies (integer labels) or squared errors (float targets). Returns
    :class:`SuspiciousSamples` (``indices, scores = ...`` unpacks).

    Example::

        >>> import numpy as np, retrograd as rg
        >>> from retrograd.train.noise import default_model
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)).astype("float32"); y = (X[:, 0] > 0).astype(int)
        >>> y_noisy, flipped = rg.train.inject_label_noise(y, 0.05, 2, rng=0)
        >>> found = rg.train.suspicious_samples(default_model, (X, y_noisy), top_k=10,
        ...                                     epochs=20)
        >>> found.precision(flipped) >= 0.7
        True
    """
    from ..nn.module import Module
    from .loop import predict

    fn = "suspicious_samples"
    if method not in _METHODS:
        raise ValueError(f"{fn}: method must be one of {_METHODS}, got {method!r}")
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{fn}: data must be an (X, y) tuple, got {type(data).__name__}")
    X, y = (xp.asarray(a.data if hasattr(a, "data") and not isinstance(a, xp.ndarray) else a)
            for a in data)  # fmt: skip
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"{fn}: X has {n} samples but y has {y.shape[0]}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, xp.integer)) or not 0 < top_k <= n:
        raise ValueError(
            f"{fn}: top_k must be an int in 1..{n} (the number of samples), got {top_k!r}"
        )
    trained = isinstance(model, Module)
    if not trained and not callable(model):
        raise TypeError(
            f"{fn}: model must be a Module or a factory model_fn(n_features, n_classes)"
        )
    if method == "auto":
        method = "loss" if trained and trajectory is None else "trajectory"
    if method == "oof" and trained:
        raise TypeError(
            f"{fn}: method='oof' trains fresh models, so model must be a factory "
            "model_fn(n_features, n_classes), not a trained Module"
        )
    is_class = y.ndim == 1 and y.dtype.kind in "iu"
    n_classes = int(y.max()) + 1 if is_class else (y.shape[1] if y.ndim > 1 else 1)
    opt = RobustOption.parse(option)
    kw = dict(model_fn=_factory(model), epochs=epochs, batch_size=batch_size, lr=lr)
    predicted = None

    if method == "loss":
        net = model if trained else _train(opt, X, y, n_classes, seed=seed, **kw)
        out = predict(net, X)
        scores = per_sample_loss(out, y)
        predicted = out.argmax(axis=1) if is_class else None
    elif method == "trajectory":
        if trajectory is None:
            if trained:
                raise ValueError(
                    f"{fn}: method='trajectory' with a trained model needs the "
                    "LossTrajectory callback that recorded its training (trajectory=...)"
                )
            trajectory = LossTrajectory()
            _train(opt, X, y, n_classes, seed=seed, callbacks=[trajectory], **kw)
        scores = trajectory.mean_loss()
        predicted = trajectory.last_predicted
        if scores.shape[0] != n:
            raise ValueError(f"{fn}: the trajectory has {scores.shape[0]} samples but data has {n}")
    else:  # oof
        if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= n:
            raise ValueError(f"{fn}: folds must be an int in 2..{n}, got {folds!r}")
        perm = xp.random.default_rng(seed).permutation(n)
        scores = xp.empty(n, dtype=xp.float64)
        predicted = xp.zeros(n, dtype=xp.int64) if is_class else None
        for k, held in enumerate(xp.array_split(perm, folds)):
            keep = xp.ones(n, dtype=bool)
            keep[held] = False
            net = _train(opt, X[keep], y[keep], n_classes, seed=seed + k, **kw)
            out = predict(net, X[held])
            scores[held] = per_sample_loss(out, y[held])
            if predicted is not None:
                predicted[held] = out.argmax(axis=1)
    # Stable sort on -score: ties keep the data order (reproducible).
    order = xp.argsort(-scores, kind="stable")[:top_k]
    return SuspiciousSamples(order, scores[order], scores, method, predicted)


def _factory(model: Any) -> Callable | None:
    from ..nn.module import Module

    if isinstance(model, Module):
        return None

    def build(n_features: int, n_classes: int, dropout: float = 0.0) -> Any:
        if dropout:
            return model(n_features, n_classes, dropout=dropout)
        return model(n_features, n_classes)

    return build


def suspicious_precision(
    X: Any,
    y: Any,
    *,
    rate: float = 0.05,
    seeds: Iterable[int] = (0, 1, 2, 3, 4),
    method: str = "trajectory",
    model_fn: Callable | None = None,
    top_k: int | None = None,
    ks: Sequence[int] = (),
    standardize: bool = True,
    **kwargs: Any,
) -> dict:
    """How well :func:`suspicious_samples` finds planted label flips: for each seed, flip
    ``rate`` of the labels of ``(X, y)``, rank, and measure the precision of the top
    ``top_k`` (default: the number flipped, so precision = recall) at finding the flipped
    ones. Chance level is ``rate``. Returns ``{"precision": [...], "mean", "std", "rate",
    "top_k", "n_flipped", "method", "seconds", "precision_at"}`` where ``precision_at``
    maps each extra list length in ``ks`` to its per-seed precisions; ``kwargs`` go to
    :func:`suspicious_samples` (``epochs``, ``folds``, ``option``, ...).

    Example::

        >>> import numpy as np, retrograd as rg
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)).astype("float32"); y = (X[:, 0] > 0).astype(int)
        >>> res = rg.train.noise.suspicious_precision(X, y, rate=0.05, seeds=(0,), epochs=10)
        >>> res["n_flipped"], res["mean"] > 0.5
        (10, True)
    """
    X = xp.asarray(X)
    y = _class_labels(y, "suspicious_precision")
    if standardize:
        (X,) = _standardize(X.astype(xp.float32) if X.dtype.kind != "f" else X)
    n_classes = int(y.max()) + 1
    t0 = time.perf_counter()
    precisions = []
    n_flipped = int(round(rate * len(y)))
    if n_flipped == 0:
        raise ValueError(f"suspicious_precision: rate={rate} flips no label of {len(y)}")
    k = n_flipped if top_k is None else top_k
    ks = [int(v) for v in ks]
    at: dict = {v: [] for v in ks}
    for s in seeds:
        y_noisy, flipped = inject_label_noise(y, rate, n_classes, rng=1000 + s)
        found = suspicious_samples(
            model_fn or default_model, (X, y_noisy), k, method=method, seed=s, **kwargs
        )
        precisions.append(found.precision(flipped))
        order = xp.argsort(-found.all_scores, kind="stable")
        for v in ks:
            at[v].append(float(flipped[order[:v]].mean()))
    arr = xp.asarray(precisions)
    return {
        "precision": [float(p) for p in precisions],
        "mean": float(arr.mean()),
        "std": float(arr.std()),
        "rate": float(rate),
        "top_k": int(k),
        "n_flipped": n_flipped,
        "method": method,
        "option": str(kwargs.get("option", "gce")) if method != "loss" else None,
        "seconds": time.perf_counter() - t0,
        "precision_at": at,
    }


# ------------------------------------------------------------------------ noise report
@dataclass
class NoiseReport:
    """Test accuracy against noise level, from :func:`noise_report`.

    ``rows`` is a list of dicts, one per (option, noise kind, level): ``option``,
    ``noise`` ("label" or "input"), ``level``, ``accuracy_mean``, ``accuracy_std``,
    ``accuracies`` (one per seed). ``to_markdown()`` renders the tables, ``plot(path)``
    draws them, ``to_dict()`` gives JSON-able data.
    """

    rows: list
    options: list
    label_noise: list
    input_noise: list
    seeds: list
    epochs: int
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    suspicious: dict | None = None

    def accuracy(self, option: str, noise: str, level: float) -> float:
        """Mean test accuracy of ``option`` at ``level`` of ``noise`` ("label"/"input")."""
        for r in self.rows:
            if r["option"] == option and r["noise"] == noise and r["level"] == float(level):
                return r["accuracy_mean"]
        raise KeyError(f"NoiseReport: no row for option={option!r}, {noise} noise {level}")

    def _table(self, noise: str) -> str:
        levels = self.label_noise if noise == "label" else self.input_noise
        if not levels:
            return ""
        if noise == "label":
            head = [f"{lv:.0%} flipped" for lv in levels]
        else:
            head = [f"sigma {lv:g}" for lv in levels]
        lines = [
            "| option | " + " | ".join(head) + " |",
            "|---|" + "---:|" * len(levels),
        ]
        multi = len(self.seeds) > 1
        for opt in self.options:
            cells = []
            for lv in levels:
                r = next(
                    r for r in self.rows
                    if r["option"] == opt and r["noise"] == noise and r["level"] == lv
                )  # fmt: skip
                cell = f"{100 * r['accuracy_mean']:.1f}"
                if multi:
                    cell += f" ± {100 * r['accuracy_std']:.1f}"
                cells.append(cell)
            lines.append(f"| {opt} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The label-noise and input-noise tables (test accuracy in %, mean ± std over
        seeds), then the suspicious-sample precision when measured."""
        n_seeds = len(self.seeds)
        seeds_s = f"{n_seeds} seed{'s' if n_seeds > 1 else ''}"
        parts = []
        if self.label_noise:
            parts.append(
                f"Test accuracy (%) under label noise (training labels flipped to another "
                f"class; clean test set), {self.epochs} epochs, {seeds_s}:\n\n"
                + self._table("label")
            )
        if self.input_noise:
            parts.append(
                f"Test accuracy (%) under Gaussian input noise (std = sigma x feature std, "
                f"train and test inputs; clean labels), {self.epochs} epochs, {seeds_s}:\n\n"
                + self._table("input")
            )
        if self.suspicious:
            s = self.suspicious
            parts.append(
                f"Suspicious-sample ranking ({s['method']}, {s.get('option')} models): "
                f"{s['n_flipped']} labels flipped "
                f"({s['rate']:.0%}); precision of the top {s['top_k']} = "
                f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f} % over {len(s['precision'])} "
                f"seed(s) (chance {100 * s['rate']:.0f} %)"
            )
        return "\n\n".join(parts) + "\n"

    def to_dict(self) -> dict:
        return {
            "rows": [dict(r) for r in self.rows],
            "options": list(self.options),
            "label_noise": list(self.label_noise),
            "input_noise": list(self.input_noise),
            "seeds": list(self.seeds),
            "epochs": self.epochs,
            "settings": dict(self.settings),
            "seconds": self.seconds,
            "suspicious": self.suspicious,
        }

    def plot(self, path: str) -> None:
        """Write a PNG with test accuracy against label noise and input noise."""
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("NoiseReport.plot needs matplotlib: pip install matplotlib") from None
        kinds = [k for k, lv in (("label", self.label_noise), ("input", self.input_noise)) if lv]
        fig = Figure(figsize=(5.5 * len(kinds), 4.2))
        axes = fig.subplots(1, len(kinds), squeeze=False)[0]
        for ax, kind in zip(axes, kinds):
            levels = self.label_noise if kind == "label" else self.input_noise
            for opt in self.options:
                rs = [
                    next(r for r in self.rows
                         if r["option"] == opt and r["noise"] == kind and r["level"] == lv)
                    for lv in levels
                ]  # fmt: skip
                ax.errorbar(
                    levels,
                    [100 * r["accuracy_mean"] for r in rs],
                    yerr=[100 * r["accuracy_std"] for r in rs],
                    marker="o",
                    capsize=3,
                    label=opt,
                )
            ax.set_xlabel(
                "fraction of training labels flipped"
                if kind == "label"
                else "input noise std (x feature std)"
            )
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(f"{kind} noise")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{self.settings.get('data', 'data')}: {self.epochs} epochs, "
                     f"{len(self.seeds)} seed(s)")  # fmt: skip
        fig.tight_layout()
        fig.savefig(path, dpi=110)


def _levels(values: Any, name: str, hi: float | None) -> list:
    if values is None:
        return []
    if isinstance(values, (int, float)):
        values = (values,)
    out = [_check_rate(v, name, "noise_report", hi=hi) for v in values]
    if len(set(out)) != len(out):
        raise ValueError(f"noise_report: {name} has repeated levels: {list(values)}")
    return out


def noise_report(
    X: Any,
    y: Any,
    *,
    model_fn: Callable | None = None,
    losses: Sequence[str | RobustOption] = DEFAULT_LOSSES,
    label_noise: Sequence[float] = (0.0, 0.1, 0.2, 0.4),
    input_noise: Sequence[float] = (0.0, 0.5, 1.0),
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 3e-3,
    seeds: Sequence[int] = (0,),
    test_size: float = 0.25,
    standardize: bool = True,
    plot: str | None = None,
    data_name: str = "data",
    progress: Callable[[str], None] | None = None,
) -> NoiseReport:
    """Measure how noisy data hurts training, and how much each robust option helps.

    For each seed, ``(X, y)`` is split (stratified, ``test_size``) and standardized with
    the training split's statistics. Then, for each option in ``losses`` (names parsed by
    :class:`RobustOption`: ``"ce"``, ``"label_smoothing"``, ``"gce"``, ``"sce"``,
    ``"ce+clip"``, ``"ce+weight_decay"``, ``"ce+dropout"``, ``"gce=0.5+clip=2"``...), the
    same network (``model_fn(n_features, n_classes[, dropout=p])``, default
    :func:`default_model`: 64 ReLU hidden units; same initial weights for every option) is
    trained by AdamW (``lr``, ``batch_size``, ``epochs``) on:

    - copies whose *training* labels have a fraction ``label_noise`` flipped to a
      different class (:func:`inject_label_noise`; the test set stays clean, the flipped
      samples are the same for every option), and
    - copies whose training *and* test inputs carry Gaussian noise of std ``input_noise``
      x each feature's std (:func:`inject_input_noise`; clean labels).

    Returns a :class:`NoiseReport` of test accuracies (mean, std and per-seed values);
    ``plot`` is a path for a PNG (needs matplotlib). ``progress`` receives one line per
    training run.

    Example::

        >>> import retrograd as rg
        >>> X, y = rg.data.load_digits()
        >>> rep = rg.train.noise_report(X[:300], y[:300], losses=("ce", "gce"),
        ...                             label_noise=(0, 0.2), input_noise=(), epochs=3)
        >>> [(r["option"], r["level"]) for r in rep.rows]
        [('ce', 0.0), ('ce', 0.2), ('gce', 0.0), ('gce', 0.2)]
    """
    from ..data.split import train_test_split

    fn = "noise_report"
    X = xp.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{fn}: X must be (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind != "f":
        X = X.astype(xp.float32)
    y = _class_labels(y, fn)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{fn}: X has {X.shape[0]} samples but y has {y.shape[0]}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"{fn}: epochs must be a positive int, got {epochs!r}")
    options = [RobustOption.parse(o) for o in losses]
    if not options:
        raise ValueError(f"{fn}: losses is empty; give at least one option, e.g. ('ce',)")
    names = [o.name for o in options]
    if len(set(names)) != len(names):
        raise ValueError(f"{fn}: losses has repeated options: {names}")
    lab_levels = _levels(label_noise, "label_noise", 1.0)
    inp_levels = _levels(input_noise, "input_noise", None)
    if not lab_levels and not inp_levels:
        raise ValueError(f"{fn}: give at least one label_noise or input_noise level")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError(f"{fn}: seeds is empty")
    if plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(f"{fn}: plot= needs matplotlib: pip install matplotlib") from None
    n_classes = int(y.max()) + 1
    say = progress or (lambda line: None)
    t_start = time.perf_counter()
    acc: dict = {}  # (option, kind, level) -> list over seeds
    kw = dict(model_fn=model_fn, epochs=epochs, batch_size=batch_size, lr=lr)

    for seed in seeds:
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, seed=seed, stratify=y)
        if standardize:
            X_tr, X_te = _standardize(X_tr, X_te)
        clean: dict = {}
        for lv in lab_levels:
            # One noisy copy per (seed, level), shared by all options: a fair comparison.
            y_noisy, _ = inject_label_noise(
                y_tr, lv, n_classes, rng=xp.random.default_rng([seed, 1, int(lv * 1e6)])
            )
            for o in options:
                t0 = time.perf_counter()
                net = _train(o, X_tr, y_noisy, n_classes, seed=seed, **kw)
                a = _accuracy(net, X_te, y_te)
                acc.setdefault((o.name, "label", lv), []).append(a)
                if lv == 0:
                    clean[o.name] = a
                say(f"seed {seed} {o.name:<24} label noise {lv:<5g} test acc {a:.4f} "
                    f"({time.perf_counter() - t0:.1f}s)")  # fmt: skip
        feat_std = X_tr.std(axis=0)
        for lv in inp_levels:
            gen = xp.random.default_rng([seed, 2, int(lv * 1e6)])
            Xn_tr = inject_input_noise(X_tr, lv, gen, std=feat_std)
            Xn_te = inject_input_noise(X_te, lv, gen, std=feat_std)
            for o in options:
                if lv == 0 and o.name in clean:  # the same run as 0 % label noise
                    a = clean[o.name]
                else:
                    t0 = time.perf_counter()
                    net = _train(o, Xn_tr, y_tr, n_classes, seed=seed, **kw)
                    a = _accuracy(net, Xn_te, y_te)
                    say(f"seed {seed} {o.name:<24} input noise {lv:<5g} test acc {a:.4f} "
                        f"({time.perf_counter() - t0:.1f}s)")  # fmt: skip
                acc.setdefault((o.name, "input", lv), []).append(a)

    rows = []
    for o in options:
        for kind, levels in (("label", lab_levels), ("input", inp_levels)):
            for lv in levels:
                a = xp.asarray(acc[(o.name, kind, lv)])
                rows.append({
                    "option": o.name, "noise": kind, "level": lv,
                    "accuracy_mean": float(a.mean()), "accuracy_std": float(a.std()),
                    "accuracies": [float(v) for v in a],
                })  # fmt: skip
    report = NoiseReport(
        rows=rows,
        options=names,
        label_noise=lab_levels,
        input_noise=inp_levels,
        seeds=seeds,
        epochs=epochs,
        settings={
            "data": data_name,
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "n_classes": n_classes,
            "test_size": test_size,
            "batch_size": batch_size,
            "lr": lr,
            "optimizer": "AdamW",
            "model": "default_model (64 ReLU hidden)"
            if model_fn is None
            else getattr(model_fn, "__name__", "model_fn"),
            "option_defaults": dict(OPTION_DEFAULTS),
        },  # fmt: skip
        seconds=time.perf_counter() - t_start,
    )
    if plot is not None:
        report.plot(plot)
    return report


# Also what ``retrograd.train`` re-exports (``from .noise import *``).
__all__ = [
    "inject_label_noise", "inject_input_noise", "noise_report", "NoiseReport",
    "suspicious_samples", "SuspiciousSamples", "suspicious_precision", "LossTrajectory",
    "ClippedOptimizer", "RobustOption",
]  # fmt: skip
