"""Adam (Kingma & Ba 2015), its AMSGrad variant, and AdamW (decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._backend import xp
from ..kernels import K
from .optimizer import Optimizer, check_betas  # noqa: F401 - re-exported


class Adam(Optimizer):
    """Adam with bias-corrected first and second moment estimates (PyTorch's formulas).

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2, coupled); use
    :class:`AdamW` for decoupled decay. ``amsgrad=True`` divides by the running maximum
    of the second moment (Reddi et al. 2018).

    Small groups (at most 65,536 elements in all) are updated on flat arrays: when the
    optimizer is built, each ``p.data`` that nothing else references becomes a view of
    one array holding the group (as PyTorch's ``flatten_parameters`` does for RNN
    weights), so an array taken from ``p.data`` afterwards follows every step. Same
    arithmetic as per parameter.

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0, -2.0]))
        >>> opt = rg.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data.round(4)
        array([ 0.9, -1.9], dtype=float32)
    """

    _per_param_buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _decoupled = False
    _flattens = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    _ranges = {"lr": {"lo": 0.0}, "eps": {"lo": 0.0}, "weight_decay": {"lo": 0.0}}

    def _step(self) -> None:
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        for gi, group in enumerate(self.param_groups):
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            hyper = (lr, beta1, beta2, float(group["eps"]), float(group["weight_decay"]))
            amsgrad = bool(group["amsgrad"])
            params = group["params"]
            if self._flat_step(gi, params, hyper, names if amsgrad else names[:2]):
                continue
            for p in self._params_with_grad(group):
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(p.data)
                    state["exp_avg_sq"] = xp.zeros_like(p.data)
                    if amsgrad:
                        state["max_exp_avg_sq"] = xp.zeros_like(p.data)
                state["step"] += 1
                vmax = None
                if amsgrad:
                    vmax = state.setdefault("max_exp_avg_sq", xp.zeros_like(p.data))
                self._update(
                    p.data, p.grad, state["exp_avg"], state["exp_avg_sq"], vmax,
                    state["step"], hyper,
                )  # fmt: skip

    def _flat_step(self, gi: int, params: list, hyper: tuple, names: tuple) -> bool:
        """The whole group's update on flat arrays when it qualifies (see ``_flat_group``).

        Every parameter must be at the same step (the bias corrections are per step).
        """
        got = self._flat_group_stepped(gi, params, names)
        if got is None:
            return False
        flat, step = got
        vmax = flat["max_exp_avg_sq"] if len(names) > 2 else None
        self._update(
            flat["data"], flat["grad"], flat["exp_avg"], flat["exp_avg_sq"], vmax, step, hyper
        )
        return True

    def _update(self, data, grad, m, v, vmax, step: int, hyper: tuple) -> None:
        """One Adam update of ``data`` in place (a parameter, or a flat group).

        One pass over the arrays with the compiled kernels, else the NumPy twin's eight
        to ten calls (``retrograd.kernels``: the same arithmetic, bitwise).
        """
        lr, beta1, beta2, eps, wd = hyper
        K.adam(data, grad, m, v, vmax, step, lr, beta1, beta2, eps, wd, self._decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): ``p *= 1 - lr * wd``.

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0]))
        >>> opt = rg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * 0.0).sum().backward(); opt.step()
        >>> w.data
        array([0.95], dtype=float32)
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )
