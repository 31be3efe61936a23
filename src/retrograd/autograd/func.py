"""Function transforms in the style of JAX and ``torch.func``: grad, value_and_grad, vjp.

These take a *function* and return a function (``rg.func.grad(f)(x)``). PyTorch's tensor
form, ``rg.autograd.grad(outputs, inputs)``, lives in :mod:`retrograd.autograd.engine`;
``rg.grad`` and ``rg.autograd.grad`` accept both (a callable first argument selects the
transform). ``torch.autograd.functional``'s jacobian, hessian, hvp, ... are in
:mod:`retrograd.autograd.functional`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from .._backend import xp
from .engine import run_backward
from .mode import enable_grad
from .tensor import Tensor, _to_array


def _as_leaf(x: Any) -> Tensor:
    arr = _to_array(x)
    if arr.dtype.kind not in "fc":
        raise TypeError(
            f"grad: differentiated arguments must be floating point, got dtype {arr.dtype}"
        )
    return Tensor(arr, requires_grad=True)


def _like_input(original: Any, g: Any, leaf: Tensor) -> Any:
    if g is None:
        g = xp.zeros_like(leaf.data)
    elif g.dtype != leaf.data.dtype or g.base is not None or not g.flags.writeable:
        # Hand back an array the caller owns, in the input's dtype: a VJP may return a
        # read-only broadcast view, or the very array it passed to another input.
        g = g.astype(leaf.data.dtype, copy=True)
    return Tensor(g) if isinstance(original, Tensor) else g


def _own_all(grads: list) -> list:
    """Copy any gradient array that also appears earlier in ``grads`` (shared memory)."""
    seen = set()
    out = []
    for g in grads:
        if g is not None and id(g) in seen:
            g = g.copy()
        elif g is not None:
            seen.add(id(g))
        out.append(g)
    return out


def _normalize_argnums(argnums: int | Sequence[int]) -> tuple:
    if isinstance(argnums, int):
        return (argnums,), True
    return tuple(argnums), False


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Return a function computing ``(f(*args), df/dargs[argnums])``.

    ``f`` must return a one-element tensor. Gradients come back as ndarrays for array or
    number arguments and as Tensors for Tensor arguments.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> vg = rg.value_and_grad(lambda x: (x ** 2).sum())
        >>> value, g = vg(np.array([1.0, 2.0]))
        >>> g
        array([2., 4.])
    """
    nums, single = _normalize_argnums(argnums)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any):
        args = list(args)
        for n in nums:
            if n >= len(args):
                raise ValueError(f"grad: argnums {n} out of range for {len(args)} arguments")
        leaves = {n: _as_leaf(args[n]) for n in nums}
        originals = {n: args[n] for n in nums}
        for n, leaf in leaves.items():
            args[n] = leaf
        with enable_grad():
            out = f(*args, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"grad: f must return a Tensor, got {type(out).__name__}")
        if out.data.size != 1:
            raise ValueError(
                f"grad: f must return a one-element tensor, got shape {out.data.shape}; "
                "use rg.vjp for non-scalar outputs"
            )
        if out.requires_grad:
            gs = run_backward(out, xp.ones_like(out.data), tuple(leaves.values()))
        else:
            gs = [None] * len(leaves)
        gs = _own_all(list(gs))
        result = [_like_input(originals[n], g, leaves[n]) for n, g in zip(nums, gs)]
        return out.detach(), (result[0] if single else tuple(result))

    return wrapped


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Return a function computing the gradient of scalar ``f`` w.r.t. ``args[argnums]``.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> rg.grad(lambda x: x.tanh().sum())(np.zeros(2))
        array([1., 1.])
    """
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any):
        return vg(*args, **kwargs)[1]

    return wrapped


def vjp(f: Callable, *inputs: Any) -> tuple:
    """Evaluate ``f(*inputs)`` and return ``(output, vjp_fn)``.

    ``vjp_fn(cotangent)`` returns a tuple with one gradient per input:
    the cotangent (same shape as the output) times the Jacobian.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> out, back = rg.vjp(lambda x: x * 3, np.ones(2))
        >>> back(np.array([1.0, 2.0]))
        (array([3., 6.]),)
    """
    leaves = tuple(_as_leaf(x) for x in inputs)
    with enable_grad():
        out = f(*leaves)
    if not isinstance(out, Tensor):
        raise TypeError(f"vjp: f must return a Tensor, got {type(out).__name__}")

    def vjp_fn(cotangent: Any) -> tuple:
        ct = _to_array(cotangent)
        if ct.shape != out.data.shape:
            raise ValueError(
                f"vjp: cotangent has shape {ct.shape}, expected the output shape {out.data.shape}"
            )
        ct = ct.astype(out.data.dtype, copy=True)
        if out.requires_grad:
            gs = run_backward(out, ct, leaves)
        else:
            gs = [None] * len(leaves)
        gs = _own_all(list(gs))
        return tuple(_like_input(x, g, leaf) for x, g, leaf in zip(inputs, gs, leaves))

    return out.detach(), vjp_fn
