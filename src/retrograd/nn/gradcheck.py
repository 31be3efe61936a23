"""Finite-difference check of every parameter gradient of a model, in float64."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .._backend import xp
from ..autograd.mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from ..errors import GradcheckError
from ..random import get_rng_state, set_rng_state
from .module import Module


def _to64(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return type(v)(_to64(u) for u in v)
    arr = v.data if isinstance(v, Tensor) else v
    if isinstance(arr, xp.ndarray) and arr.dtype.kind == "f":
        return Tensor(arr.astype(xp.float64))
    return v


def check_module_grads(
    module: Module,
    loss_fn: Callable[..., Any],
    x: Any,
    y: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int | None = 256,
    seed: int = 0,
) -> bool:
    """Check backprop's gradient of ``loss_fn(module(x), y)`` for every parameter.

    Works on a float64 deep copy of ``module`` (the original, its dtype and its ``.grad``
    are left alone), with ``x`` and floating ``y`` cast to float64. Each checked element
    of each parameter is perturbed by ``+-eps`` and the central difference is compared
    with the analytic gradient: ``|analytic - numeric| <= atol + rtol * |numeric|``.
    Parameters with more than ``max_elements`` elements are checked on that many
    elements drawn at random (``seed``); ``max_elements=None`` checks all of them.
    The global random state is reset before every evaluation, so dropout masks are the
    same in each. Returns True or raises :class:`retrograd.GradcheckError` naming the
    parameter and its worst element. ``x`` may be a tuple of inputs; ``y=None`` calls
    ``loss_fn(output)``.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> net = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.Tanh(), rg.nn.Linear(4, 2))
        >>> x = np.random.default_rng(0).normal(size=(5, 3))
        >>> rg.check_module_grads(net, rg.nn.CrossEntropyLoss(), x, np.array([0, 1, 1, 0, 1]))
        True
    """
    if not isinstance(module, Module):
        raise TypeError(f"check_module_grads: module must be a Module, got {type(module).__name__}")
    if max_elements is not None and max_elements < 1:
        raise ValueError(
            f"check_module_grads: max_elements must be >= 1 or None, got {max_elements}"
        )
    model = copy.deepcopy(module).double()
    model.zero_grad()
    xs = _to64(x)
    ys = _to64(y)
    rng_state = get_rng_state()

    def loss_value() -> Tensor:
        set_rng_state(rng_state)
        out = model(*xs) if isinstance(xs, tuple) else model(xs)
        loss = loss_fn(out) if ys is None else loss_fn(out, ys)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = getattr(loss, "shape", None)
            raise ValueError(
                f"check_module_grads: loss_fn must return a one-element Tensor, "
                f"got {type(loss).__name__} with shape {shape}"
            )
        return loss

    try:
        for name, p, idx, ana, numeric in parameter_gradients(
            model, loss_value, eps, max_elements, seed
        ):
            err = xp.abs(ana - numeric)
            excess = err - (atol + rtol * xp.abs(numeric))
            excess = xp.where(xp.isfinite(excess), excess, xp.inf)
            if (excess > 0).any():
                w = int(xp.argmax(excess))
                where = tuple(int(v) for v in xp.unravel_index(int(idx[w]), p.data.shape))
                raise GradcheckError(
                    f"check_module_grads failed for parameter '{name}' (shape {p.data.shape}): "
                    f"at element {where} the analytic gradient is {ana[w]:.10g} but finite "
                    f"differences give {numeric[w]:.10g} (abs err {err[w]:.3g}, allowed "
                    f"{atol:g} + {rtol:g}*|numeric|)"
                )
    finally:
        set_rng_state(rng_state)
    return True


def parameter_gradients(
    model: Module,
    loss_value: Callable[[], Tensor],
    eps: float = 1e-6,
    max_elements: int | None = 256,
    seed: int = 0,
) -> Any:
    """Yield ``(name, parameter, indices, analytic, numeric)`` for each trainable parameter.

    ``loss_value()`` evaluates the loss of ``model`` (float64 for meaningful differences).
    ``analytic`` is backprop's gradient at the flat ``indices`` (all elements, or
    ``max_elements`` of them drawn with ``seed``); ``numeric`` is the central difference
    ``(L(p + eps) - L(p - eps)) / 2 eps`` at the same elements. Gradients of ``model``
    are overwritten.
    """
    model.zero_grad()
    with enable_grad():
        loss_value().backward()
    pick = xp.random.default_rng(seed)
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        analytic = xp.zeros(p.data.shape) if p.grad is None else p.grad
        flat = p.data.reshape(-1)
        if max_elements is None or flat.size <= max_elements:
            idx = xp.arange(flat.size)
        else:
            idx = xp.sort(pick.choice(flat.size, size=max_elements, replace=False))
        numeric = xp.empty(idx.size)
        with no_grad():
            for k, i in enumerate(idx):
                orig = flat[i]
                flat[i] = orig + eps
                f_plus = float(loss_value().item())
                flat[i] = orig - eps
                f_minus = float(loss_value().item())
                flat[i] = orig
                numeric[k] = (f_plus - f_minus) / (2 * eps)
        yield name, p, idx, analytic.reshape(-1)[idx].astype(xp.float64), numeric


__all__ = ["check_module_grads", "parameter_gradients"]
