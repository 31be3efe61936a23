"""RMSprop (Tieleman & Hinton 2012), with optional momentum and centering."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._backend import xp
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
        for group in self.param_groups:
            lr = float(group["lr"])
            alpha = float(group["alpha"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            momentum = float(group["momentum"])
            centered = bool(group["centered"])
            for p in self._params_with_grad(group):
                data = p.data
                grad = p.grad
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["square_avg"] = xp.zeros_like(data)
                    if momentum > 0:
                        state["momentum_buffer"] = xp.zeros_like(data)
                    if centered:
                        state["grad_avg"] = xp.zeros_like(data)
                state["step"] += 1
                if wd != 0.0:
                    grad = xp.multiply(data, wd, dtype=data.dtype)
                    grad += p.grad
                v = state["square_avg"]
                v *= alpha
                tmp = xp.multiply(grad, grad, dtype=data.dtype)
                tmp *= 1.0 - alpha
                v += tmp
                if centered:
                    ga = state.setdefault("grad_avg", xp.zeros_like(data))
                    xp.subtract(grad, ga, out=tmp)
                    tmp *= 1.0 - alpha
                    ga += tmp  # lerp(ga, grad, 1 - alpha)
                    xp.multiply(ga, ga, out=tmp)
                    xp.subtract(v, tmp, out=tmp)
                    xp.sqrt(tmp, out=tmp)
                else:
                    xp.sqrt(v, out=tmp)
                tmp += eps
                xp.divide(grad, tmp, out=tmp)
                if momentum > 0:
                    buf = state.setdefault("momentum_buffer", xp.zeros_like(data))
                    buf *= momentum
                    buf += tmp
                    xp.multiply(buf, lr, out=tmp)
                else:
                    tmp *= lr
                data -= tmp
