"""The reverse-mode engine: Tensor, Function, the graph walk, recording, gradient checking.

``grad`` here is PyTorch's tensor form, ``grad(outputs, inputs, grad_outputs=None,
retain_graph=None, create_graph=False, allow_unused=None)``, returning a tuple of
Tensors; called with a function first (``grad(f, argnums=0)``) it is the function
transform of :mod:`retrograd.func` instead. ``functional`` holds PyTorch's
``autograd.functional`` (jacobian, hessian, vjp, jvp, vhp, hvp).
"""

from __future__ import annotations

from typing import Any

from . import functional
from .engine import grad as _tensor_grad
from .func import grad as _func_grad
from .func import value_and_grad, vjp
from .function import PRIMITIVES, Function, unbroadcast
from .gradcheck import gradcheck, gradgradcheck
from .mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .recording import REPLAY_KINDS, Record, is_recording, record
from .tensor import Tensor, get_default_dtype, set_default_dtype

_MISSING: Any = object()


def grad(outputs: Any, inputs: Any = _MISSING, *args: Any, **kwargs: Any) -> Any:
    """Gradients: PyTorch's tensor form, or the function transform given a function.

    - ``grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
      allow_unused=None, is_grads_batched=False, materialize_grads=False)``: a tuple with
      the gradient of ``outputs`` for each of ``inputs`` (``torch.autograd.grad``; see
      :func:`retrograd.autograd.engine.grad`).
    - ``grad(f, argnums=0)``: a function returning the gradient of the scalar ``f`` for
      the arguments ``argnums`` (``torch.func.grad``, ``jax.grad``; also
      ``rg.func.grad``).

    Example::

        >>> import numpy as np, retrograd as rg
        >>> x = rg.tensor([1.0, 2.0], requires_grad=True)
        >>> rg.autograd.grad((x * x).sum(), x)[0].tolist()
        [2.0, 4.0]
        >>> rg.grad(lambda t: (t * t).sum())(np.array([1.0, 2.0]))
        array([2., 4.])
    """
    if callable(outputs) and not isinstance(outputs, Tensor):
        if args:
            raise TypeError("grad(f, argnums): takes a function and argnums only")
        if inputs is not _MISSING:
            if "argnums" in kwargs:
                raise TypeError("grad(f, argnums): argnums given twice")
            kwargs["argnums"] = inputs
        return _func_grad(outputs, **kwargs)
    if inputs is _MISSING:
        if "inputs" not in kwargs:
            raise TypeError("grad(outputs, inputs, ...): missing inputs")
        inputs = kwargs.pop("inputs")
    return _tensor_grad(outputs, inputs, *args, **kwargs)


__all__ = [
    "PRIMITIVES", "Function", "unbroadcast", "grad", "value_and_grad", "vjp", "gradcheck",
    "gradgradcheck", "detect_anomaly", "enable_grad", "is_grad_enabled", "no_grad", "Tensor",
    "get_default_dtype", "set_default_dtype", "functional", "REPLAY_KINDS", "Record",
    "is_recording", "record",
]  # fmt: skip
