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
        _load_attributes(self, state_dict)

    def _lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]


def _load_attributes(obj: Any, state_dict: Any, choices: dict | None = None) -> None:
    """Set ``obj``'s attributes from a saved state, each of the kind it has now (an int
    stays an int, a number a finite number, a list a list of them...), all or nothing:
    a checkpoint is untrusted, and a wrong kind would only fail at a later ``step()`` (or
    a key such as ``step`` would hide the method)."""
    name = type(obj).__name__
    if not isinstance(state_dict, dict):
        raise ValueError(
            f"{name}.load_state_dict: expected a dict, got {type(state_dict).__name__}"
        )
    unknown = sorted(str(k) for k in state_dict if k != "optimizer" and k not in obj.__dict__)
    if unknown:
        raise ValueError(
            f"{name}.load_state_dict: unknown entries {unknown[:5]}; expected some of "
            f"{sorted(k for k in obj.__dict__ if k != 'optimizer')}"
        )
    new = {}
    for k, v in state_dict.items():
        if k == "optimizer":
            continue
        cur = obj.__dict__[k]
        ok = _same_kind(cur, v, finite=k != "best")
        if ok and isinstance(v, str) and choices and k in choices:
            ok = v in choices[k]
        if not ok:
            kind = f"one of {choices[k]}" if choices and k in choices else _kind(cur)
            raise ValueError(f"{name}.load_state_dict: {k!r} must be {kind}, got {str(v)[:40]!r}")
        new[k] = list(v) if isinstance(v, tuple) else v
    obj.__dict__.update(new)


def _same_kind(cur: Any, v: Any, finite: bool = True) -> bool:
    if isinstance(cur, bool) or cur is None:
        return isinstance(v, bool) if isinstance(cur, bool) else True
    if isinstance(cur, int):
        return isinstance(v, int) and not isinstance(v, bool)
    if isinstance(cur, float):
        return (
            isinstance(v, (int, float)) and not isinstance(v, bool)
            and not math.isnan(v) and (math.isfinite(v) or not finite)
        )  # fmt: skip
    if isinstance(cur, (list, tuple)):
        if not isinstance(v, (list, tuple)):
            return False
        if len(v) == len(cur):  # item by item (lists of mixed items: OneCycleLR's phases)
            return all(_same_kind(c, x, finite) for c, x in zip(cur, v))
        # Another length (e.g. milestones): items of the kind of all the present ones.
        return all(all(_same_kind(c, x, finite) for c in cur) for x in v)
    return isinstance(v, type(cur))


def _kind(cur: Any) -> str:
    if isinstance(cur, bool):
        return "true or false"
    if isinstance(cur, int):
        return "an integer"
    if isinstance(cur, float):
        return "a finite number"
    if isinstance(cur, (list, tuple)):
        kinds = {_kind(c).split(" ", 1)[-1] for c in cur}
        return "a list" + (f" of {kinds.pop()}s" if len(kinds) == 1 else "")
    return f"a {type(cur).__name__}"


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
        _load_attributes(self, state_dict, {"mode": ("min", "max"),
                                            "threshold_mode": ("rel", "abs")})  # fmt: skip


class LambdaLR(LRScheduler):
    """The initial learning rate times ``lr_lambda(epoch)`` (one function, or one per
    group).

    Example::

        >>> import retrograd as rg
        >>> opt = rg.optim.SGD([rg.nn.Parameter(rg.zeros(1))], lr=1.0)
        >>> sched = rg.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5**e)
        >>> opt.step(); sched.step(); sched.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Any, last_epoch: int = -1) -> None:
        _check_optimizer("LambdaLR", optimizer)
        n = len(optimizer.param_groups)
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(fns) != n:
            raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per group), got {len(fns)}")
        for f in fns:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be callable, got {type(f).__name__}")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self) -> dict:
        """As the base class, without the functions (as torch, which keeps only callable
        objects' attributes)."""
        state = super().state_dict()
        state.pop("lr_lambdas", None)
        return state


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor`` times the
    initial one over ``total_iters`` epochs (torch's recurrence).

    Example::

        >>> import retrograd as rg
        >>> opt = rg.optim.SGD([rg.nn.Parameter(rg.zeros(1))], lr=1.0)
        >>> sched = rg.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(3):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        check_number(start_factor, "start_factor", "LinearLR", lo=0.0, hi=1.0, lo_open=True)
        check_number(end_factor, "end_factor", "LinearLR", lo=0.0, hi=1.0)
        positive_int(total_iters, "total_iters", "LinearLR")
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._lrs()]
        if self.last_epoch > self.total_iters:
            return self._lrs()
        span = self.end_factor - self.start_factor
        factor = 1.0 + span / (self.total_iters * self.start_factor + (self.last_epoch - 1) * span)
        return [lr * factor for lr in self._lrs()]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2017), stepped once per batch: the learning rate
    rises from ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of the steps, then
    falls to ``initial / final_div_factor`` (cosine or linear); momentum (or Adam's beta1)
    moves the other way between ``max_momentum`` and ``base_momentum``. torch's phases and
    formulas, ``three_phase`` included.

    Example::

        >>> import retrograd as rg
        >>> opt = rg.optim.SGD([rg.nn.Parameter(rg.zeros(1))], lr=0.1, momentum=0.9)
        >>> sched = rg.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
        >>> round(sched.get_last_lr()[0], 4)
        0.04
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: Any,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: Any = 0.85,
        max_momentum: Any = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        name = "OneCycleLR"
        _check_optimizer(name, optimizer)
        if total_steps is not None:
            positive_int(total_steps, "total_steps", name)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            positive_int(epochs, "epochs", name)
            positive_int(steps_per_epoch, "steps_per_epoch", name)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch")
        check_number(pct_start, "pct_start", name, lo=0.0, hi=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self.anneal_strategy = anneal_strategy
        self.pct_start, self.three_phase = float(pct_start), bool(three_phase)
        groups = optimizer.param_groups
        max_lrs = self._per_group(max_lr, "max_lr", len(groups))
        if last_epoch == -1:
            for group, m in zip(groups, max_lrs):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            defaults = optimizer.defaults
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(
                    f"{name}: optimizer {type(optimizer).__name__} has no momentum or betas "
                    "to cycle (pass cycle_momentum=False)"
                )
            self.use_beta1 = "betas" in defaults
            maxs = self._per_group(max_momentum, "max_momentum", len(groups))
            bases = self._per_group(base_momentum, "base_momentum", len(groups))
            if last_epoch == -1:
                for group, m, b in zip(groups, maxs, bases):
                    if self.use_beta1:
                        group["betas"] = (m, *group["betas"][1:])
                    else:
                        group["momentum"] = m
                    group["max_momentum"], group["base_momentum"] = m, b
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _per_group(value: Any, what: str, n: int) -> list:
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(f"OneCycleLR: expected {n} values of {what}, got {len(value)}")
            return [float(v) for v in value]
        return [float(value)] * n

    @staticmethod
    def _cos(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    @staticmethod
    def _linear(start: float, end: float, pct: float) -> float:
        return (end - start) * pct + start

    def _phases(self) -> list:
        """torch's phases: (end step, start lr key, end lr key, start/end momentum keys)."""
        t, pct = self.total_steps, self.pct_start
        if self.three_phase:
            return [
                (float(pct * t) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct * t) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (t - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        return [
            (float(pct * t) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            (t - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
        ]

    def get_lr(self) -> list:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {step} times with total_steps={self.total_steps}"
            )
        anneal = self._cos if self.anneal_strategy == "cos" else self._linear
        phases = self._phases()
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
                if step <= end or i == len(phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = anneal(group[lr0], group[lr1], pct)
                    if self.cycle_momentum:
                        mom = anneal(group[m0], group[m1], pct)
                    break
                start = end
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (mom, *group["betas"][1:])
                else:
                    group["momentum"] = mom
        return lrs

    def load_state_dict(self, state_dict: dict) -> None:
        _load_attributes(self, state_dict, {"anneal_strategy": ("cos", "linear")})


__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "ReduceLROnPlateau",
    "LambdaLR",
    "LinearLR",
    "OneCycleLR",
]
