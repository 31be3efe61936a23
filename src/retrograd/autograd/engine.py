"""Reverse-mode graph walk.

The walk is iterative (no recursion limit, so a 100,000-op chain backpropagates) and
each intermediate gradient is popped as soon as it has been consumed, so memory holds
only the frontier of the walk, not every gradient at once.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..errors import AnomalyError
from .mode import MODE
from .tensor import Tensor


def toposort(root: Tensor) -> list:
    """Non-leaf tensors reachable from ``root`` that need grad, in reverse topological order."""
    # Depth-first post-order with one iterator per open node: no (tensor, flag) tuples
    # and each edge is looked at once, which matters on small graphs walked every step.
    if root._ctx is None:
        return []
    order = []
    visited = {id(root)}
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
    grads = {id(root): root_grad}
    leaf_grads = {}  # id -> [tensor, grad]
    wanted = None if inputs is None else {id(t) for t in inputs}
    pop_grad = grads.pop
    get_grad = grads.get
    get_leaf = leaf_grads.get
    for t in toposort(root):
        g = pop_grad(id(t), None)
        if g is None:
            continue
        if wanted is not None and id(t) in wanted:
            # A non-leaf input of the functional API: record and keep propagating.
            _accumulate(leaf_grads, t, g)
        ctx = t._ctx
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

    handed = set()
    for t, g in leaf_grads.values():
        store_grad(t, g, handed, root_grad)
    return None


def store_grad(t: Tensor, g: Any, handed: set, root_grad: Any) -> None:
    """Add a leaf's gradient ``g`` to ``t.grad`` (set it when None), as backward does."""
    td = t.data
    if g.shape != td.shape:
        raise RuntimeError(f"internal error: gradient shape {g.shape} != tensor shape {td.shape}")
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


def backward(t: Tensor, grad: Any = None) -> None:
    if not t.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn "
            "(was it created under no_grad, or from inputs without requires_grad=True?)"
        )
    if grad is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for one-element outputs, "
                f"got shape {t.data.shape}; pass grad= of that shape"
            )
        g = xp.ones_like(t.data)
    else:
        g = grad.data if isinstance(grad, Tensor) else xp.asarray(grad)
        if g.shape != t.data.shape:
            raise ValueError(
                f"backward: grad has shape {g.shape}, expected the output's shape {t.data.shape}"
            )
        g = g.astype(t.data.dtype, copy=True)
    run_backward(t, g)
