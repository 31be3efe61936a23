"""Robust training options (label smoothing, GCE, SCE, clipping, weight decay, dropout)
and the small network and training run the reports use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..optim.clipped import ClippedOptimizer
from ..random import manual_seed
from ..train.callbacks import Callback

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

        >>> from retrograd.noisy import RobustOption
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

        >>> from retrograd.noisy import default_model
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
    from ..train.loop import fit

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
