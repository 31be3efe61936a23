"""Function transforms (``torch.func`` / JAX style): they take a function, return one.

- ``grad(f, argnums=0)``: the gradient of a scalar ``f`` for ``args[argnums]``.
- ``value_and_grad(f, argnums=0)``: ``(f(*args), gradient)`` (JAX's name and order).
- ``vjp(f, *primals)``: ``(output, vjp_fn)``.

Arguments may be arrays (gradients come back as arrays) or Tensors (as Tensors). For
gradients of tensors already computed, PyTorch's tensor form is
``rg.autograd.grad(outputs, inputs)``.

Example::

    >>> import numpy as np, retrograd as rg
    >>> rg.func.grad(lambda x: (x ** 2).sum())(np.array([1.0, 3.0]))
    array([2., 6.])
"""

from __future__ import annotations

from .autograd.func import grad, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp"]
