"""NAdam (Dozat 2016): Adam with Nesterov momentum and a momentum schedule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._backend import xp
from .optimizer import Optimizer


class NAdam(Optimizer):
    """PyTorch's rule: ``mu_t = beta1 (1 - 0.5 * 0.96**(t * momentum_decay))``,
    ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 v + (1 - beta2) g**2``,
    ``d = sqrt(v / (1 - beta2**t)) + eps``,
    ``p -= lr (1 - mu_t) / (1 - prod mu) * g / d + lr mu_{t+1} / (1 - prod mu * mu_{t+1}) * m / d``.
    ``weight_decay`` adds ``wd * p`` to ``g`` (``decoupled_weight_decay=True``: the
    parameter is multiplied by ``1 - lr * wd`` instead, as AdamW).

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0]))
        >>> opt = rg.optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data.round(4)
        array([0.8944], dtype=float32)
    """

    _per_param_buffers = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    _ranges = {
        "lr": {"lo": 0.0},
        "eps": {"lo": 0.0},
        "weight_decay": {"lo": 0.0},
        "momentum_decay": {"lo": 0.0},
    }

    def _step(self) -> None:
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = group["betas"]
            md = float(group["momentum_decay"])
            decoupled = bool(group["decoupled_weight_decay"])
            for p in self._params_with_grad(group):
                data, grad = p.data, p.grad
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["mu_product"] = 1.0
                    state["exp_avg"] = xp.zeros_like(data)
                    state["exp_avg_sq"] = xp.zeros_like(data)
                state["step"] += 1
                t = state["step"]
                if wd != 0.0:
                    if decoupled:
                        data *= 1 - lr * wd
                    else:
                        grad = grad + wd * data
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * md))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * md))
                state["mu_product"] *= mu
                prod = state["mu_product"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m += (grad - m) * (1 - beta1)
                v *= beta2
                v += (1 - beta2) * (grad * grad)
                denom = xp.sqrt(v / (1 - beta2**t))
                denom += eps
                data -= (lr * (1.0 - mu) / (1.0 - prod)) * (grad / denom)
                data -= (lr * mu_next / (1.0 - prod * mu_next)) * (m / denom)
