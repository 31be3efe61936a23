"""RMSprop (Tieleman & Hinton 2012), with optional momentum and centering."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._backend import xp
from ..kernels import K
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of recent gradients.

    PyTorch's rule: ``v = alpha * v + (1 - alpha) * g**2``; centered subtracts the squared
    running mean of ``g``; ``avg = sqrt(v) + eps``; with momentum
    ``buf = momentum * buf + g / avg``, ``p -= lr * buf``; otherwise ``p -= lr * g / avg``.

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0]))
        >>> opt = rg.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data.round(4)
        array([0.9], dtype=float32)
    """

    _per_param_buffers = ("square_avg", "momentum_buffer", "grad_avg")
    _flattens = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    _ranges = {
        "lr": {"lo": 0.0},
        "alpha": {"lo": 0.0, "hi": 1.0},
        "eps": {"lo": 0.0},
        "weight_decay": {"lo": 0.0},
        "momentum": {"lo": 0.0, "hi": 1.0, "hi_open": True},
    }

    def _step(self) -> None:
        for gi, group in enumerate(self.param_groups):
            lr = float(group["lr"])
            alpha = float(group["alpha"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            momentum = float(group["momentum"])
            centered = bool(group["centered"])
            hyper = (lr, alpha, eps, wd, momentum)
            names = ("square_avg",) + ("momentum_buffer",) * (momentum > 0)
            names += ("grad_avg",) * centered
            if self._flat_step(gi, group["params"], hyper, names):
                continue
            for p in self._params_with_grad(group):
                data = p.data
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["square_avg"] = xp.zeros_like(data)
                    if momentum > 0:
                        state["momentum_buffer"] = xp.zeros_like(data)
                    if centered:
                        state["grad_avg"] = xp.zeros_like(data)
                state["step"] += 1
                buf = ga = None
                if momentum > 0:
                    buf = state.setdefault("momentum_buffer", xp.zeros_like(data))
                if centered:
                    ga = state.setdefault("grad_avg", xp.zeros_like(data))
                # one pass with the compiled kernels, else the NumPy twin (same bits)
                K.rmsprop(data, p.grad, state["square_avg"], ga, buf, lr, alpha, eps, wd, momentum)

    def _flat_step(self, gi: int, params: list, hyper: tuple, names: tuple) -> bool:
        """The whole group's update on flat arrays when it qualifies (see ``_flat_group``)."""
        got = self._flat_group_stepped(gi, params, names)
        if got is None:
            return False
        flat = got[0]
        lr, alpha, eps, wd, momentum = hyper
        K.rmsprop(
            flat["data"], flat["grad"], flat["square_avg"], flat.get("grad_avg"),
            flat.get("momentum_buffer"), lr, alpha, eps, wd, momentum,
        )  # fmt: skip
        return True
