"""Reverse-mode graph walk, first order and (with ``create_graph=True``) any order.

The walk is iterative (no recursion limit, so a 100,000-op chain backpropagates) and
each intermediate gradient is popped as soon as it has been consumed, so memory holds
only the frontier of the walk, not every gradient at once.

First order (the default, every training step): gradients are ndarrays and each node's
VJP is its primitive's ``backward(g)``, NumPy on NumPy. Nothing here records anything.

Higher order (``backward(create_graph=True)``, ``rg.autograd.grad(..., create_graph=True)``):
the same walk with Tensors for gradients, under recording, so the gradients come out
with a graph of their own and can be differentiated again, to any order. Each node's VJP
then comes from its primitive, in this order of preference:

1. ``backward_graph(self, g, out)``: the VJP written with differentiable ops on Tensors.
   ``g`` is the incoming gradient (a Tensor that may itself require grad), ``out`` the
   node's output Tensor (still linked to the graph, so ``g * out`` is the exact VJP of
   ``exp``), ``self.parents`` the input Tensors. Arrays saved by ``forward`` may be used
   only where they are locally constant in the inputs (masks, indices, shapes): a value
   that depends on an input must come from ``self.parents`` or ``out``, or the second
   derivative would silently miss a term. Every elementwise, reduction, shape and matrix
   primitive has one.
2. ``composite(self, *tensors)``: the primitive's forward rebuilt from other primitives.
   The engine runs it on the parents and takes the VJP of that small graph (with
   ``create_graph`` again), stopping at the parents. Fused kernels (linear+activation,
   the losses, normalisation, convolution, pooling, the recurrent layers) do this: their
   fast first-order ``backward`` is untouched, the composite only runs under
   ``create_graph``.
3. ``second_order = False`` with ``second_order_reason``: the primitive is declared
   first-order-only, and ``create_graph`` through it raises
   :class:`~retrograd.errors.SecondOrderError` naming it, never a silently wrong answer.

The test-suite checks every primitive of the package with ``rg.gradgradcheck`` in float64
(or finds it declared first-order-only), so a rule that forgets a term fails a test.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..errors import AnomalyError, SecondOrderError
from .function import Function
from .inplace import check_unmodified, relink
from .mode import MODE, enable_grad
from .recording import Record
from .tensor import RETAINS_GRAD, Tensor

_ndarray = xp.ndarray
_asarray = xp.asarray


def toposort(root: Tensor) -> list:
    """Non-leaf tensors reachable from ``root`` that need grad, in reverse topological order."""
    # Depth-first post-order with one iterator per open node: no (tensor, flag) tuples
    # and each edge is looked at once, which matters on small graphs walked every step.
    if root._ctx is None:
        return []
    order = []
    version = MODE.version
    visited = {id(root)}
    if root._ctx._epoch != version:
        relink(root._ctx)  # inputs rebound by in-place writes since (autograd.inplace)
    stack = [(root, iter(root._ctx.parents))]
    push = stack.append
    pop = stack.pop
    append = order.append
    add = visited.add
    while stack:
        t, parents = stack[-1]
        for p in parents:
            ctx = p._ctx
            if ctx is not None and p.requires_grad and id(p) not in visited:
                add(id(p))
                if ctx._epoch != version:
                    relink(ctx)
                push((p, iter(ctx.parents)))
                break
        else:
            pop()
            append(t)
    order.reverse()
    return order


def _check_finite(arr: Any, ctx: Any, where: str) -> None:
    if arr is not None and arr.dtype.kind == "f" and not xp.isfinite(arr).all():
        kind = "nan" if xp.isnan(arr).any() else "inf"
        origin = getattr(ctx, "_anomaly_trace", None) or "  (creation site not recorded)"
        raise AnomalyError(
            f"{type(ctx).__name__} produced {kind} in {where}. The op was created at:\n{origin}"
        )


def run_backward(root: Tensor, root_grad: Any, inputs: tuple | None = None) -> Any:
    """Propagate ``root_grad`` from ``root`` to the leaves.

    With ``inputs=None`` the gradients are accumulated into each leaf's ``.grad``.
    With a tuple of tensors, their gradients are returned (None where unreachable)
    and no ``.grad`` is touched: the functional API uses this.
    """
    anomaly = MODE.anomaly
    version = MODE.version
    grads = {id(root): root_grad}
    leaf_grads = {}  # id -> [tensor, grad]
    wanted = None if inputs is None else {id(t) for t in inputs}
    pop_grad = grads.pop
    get_grad = grads.get
    get_leaf = leaf_grads.get
    retain = RETAINS_GRAD if RETAINS_GRAD and inputs is None else None
    for t in toposort(root):
        g = pop_grad(id(t), None)
        if g is None:
            continue
        if retain is not None and retain.get(id(t)) is t:
            # Tensor.retain_grad(): a non-leaf's gradient kept in its .grad as well.
            t.grad = _asarray(g, t.data.dtype) if t.grad is None else t.grad + g
        if wanted is not None and id(t) in wanted:
            # A non-leaf input of the functional API: record and keep propagating.
            _accumulate(leaf_grads, t, g)
        ctx = t._ctx
        if ctx._epoch != version:  # something was modified in place since ctx ran
            check_unmodified(t, ctx)
        in_grads = ctx.backward(g)
        if anomaly:
            for gi in in_grads:
                _check_finite(gi, ctx, "backward")
        for p, pg in zip(ctx.parents, in_grads):
            if pg is None or not p.requires_grad:
                continue
            pid = id(p)
            if p._ctx is None:
                entry = get_leaf(pid)  # _accumulate, inlined: this loop runs every step
                if entry is None:
                    leaf_grads[pid] = [p, pg]
                else:
                    entry[1] = entry[1] + pg
            else:
                prev = get_grad(pid)
                # Out of place: an array handed to one consumer may still be read by another.
                grads[pid] = pg if prev is None else prev + pg
    if root._ctx is None:
        _accumulate(leaf_grads, root, root_grad)

    if inputs is not None:
        out = []
        for t in inputs:
            entry = leaf_grads.get(id(t))
            out.append(None if entry is None else entry[1])
        return out

    store_grads(leaf_grads.values(), root_grad)
    return None


def store_grads(pairs: Any, root_grad: Any, handed: set | None = None) -> None:
    """Add each leaf's gradient to its ``.grad`` (set it when None), as backward does.

    ``pairs`` holds ``(tensor, gradient)`` pairs; a None gradient is skipped. ``handed``
    (the ids of arrays already given to a leaf) is shared by calls for one backward. The
    compiled training step calls this too, so both hand gradients over by one rule.
    """
    if handed is None:
        handed = set()
    for t, g in pairs:
        if g is None:
            continue
        if g.__class__ is not _ndarray:
            g = _asarray(g)  # a NumPy scalar (0-d results): .grad is always an ndarray
        td = t.data
        if g.shape != td.shape:
            raise RuntimeError(
                f"internal error: gradient shape {g.shape} != tensor shape {td.shape}"
            )
        if g.dtype != td.dtype:
            g = g.astype(td.dtype)
        if t.grad is None:
            # Hand the array over without a copy only when nothing else can see it:
            # owning its memory, not the user's root gradient, not given to another leaf.
            if g.base is None and g is not root_grad and id(g) not in handed:
                handed.add(id(g))
                t.grad = g
            else:
                t.grad = g.copy()
        else:
            t.grad += g


def _accumulate(store: dict, t: Tensor, g: Any) -> None:
    entry = store.get(id(t))
    if entry is None:
        store[id(t)] = [t, g]
    else:
        entry[1] = entry[1] + g


# ------------------------------------------------------------------ higher order


def _graph_order(roots: list, stop: Any) -> list:
    """Like :func:`toposort` for several roots, not descending past tensors in ``stop``."""
    order = []
    visited = set()
    for root in roots:
        if root._ctx is None or not root.requires_grad or id(root) in visited:
            continue
        visited.add(id(root))
        if id(root) in stop:
            order.append(root)
            continue
        if root._ctx._epoch != MODE.version:
            relink(root._ctx)  # inputs rebound by in-place writes since (autograd.inplace)
        stack = [(root, iter(root._ctx.parents))]
        while stack:
            t, parents = stack[-1]
            for p in parents:
                if p._ctx is not None and p.requires_grad and id(p) not in visited:
                    visited.add(id(p))
                    if id(p) in stop:
                        # Post-order stays valid: nothing below p is walked.
                        order.append(p)
                        continue
                    if p._ctx._epoch != MODE.version:
                        relink(p._ctx)
                    stack.append((p, iter(p._ctx.parents)))
                    break
            else:
                stack.pop()
                order.append(t)
    order.reverse()
    return order


def _graph_vjp(ctx: Any, g: Tensor, out: Tensor) -> tuple:
    """The VJP of one node as differentiable ops (see the module docstring)."""
    cls = type(ctx)
    name = cls.__name__
    if not cls.second_order:
        reason = cls.second_order_reason or "no reason given"
        raise SecondOrderError(
            f"create_graph=True: the primitive {name} is first-order only ({reason}), so its "
            "backward cannot be differentiated again. Compute this part of the model without "
            "create_graph (or outside the function being differentiated twice)."
        )
    rule = getattr(cls, "backward_graph", None)
    if rule is not None:
        grads = rule(ctx, g, out)
    elif getattr(cls, "composite", None) is not None:
        grads = _composite_vjp(ctx, g, out)
    else:
        raise SecondOrderError(
            f"create_graph=True: the primitive {name} defines neither backward_graph nor "
            "composite, and does not declare second_order = False; its backward cannot be "
            "differentiated"
        )
    if len(grads) != len(ctx.parents):
        raise RuntimeError(
            f"internal error: {name}'s second-order rule returned {len(grads)} gradients "
            f"for {len(ctx.parents)} inputs"
        )
    return grads


def _composite_vjp(ctx: Any, g: Tensor, out: Tensor) -> tuple:
    parents = ctx.parents
    res = ctx.composite(*parents)
    if res.data.shape != out.data.shape:
        raise RuntimeError(
            f"internal error: {type(ctx).__name__}.composite gives shape {res.data.shape}, "
            f"the primitive {out.data.shape}"
        )
    # One entry per distinct parent: a tensor passed twice (mul(x, x)) gets its whole
    # partial derivative at its first position, and the caller adds by identity anyway.
    first = {}
    for i, p in enumerate(parents):
        if p.requires_grad and id(p) not in first:
            first[id(p)] = i
    unique = [parents[i] for i in first.values()]
    got = walk([res], [g], unique, create_graph=True, stop_at_inputs=True)
    grads = [None] * len(parents)
    for i, gi in zip(first.values(), got):
        grads[i] = gi
    return tuple(grads)


class CreateGraphWalk(Function):
    """Put in a recording (``autograd.record``) where a ``create_graph`` walk ran.

    The walk's own ops are recorded like any others, but some take arrays computed from
    values (ReLU's mask, max-pool's arg-max) as constants, which a replay on another
    batch would reuse: this mark makes a recorded step that differentiates a gradient
    run eagerly (``train.compile_step`` refuses to replay a ``"never"`` call).
    """

    differentiable = False
    replay = "never"

    def forward(self, *arrays):  # pragma: no cover - never applied, only recorded
        raise RuntimeError("CreateGraphWalk only marks a recording")


def walk(
    roots: list,
    root_grads: list,
    inputs: Any = None,
    create_graph: bool = False,
    stop_at_inputs: bool = False,
) -> Any:
    """The general walk: several roots, first order (arrays) or recorded (Tensors).

    With ``inputs`` a sequence, returns their gradients in order (None where unreached);
    with ``inputs=None``, a list of ``(leaf, gradient)`` for every leaf reached.
    ``stop_at_inputs`` gives partial derivatives: the walk does not go past the inputs.
    """
    if create_graph:
        if MODE.tape is not None:
            MODE.tape.append(Record(CreateGraphWalk(), (), {}, None))
        with enable_grad():
            return _walk(roots, root_grads, inputs, True, stop_at_inputs)
    return _walk(roots, root_grads, inputs, False, stop_at_inputs)


def _walk(roots, root_grads, inputs, create_graph, stop_at_inputs):
    anomaly = MODE.anomaly
    version = MODE.version
    grads: dict = {}
    result: dict = {}  # id -> [tensor, gradient]
    wanted = None if inputs is None else {id(t) for t in inputs}
    for r, g in zip(roots, root_grads):
        if r.requires_grad and r._ctx is not None:
            prev = grads.get(id(r))
            grads[id(r)] = g if prev is None else prev + g
    for t in _graph_order(roots, wanted if stop_at_inputs else ()):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if wanted is not None and id(t) in wanted:
            result[id(t)] = [t, g]  # each node is visited once: no accumulation needed
            if stop_at_inputs:
                continue
        ctx = t._ctx
        if ctx._epoch != version:  # something was modified in place since ctx ran
            check_unmodified(t, ctx)
        in_grads = _graph_vjp(ctx, g, t) if create_graph else ctx.backward(g)
        if anomaly:
            for gi in in_grads:
                _check_finite(gi.data if isinstance(gi, Tensor) else gi, ctx, "backward")
        for p, pg in zip(ctx.parents, in_grads):
            if pg is None or not p.requires_grad:
                continue
            pid = id(p)
            if p._ctx is None:
                if wanted is None or pid in wanted:
                    _accumulate(result, p, pg)
            else:
                prev = grads.get(pid)
                grads[pid] = pg if prev is None else prev + pg
    for r, g in zip(roots, root_grads):
        if r.requires_grad and r._ctx is None and (wanted is None or id(r) in wanted):
            _accumulate(result, r, g)
    if inputs is None:
        return list(result.values())
    out = []
    for t in inputs:
        entry = result.get(id(t))
        out.append(None if entry is None else entry[1])
    return out


def _root_grad(t: Tensor, grad: Any, who: str, create_graph: bool) -> Any:
    """The gradient a walk starts from: ones for one element, else ``grad`` checked."""
    if grad is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for one-element outputs, "
                f"got shape {t.data.shape}; pass a gradient of that shape"
            )
        g = xp.ones_like(t.data)
        return Tensor._wrap(g, False, None) if create_graph else g
    if isinstance(grad, Tensor):
        if grad.data.shape != t.data.shape:
            raise ValueError(
                f"{who}: gradient has shape {grad.data.shape}, expected the output's shape "
                f"{t.data.shape}"
            )
        if create_graph:
            # Kept in the graph: the double-VJP trick (jvp, hvp) differentiates in it.
            return grad if grad.data.dtype == t.data.dtype else grad.astype(t.data.dtype)
        return grad.data.astype(t.data.dtype, copy=True)
    g = xp.asarray(grad)
    if g.shape != t.data.shape:
        raise ValueError(
            f"{who}: gradient has shape {g.shape}, expected the output's shape {t.data.shape}"
        )
    g = g.astype(t.data.dtype, copy=True)
    return Tensor._wrap(g, False, None) if create_graph else g


#: True once some ``.grad`` has been set to a Tensor (by create_graph): optimizers then
#: read such gradients' values (a check they skip, at no cost, while it is False).
GRAPH_GRADS = [False]


def _store_graph_grad(t: Tensor, g: Tensor) -> None:
    """``.grad`` under create_graph: a Tensor carrying its graph, as in PyTorch."""
    GRAPH_GRADS[0] = True
    if g.data.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        t.grad = g
    else:
        prev = t.grad if isinstance(t.grad, Tensor) else Tensor._wrap(t.grad, False, None)
        t.grad = prev + g


def backward(
    t: Tensor,
    grad: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """``Tensor.backward``: accumulate gradients into ``.grad`` (see Tensor.backward)."""
    if not t.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn "
            "(was it created under no_grad, or from inputs without requires_grad=True?)"
        )
    if not create_graph and inputs is None:
        # The training step's path, as it always was: arrays, no recording.
        if grad is None and t.data.size == 1:
            run_backward(t, xp.ones_like(t.data))
        else:
            run_backward(t, _root_grad(t, grad, "backward", False))
        return
    if inputs is not None:
        inputs = _as_tensors(inputs, "backward: inputs")
        if not inputs:
            raise ValueError("backward: inputs must not be empty (pass None for all leaves)")
        for i, x in enumerate(inputs):
            if not x.requires_grad:
                raise RuntimeError(f"backward: inputs[{i}] does not require grad")
    g0 = _root_grad(t, grad, "backward", create_graph)
    got = walk([t], [g0], inputs, create_graph=create_graph)
    pairs = got if inputs is None else [(x, g) for x, g in zip(inputs, got) if g is not None]
    handed: set = set()
    for x, g in pairs:
        if create_graph:
            _store_graph_grad(x, g)
        elif isinstance(x.grad, Tensor):
            x.grad = x.grad + Tensor._wrap(g, False, None)
        else:
            store_grads(((x, g),), g0, handed)


def _as_tensors(xs: Any, what: str) -> list:
    if isinstance(xs, Tensor):
        return [xs]
    try:
        xs = list(xs)
    except TypeError:
        raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got {xs!r}") from None
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{what}[{i}] must be a Tensor, got {type(x).__name__}")
    return xs


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, PyTorch's ``autograd.grad``.

    Returns a tuple with one Tensor per input: the sum over outputs of ``grad_outputs[i]``
    times the Jacobian of ``outputs[i]`` (``grad_outputs`` may be omitted, or hold None,
    for one-element outputs). ``.grad`` attributes are not touched. With
    ``create_graph=True`` the results carry a graph and can be differentiated again.
    An input the outputs do not depend on raises, unless ``allow_unused=True`` (then its
    entry is None) or ``materialize_grads=True`` (zeros). ``retain_graph`` is accepted
    for compatibility: retrograd never frees a graph after a walk, so a graph can always
    be walked again. ``is_grads_batched=True`` treats the first dimension of every
    ``grad_outputs`` entry as a batch of cotangents (computed one after another).

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([1.0, 2.0], requires_grad=True)
        >>> (g,) = rg.autograd.grad((x ** 3).sum(), x, create_graph=True)
        >>> g.tolist()
        [3.0, 12.0]
        >>> rg.autograd.grad(g.sum(), x)[0].tolist()
        [6.0, 12.0]
    """
    outs = _as_tensors(outputs, "grad: outputs")
    ins = _as_tensors(inputs, "grad: inputs")
    if not outs:
        raise ValueError("grad: outputs must not be empty")
    if not ins:
        raise ValueError("grad: inputs must not be empty")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused True or None")
    if grad_outputs is None:
        gos = [None] * len(outs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        gos = [grad_outputs]
    else:
        gos = list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(
            f"grad: got {len(gos)} grad_outputs for {len(outs)} outputs (one per output)"
        )
    for i, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(
                f"grad: element {i} of outputs does not require grad and has no grad_fn"
            )
    for i, x in enumerate(ins):
        if not x.requires_grad:
            raise RuntimeError(f"grad: element {i} of inputs does not require grad")
    if is_grads_batched:
        return _batched_grad(outs, ins, gos, create_graph, allow_unused, materialize_grads)
    roots, root_grads = [], []
    for i, (o, go) in enumerate(zip(outs, gos)):
        roots.append(o)
        root_grads.append(_root_grad(o, go, f"grad: outputs[{i}]", create_graph))
    got = walk(roots, root_grads, ins, create_graph=create_graph)
    return _finish(got, ins, create_graph, allow_unused, materialize_grads)


def _finish(got: list, ins: list, create_graph: bool, allow_unused: bool, zeros: bool) -> tuple:
    res = []
    seen: set = set()
    for i, (x, g) in enumerate(zip(ins, got)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: inputs[{i}] (shape {x.data.shape}) appears not to have been used in "
                    "the graph; pass allow_unused=True to get None for it"
                )
            res.append(Tensor._wrap(xp.zeros_like(x.data), False, None) if zeros else None)
        elif create_graph:
            res.append(g if g.data.dtype == x.data.dtype else g.astype(x.data.dtype))
        else:
            # Own the array: a VJP may hand out a broadcast view or one array twice.
            if g.base is not None or id(g) in seen or not g.flags.writeable:
                g = g.copy()
            seen.add(id(g))
            res.append(Tensor._wrap(g.astype(x.data.dtype, copy=False), False, None))
    return tuple(res)


def _batched_grad(outs, ins, gos, create_graph, allow_unused, zeros):
    from ..ops.shape import stack  # the engine stays free of ops at import time

    n = None
    for i, go in enumerate(gos):
        if go is None:
            raise ValueError(f"grad: is_grads_batched=True needs grad_outputs[{i}]")
        shape = go.shape if isinstance(go, Tensor) else xp.shape(go)
        if n is None:
            n = shape[0]
        if not shape or shape[0] != n:
            raise ValueError(
                "grad: is_grads_batched=True needs one batch size for all grad_outputs"
            )
    rows = []
    for k in range(n):
        gk = [go[k] if isinstance(go, Tensor) else xp.asarray(go)[k] for go in gos]
        roots, root_grads = [], []
        for i, (o, go) in enumerate(zip(outs, gk)):
            roots.append(o)
            root_grads.append(_root_grad(o, go, f"grad: outputs[{i}]", create_graph))
        got = walk(roots, root_grads, ins, create_graph=create_graph)
        rows.append(_finish(got, ins, create_graph, True, False))
    res = []
    for i, x in enumerate(ins):
        col = [r[i] for r in rows]
        if all(g is None for g in col):
            if not allow_unused:
                raise RuntimeError(
                    f"grad: inputs[{i}] appears not to have been used in the graph; pass "
                    "allow_unused=True to get None for it"
                )
            if not zeros:
                res.append(None)
                continue
        zero = Tensor._wrap(xp.zeros_like(x.data), False, None)
        res.append(stack([zero if g is None else g for g in col]))
    return tuple(res)
