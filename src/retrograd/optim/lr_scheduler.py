"""Learning-rate schedules (PyTorch's classes and recurrences, so the sequences match).

Call ``scheduler.step()`` once per epoch after ``optimizer.step()``;
``ReduceLROnPlateau.step(metric)`` takes the monitored value. Every scheduler has a
``state_dict()`` of plain Python values and a ``load_state_dict()``.
"""

from __future__ import annotations

import math
from typing import Any

from .._checks import check_number, positive_int
from .optimizer import Optimizer


def _check_optimizer(name: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{name}: optimizer must be a retrograd Optimizer, got {type(optimizer).__name__}"
        )


class LRScheduler:
    """Base class: sets ``initial_lr`` on each group and applies ``get_lr()`` per step."""

    #: Whether ``step`` takes the monitored metric (``ReduceLROnPlateau``); ``fit`` passes
    #: the validation loss (else the training loss) to such a scheduler.
    steps_on_metric: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(type(self).__name__, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr'; "
                        f"resuming with last_epoch={last_epoch} needs the optimizer's state "
                        "loaded first"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list:
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rate of each group after the last ``step()``."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and write the new learning rates into the optimizer."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = float(lr)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Every attribute except the optimizer, as plain Python values."""
        return {k: _plain(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        for k, v in state_dict.items():
            if k == "optimizer":
                continue
            self.__dict__[k] = list(v) if isinstance(v, tuple) else v

    def _lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]


def _plain(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if hasattr(v, "item") and not isinstance(v, (int, float, str)):
        return v.item()
    return v


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Example::

        >>> import retrograd as rg
        >>> opt = rg.optim.SGD([rg.nn.Parameter(rg.zeros(1))], lr=1.0)
        >>> sched = rg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for _ in range(5):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        positive_int(step_size, "step_size", "StepLR")
        check_number(gamma, "gamma", "StepLR", lo=0.0)
        self.step_size = step_size
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each epoch listed in ``milestones``.

    Example::

        >>> import retrograd as rg
        >>> opt = rg.optim.SGD([rg.nn.Parameter(rg.zeros(1))], lr=1.0)
        >>> sched = rg.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.1)
        >>> for _ in range(3):
        ...     opt.step(); sched.step()
        >>> round(sched.get_last_lr()[0], 6)
        0.01
    """

    def __init__(
        self, optimizer: Optimizer, milestones: Any, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        ms = list(milestones)
        for m in ms:
            if isinstance(m, bool) or not isinstance(m, int) or m < 0:
                raise ValueError(f"MultiStepLR: milestones must be non-negative ints, got {ms!r}")
        check_number(gamma, "gamma", "MultiStepLR", lo=0.0)
        self.milestones = sorted(ms)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        count = self.milestones.count(self.last_epoch)
        if count == 0:
            return self._lrs()
        return [lr * self.gamma**count for lr in self._lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Example::

        >>> import retrograd as rg
        >>> opt = rg.optim.SGD([rg.nn.Parameter(rg.zeros(1))], lr=1.0)
        >>> sched = rg.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> opt.step(); sched.step(); opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_number(gamma, "gamma", "ExponentialLR", lo=0.0)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class CosineAnnealingLR(LRScheduler):
    """Cosine from the initial lr down to ``eta_min`` over ``T_max`` epochs (SGDR, no restart).

    Example::

        >>> import retrograd as rg
        >>> opt = rg.optim.SGD([rg.nn.Parameter(rg.zeros(1))], lr=1.0)
        >>> sched = rg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
        >>> opt.step(); sched.step()
        >>> round(sched.get_last_lr()[0], 6)
        0.5
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,
        eta_min: float = 0.0,  # noqa: N803
        last_epoch: int = -1,
    ) -> None:
        positive_int(T_max, "T_max", "CosineAnnealingLR")
        check_number(eta_min, "eta_min", "CosineAnnealingLR", lo=0.0)
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        eta_min, T = self.eta_min, self.T_max
        e = self.last_epoch
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and e > 0:
            return [
                eta_min + (b - eta_min) * (1 + math.cos(e * math.pi / T)) / 2 for b in self.base_lrs
            ]
        if (e - 1 - T) % (2 * T) == 0:
            return [
                lr + (b - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for b, lr in zip(self.base_lrs, self._lrs())
            ]
        return [
            (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min)
            + eta_min
            for lr in self._lrs()
        ]


class ReduceLROnPlateau:
    """Divide the learning rate by ``1/factor`` when a metric stops improving.

    ``step(metric)`` after each epoch; after more than ``patience`` epochs without an
    improvement (by ``threshold``, relative or absolute) the rate is multiplied by
    ``factor``, never below ``min_lr``; then ``cooldown`` epochs pass before counting again.

    Example::

        >>> import retrograd as rg
        >>> opt = rg.optim.SGD([rg.nn.Parameter(rg.zeros(1))], lr=1.0)
        >>> sched = rg.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
        >>> for loss in [1.0, 1.0, 1.0]:
        ...     sched.step(loss)
        >>> sched.get_last_lr()
        [0.5]
    """

    steps_on_metric = True

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: Any = 0.0,
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer("ReduceLROnPlateau", optimizer)
        check_number(factor, "factor", "ReduceLROnPlateau", lo=0.0, hi=1.0, hi_open=True)
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        for name, v in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be a non-negative int, got {v!r}")
        check_number(threshold, "threshold", "ReduceLROnPlateau", lo=0.0)
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(
                    f"ReduceLROnPlateau: expected {n} min_lr values (one per "
                    f"param group), got {len(min_lr)}"
                )
            self.min_lrs = [float(m) for m in min_lr]
        else:
            self.min_lrs = [float(min_lr)] * n
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, float(factor), patience
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.eps = cooldown, float(eps)
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any) -> None:
        """Record this epoch's metric and reduce the learning rate if it has plateaued."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for i, group in enumerate(self.optimizer.param_groups):
                old = float(group["lr"])
                new = max(old * self.factor, self.min_lrs[i])
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: _plain(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        for k, v in state_dict.items():
            if k != "optimizer":
                self.__dict__[k] = v


__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "ReduceLROnPlateau",
]
