"""Gradient-norm clipping as an optimizer wrapper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ClippedOptimizer:
    """Wraps an optimizer so each ``step()`` first clips the joint gradient norm of its
    parameters to ``max_norm`` (:func:`retrograd.nn.utils.clip_grad_norm_`); everything
    else (``param_groups``, ``state_dict``, schedulers) goes to the wrapped optimizer.

    Use it where :func:`retrograd.train.fit` takes an optimizer.

    Example::

        >>> import retrograd as rg
        >>> net = rg.nn.Linear(3, 2)
        >>> opt = rg.optim.ClippedOptimizer(rg.optim.SGD(net.parameters(), lr=0.1), 1.0)
        >>> opt.param_groups[0]["lr"]
        0.1
    """

    # Declared here, not delegated to the wrapped optimizer (see Optimizer).
    needs_closure = False
    averages_across_ranks = False

    def __init__(self, optimizer: Any, max_norm: float, norm_type: float = 2.0) -> None:
        if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
            raise TypeError(f"ClippedOptimizer: expected an rg.optim optimizer, got {optimizer!r}")
        if getattr(optimizer, "needs_closure", False):
            raise TypeError(
                f"ClippedOptimizer: {type(optimizer).__name__} re-evaluates its closure; clip "
                "inside it"
            )
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
