"""Higher-order functional API with PyTorch's signatures: ``torch.autograd.functional``.

``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``vhp`` and ``hvp`` take a function of
Tensors and the point (a Tensor or a tuple of Tensors) and return Tensors shaped as
PyTorch returns them: a single Tensor where ``inputs`` (and the outputs) are single
Tensors, tuples where they were tuples. All are built on reverse mode and
``create_graph`` (see :mod:`retrograd.autograd.engine`):

- ``jvp`` (a Jacobian-vector product, forward mode's job) uses the double-VJP trick:
  ``u -> u^T J`` is linear in ``u``, so the VJP of that map at ``v`` is ``J v``.
- ``hvp`` returns ``H v`` computed as ``v^T H`` (``vhp``): the Hessian of a twice
  differentiable function is symmetric, and this saves PyTorch's third backward pass.
- ``jacobian`` takes one VJP per output element; ``vectorize=True`` and
  ``strategy="forward-mode"`` are accepted and give the same values the same way.

With ``create_graph=False`` (default) the results are detached; with ``True`` they
carry a graph back to ``inputs`` (when those require grad), for one more derivative.
``strict=True`` raises when an output does not depend on an input instead of returning
zeros, as in PyTorch.

Example::

    >>> import retrograd as rg
    >>> from retrograd.autograd.functional import hessian
    >>> x = rg.tensor([1.0, 2.0], dtype="float64")
    >>> hessian(lambda t: (t ** 3).sum(), x).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._backend import xp
from .engine import grad as _grad
from .mode import enable_grad
from .tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x: Any, what: str, fn: str) -> tuple:
    if isinstance(x, Tensor):
        return False, (x,)
    if not isinstance(x, tuple):
        raise TypeError(
            f"{fn}: the {what} must be either a Tensor or a tuple of Tensors, got "
            f"{type(x).__name__}"
        )
    for i, el in enumerate(x):
        if not isinstance(el, Tensor):
            raise TypeError(
                f"{fn}: the {what} must be either a Tensor or a tuple of Tensors, but the "
                f"value at index {i} has type {type(el).__name__}"
            )
    return True, x


def _tuple_post(res: tuple, to_unpack: Any) -> Any:
    if isinstance(to_unpack, tuple):
        outs, ins = to_unpack
        if not ins:
            res = tuple(r[0] for r in res)
        if not outs:
            res = res[0]
        return res
    return res if to_unpack else res[0]


def _preprocess(xs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Fresh leaves (or, under create_graph, aliases still linked to the caller's graph)."""
    from ..ops.shape import Reshape

    res = []
    for x in xs:
        if create_graph and x.requires_grad:
            # An identity node: derivatives taken at it still flow back to x.
            res.append(Reshape.apply(x, shape=x.shape))
        else:
            leaf = Tensor._wrap(x.data, False, None)
            leaf.requires_grad = need_graph and x.data.dtype.kind in "fc"
            res.append(leaf)
    return tuple(res)


def _postprocess(res: Any, create_graph: bool) -> Any:
    if isinstance(res, tuple):
        return tuple(_postprocess(r, create_graph) for r in res)
    if res is None or create_graph:
        return res
    return Tensor._wrap(res.data, False, None)


def _check_requires_grad(xs: tuple, what: str, strict: bool, fn: str) -> None:
    if not strict:
        return
    for i, x in enumerate(xs):
        if x is None:
            raise RuntimeError(
                f"{fn}: the {what} of the function is independent of input {i}. This is not "
                "allowed in strict mode."
            )
        if not x.requires_grad:
            raise RuntimeError(
                f"{fn}: {what} {i} of the function does not require gradients. This is not "
                "allowed in strict mode (the function is independent of its inputs)."
            )


def _validate_v(v: tuple, other: tuple, fn: str, what: str) -> None:
    if len(v) != len(other):
        raise RuntimeError(
            f"{fn}: v is a tuple of {len(v)} Tensors but should have {len(other)} (one per {what})"
        )
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            raise RuntimeError(
                f"{fn}: mismatch in shape: v[{i}] has shape {a.shape} but should have shape "
                f"{b.shape} (that of the {what})"
            )


def _autograd_grad(outputs: tuple, inputs: tuple, grad_outputs: Any, create_graph: bool) -> tuple:
    """``autograd.grad`` over the outputs that require grad; None for unreached inputs."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, go) for o, go in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs = [o for o, _ in pairs]
    gos = [go for _, go in pairs]
    return _grad(outs, list(inputs), gos, create_graph=create_graph, allow_unused=True)


def _fill_zeros(grads: tuple, refs: tuple, strict: bool, create_graph: bool, fn: str) -> tuple:
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{fn}: the output of the function is independent of input {i}. This is "
                    "not allowed in strict mode."
                )
            g = Tensor._wrap(xp.zeros_like(ref.data), False, None)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(
                f"{fn}: the result for input {i} is independent of the inputs. This is not "
                "allowed in strict mode when create_graph=True."
            )
        res.append(g)
    return tuple(res)


def _default_v(xs: tuple, fn: str, what: str) -> tuple:
    if len(xs) != 1 or xs[0].data.size != 1:
        raise RuntimeError(
            f"{fn}: v can only be None if the {what} is a single Tensor with a single element"
        )
    return (Tensor._wrap(xp.ones_like(xs[0].data), False, None),)


def _single_output(fn: str, out: Any) -> Tensor:
    if not isinstance(out, Tensor):
        raise RuntimeError(f"{fn}: the function should return a single Tensor")
    if out.data.size != 1:
        raise RuntimeError(
            f"{fn}: the Tensor returned by the function should contain a single element, got "
            f"shape {out.shape}"
        )
    return out


def vjp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple:
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.autograd.functional import vjp
        >>> out, g = vjp(lambda t: t * t, rg.tensor([1.0, 2.0]), rg.tensor([1.0, 1.0]))
        >>> g.tolist()
        [2.0, 4.0]
    """
    with enable_grad():
        in_tuple, xs = _as_tuple(inputs, "inputs", "vjp")
        xs = _preprocess(xs, create_graph, True)
        out_tuple, outs = _as_tuple(func(*xs), "outputs of the function", "vjp")
        _check_requires_grad(outs, "output", strict, "vjp")
        if v is not None:
            _, vs = _as_tuple(v, "v", "vjp")
            vs = _preprocess(vs, create_graph, False)
            _validate_v(vs, outs, "vjp", "output")
        else:
            vs = _default_v(outs, "vjp", "function's output")
        res = _autograd_grad(outs, xs, vs, create_graph)
        res = _fill_zeros(res, xs, strict, create_graph, "vjp")
    return (
        _tuple_post(_postprocess(outs, create_graph), out_tuple),
        _tuple_post(_postprocess(res, create_graph), in_tuple),
    )


def jvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple:
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-VJP trick.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.autograd.functional import jvp
        >>> out, t = jvp(lambda x: x ** 2, rg.tensor([1.0, 3.0]), rg.tensor([1.0, 0.5]))
        >>> t.tolist()
        [2.0, 3.0]
    """
    with enable_grad():
        in_tuple, xs = _as_tuple(inputs, "inputs", "jvp")
        xs = _preprocess(xs, create_graph, True)
        if v is not None:
            _, vs = _as_tuple(v, "v", "jvp")
            vs = _preprocess(vs, create_graph, False)
            _validate_v(vs, xs, "jvp", "input")
        else:
            vs = _default_v(xs, "jvp", "input to the function")
        out_tuple, outs = _as_tuple(func(*xs), "outputs of the function", "jvp")
        _check_requires_grad(outs, "output", strict, "jvp")
        # u^T J is linear in u: its VJP at v (taken at any u, here zeros) is J v.
        us = tuple(
            Tensor(xp.zeros_like(o.data), requires_grad=o.data.dtype.kind in "fc") for o in outs
        )
        gin = _autograd_grad(outs, xs, us, True)
        _check_requires_grad(gin, "grad_inputs", strict, "jvp")
        res = _autograd_grad(gin, us, vs, create_graph)
        res = _fill_zeros(res, outs, strict, create_graph, "jvp")
    return (
        _tuple_post(_postprocess(outs, create_graph), out_tuple),
        _tuple_post(_postprocess(res, create_graph), out_tuple),
    )


def jacobian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape``.

    With tuples, ``result[i][j]`` is the block of output ``i`` by input ``j`` (PyTorch's
    nesting). ``vectorize`` and ``strategy`` are accepted for compatibility; every row
    is one reverse-mode VJP either way.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.autograd.functional import jacobian
        >>> jacobian(lambda x: x * rg.tensor([2.0, 3.0]), rg.tensor([1.0, 1.0])).tolist()
        [[2.0, 0.0], [0.0, 3.0]]
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(
            f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}"
        )
    from ..ops.shape import stack

    with enable_grad():
        in_tuple, xs = _as_tuple(inputs, "inputs", "jacobian")
        xs = _preprocess(xs, create_graph, True)
        out_tuple, outs = _as_tuple(func(*xs), "outputs of the function", "jacobian")
        _check_requires_grad(outs, "output", strict, "jacobian")
        blocks = []
        for i, out in enumerate(outs):
            rows: list = [[] for _ in xs]
            for j in range(out.data.size):
                e = xp.zeros(out.data.size, dtype=out.data.dtype)
                e[j] = 1
                ej = Tensor._wrap(e.reshape(out.data.shape), False, None)
                vj = _autograd_grad((out,), xs, (ej,), create_graph)
                for k, (g, x) in enumerate(zip(vj, xs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(
                                f"jacobian: output {i} of the function is independent of input "
                                f"{k}. This is not allowed in strict mode."
                            )
                        g = Tensor._wrap(xp.zeros_like(x.data), False, None)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(
                            f"jacobian: the jacobian of the function is independent of input "
                            f"{k}. This is not allowed in strict mode when create_graph=True."
                        )
                    rows[k].append(g)
            block = []
            for k, x in enumerate(xs):
                shape = out.data.shape + x.data.shape
                if rows[k]:
                    block.append(stack(rows[k]).reshape(shape))
                else:  # an empty output: an empty Jacobian
                    block.append(Tensor._wrap(xp.zeros(shape, dtype=x.data.dtype), False, None))
            blocks.append(tuple(block))
    res = _postprocess(tuple(blocks), create_graph)
    return _tuple_post(res, (out_tuple, in_tuple))


def hessian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """The Hessian of the scalar ``func`` at ``inputs``: shape ``input.shape * 2``.

    With a tuple of inputs, ``result[i][j]`` is the block of inputs ``i`` and ``j``.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.autograd.functional import hessian
        >>> x = rg.tensor([1.0, 2.0], dtype="float64")
        >>> hessian(lambda t: (t[0] * t[1]) ** 2, x).tolist()
        [[8.0, 8.0], [8.0, 2.0]]
    """
    in_tuple, xs = _as_tuple(inputs, "inputs", "hessian")

    def scalar(*inp):
        out = func(*inp)
        _check_requires_grad(_as_tuple(out, "outputs", "hessian")[1], "output", strict, "hessian")
        return _single_output("hessian", out).reshape(())

    def jac(*inp):
        j = jacobian(scalar, inp, create_graph=True)
        _check_requires_grad(j, "jacobian", strict, "hessian")
        return j

    res = jacobian(
        jac,
        xs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return _tuple_post(res, (in_tuple, in_tuple))


def vhp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple:
    """``(func(inputs), v^T H)`` for a scalar ``func``: a vector-Hessian product.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.autograd.functional import vhp
        >>> x = rg.tensor([1.0, 2.0], dtype="float64")
        >>> vhp(lambda t: (t ** 3).sum(), x, rg.tensor([1.0, 1.0], dtype="float64"))[1].tolist()
        [6.0, 12.0]
    """
    return _vhp("vhp", func, inputs, v, create_graph, strict)


def hvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple:
    """``(func(inputs), H v)`` for a scalar ``func``: a Hessian-vector product.

    Computed as ``v^T H`` (the Hessian is symmetric), the same numbers PyTorch's
    double-backward trick gives, one backward pass sooner.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.autograd.functional import hvp
        >>> x = rg.tensor([1.0, 2.0], dtype="float64")
        >>> hvp(lambda t: (t ** 3).sum(), x, rg.tensor([1.0, 0.0], dtype="float64"))[1].tolist()
        [6.0, 0.0]
    """
    return _vhp("hvp", func, inputs, v, create_graph, strict)


def _vhp(fn, func, inputs, v, create_graph, strict):
    with enable_grad():
        in_tuple, xs = _as_tuple(inputs, "inputs", fn)
        xs = _preprocess(xs, create_graph, True)
        if v is not None:
            _, vs = _as_tuple(v, "v", fn)
            vs = _preprocess(vs, create_graph, False)
            _validate_v(vs, xs, fn, "input")
        else:
            vs = _default_v(xs, fn, "input to the function")
        out = func(*xs)
        out_tuple, outs = _as_tuple(out, "outputs of the function", fn)
        if out_tuple:
            raise RuntimeError(f"{fn}: the function should return a single Tensor")
        _single_output(fn, out)
        _check_requires_grad(outs, "output", strict, fn)
        jac = _autograd_grad(outs, xs, None, True)
        _check_requires_grad(jac, "jacobian", strict, fn)
        res = _autograd_grad(jac, xs, vs, create_graph)
        res = _fill_zeros(res, xs, strict, create_graph, fn)
    return (
        _postprocess(out, create_graph),
        _tuple_post(_postprocess(res, create_graph), in_tuple),
    )
