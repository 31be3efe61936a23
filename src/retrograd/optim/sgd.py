"""Stochastic gradient descent with momentum (Rumelhart, Hinton & Williams 1986, eq. 9)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._backend import xp
from ..kernels import K
from .optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent, optionally with momentum, Nesterov momentum and L2 weight decay.

    Exactly PyTorch's rule: ``g = grad + weight_decay * p``; with momentum
    ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the first step), then
    ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; finally ``p -= lr * g``.
    The 1986 paper's ``Δw(t) = -ε ∂E/∂w + α Δw(t-1)`` is ``SGD(lr=ε, momentum=α)``.

    With classic momentum (no weight decay, dampening or Nesterov), small groups (at most
    65,536 elements in all) are updated on flat arrays: when the optimizer is built, each
    ``p.data`` that nothing else references becomes a view of one array holding the
    group (as PyTorch's ``flatten_parameters`` does for RNN weights), so an array taken
    from ``p.data`` afterwards follows every step. Same arithmetic as per parameter.

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0, -2.0]))
        >>> opt = rg.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data
        array([ 0.8, -1.6], dtype=float32)
    """

    _per_param_buffers = ("momentum_buffer",)
    _flattens = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    _ranges = {
        "lr": {"lo": 0.0},
        "momentum": {"lo": 0.0, "hi": 1.0, "hi_open": True},
        "dampening": {"lo": 0.0, "hi": 1.0},
        "weight_decay": {"lo": 0.0},
    }

    def _validate_group(self, group: dict) -> None:
        super()._validate_group(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening == 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _step(self) -> None:
        for gi, group in enumerate(self.param_groups):
            # Python floats, so float32 parameters stay float32 (NumPy scalars would upcast).
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            wd = float(group["weight_decay"])
            nesterov = bool(group["nesterov"])
            # lr and momentum also as 0-d arrays of the parameter's dtype for the hot
            # lines below: the same rounding as the Python floats (weak scalars), but a
            # NumPy op with a 0-d array skips the scalar conversion, ~2x faster on small
            # arrays. Keyed by dtype, since a group may mix float32 and float64.
            consts: dict = {}
            classic = momentum != 0.0 and wd == 0.0 and dampening == 0.0 and not nesterov
            if classic and self._flat_step(gi, group["params"], lr, momentum):
                continue  # small group: updated on flat arrays
            for p in group["params"]:  # _params_with_grad, inlined (no generator)
                g = p.grad
                if g is None:
                    continue
                owned = False  # True when g is a temporary we may overwrite
                c = consts.get(p.data.dtype)
                if c is None:
                    dt = p.data.dtype
                    c = consts[dt] = (xp.asarray(lr, dtype=dt), xp.asarray(momentum, dtype=dt))
                lr_a, momentum_a = c
                if wd != 0.0:
                    g = xp.multiply(p.data, wd, dtype=p.data.dtype)
                    g += p.grad
                    owned = True
                if momentum != 0.0:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = g.astype(p.data.dtype, copy=True)
                        state["momentum_buffer"] = buf
                    elif classic:
                        # the update below (buf *= m; buf += g; p -= lr * buf) in one pass
                        K.sgd_momentum(p.data, g, buf, lr_a, momentum_a)
                        continue
                    else:
                        buf *= momentum_a
                        if dampening == 0.0:
                            buf += g
                        elif owned:
                            g *= 1.0 - dampening
                            buf += g
                            owned = False  # g was scaled; it is no longer the gradient
                        else:
                            buf += (1.0 - dampening) * g
                    if nesterov:
                        if owned:
                            g += momentum * buf
                        else:
                            g = xp.multiply(buf, momentum, dtype=p.data.dtype)
                            g += p.grad
                            owned = True
                    else:
                        g, owned = buf, False
                d = p._data  # in place; step() records the write (autograd.inplace)
                if owned:
                    g *= lr
                    d -= g
                else:
                    d -= lr_a * g

    def _flat_step(self, gi: int, params: list, lr: float, momentum: float) -> bool:
        """The momentum update of a small group: three NumPy calls on flat arrays."""
        flat = self._flat_group(gi, params, ("momentum_buffer",))
        if flat is None:
            return False
        data, grad, buf = flat["data"], flat["grad"], flat["momentum_buffer"]
        consts = flat.get("sgd")
        if consts is None or consts[0] != lr or consts[1] != momentum:  # new, or scheduled
            dt = data.dtype
            consts = flat["sgd"] = (lr, momentum, xp.asarray(lr, dt), xp.asarray(momentum, dt))
        if buf is None:
            self._attach(flat, params, "momentum_buffer", grad.copy())  # first step: buf = g
            data -= consts[2] * flat["momentum_buffer"]
        else:
            # buf *= momentum; buf += grad; data -= lr * buf, in one pass
            K.sgd_momentum(data, grad, buf, consts[2], consts[3])
        return True
