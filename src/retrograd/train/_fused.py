"""The recorded step of a plain MLP classifier as one compiled call (Numba installed).

:func:`fused_program` recognises a recording of ``Linear(+ReLU) ... Linear`` followed
by ``cross_entropy`` on class labels, and returns a replay that runs the whole forward,
loss and backward in :func:`retrograd.kernels._mlp_numba.mlp_step` (NumPy's own BLAS
for the products, the kernels' loops between them) instead of some twenty Python-level
calls. It is an optimisation of the op-by-op replay with the same results to the bit:
``CompiledStep`` keeps the op-by-op replay next to it, runs it whenever a batch or a
parameter is not what the kernel takes, and uses the kernel only after it reproduced the
recording's output, loss and gradients exactly (:func:`same_as_recording`).
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

from .._backend import xp

_ndarray = xp.ndarray


def _kernel_parts() -> tuple | None:
    """``(mlp_step, NumPy's BLAS, the loss kernel's widest row)`` when they are usable."""
    from .. import kernels

    if kernels.backend() != "numba":
        return None
    from ..kernels import _blas

    lib = _blas.library()
    if lib is None or not lib.ilp64:
        return None
    from ..kernels._mlp_numba import mlp_step
    from ..kernels._numba import XENT_MAX_CLASSES

    return mlp_step, lib, XENT_MAX_CLASSES


def _match(ops: list, leaves: list, known: dict, base: int, out_slot: int, loss_slot: int):
    """``(layers [(weight slot, bias slot, relu)], reduction, input shape or None)``.

    None when the recording is not ``[Reshape of x to 2-D] Linear(+ReLU)* ->
    cross_entropy(labels)`` (a leading reshape is ``nn.Flatten`` of image batches).
    """
    from ..ops.linalg import Linear, LinearAct
    from ..ops.losses import CrossEntropy
    from ..ops.shape import Reshape

    if len(ops) < 2:
        return None
    *layers, (loss_ctx, loss_idx, loss_kw, loss_subs) = ops
    if (
        type(loss_ctx) is not CrossEntropy
        or loss_idx != (base + len(layers) - 1,)
        or loss_subs != (("target", 1),)
        or set(loss_kw) != {"reduction", "checked", "target"}
        or loss_kw["checked"] is not True
        or loss_kw["reduction"] not in ("mean", "sum")
        or out_slot != base + len(layers) - 1
        or loss_slot != base + len(layers)
    ):
        return None
    shape = None
    first = 0  # the slot the first layer reads
    ctx, idx, kw, subs = layers[0]
    if type(ctx) is Reshape:
        shape = kw.get("shape")
        if idx != (0,) or subs or set(kw) != {"shape"} or not isinstance(shape, tuple):
            return None
        if len(shape) != 2 or not all(type(d) is int and d > 0 for d in shape):
            return None
        layers = layers[1:]
        first = base
    if not layers:
        return None
    found = []
    seen: set = set()
    offset = base + len(ops) - 1 - len(layers)  # slot of the op before the first layer
    for i, (ctx, idx, kw, subs) in enumerate(layers):
        if subs or len(idx) != 3 or idx[0] != (first if i == 0 else offset + i - 1):
            return None
        if type(ctx) is LinearAct and kw == {"act": "relu"}:
            relu = True
        elif type(ctx) is Linear and not kw:
            relu = False
        else:
            return None
        w_slot, b_slot = idx[1], idx[2]
        if {w_slot, b_slot} & seen or w_slot == b_slot or not (2 <= w_slot < base):
            return None
        seen.update((w_slot, b_slot))
        found.append((w_slot, b_slot, relu))
    for s in seen:
        t = leaves[s - 2]
        if id(t) not in known or not t.requires_grad:
            return None
    return found, loss_kw["reduction"], shape


def fused_program(
    ops: list,
    leaves: list,
    known: dict,
    base: int,
    out_slot: int,
    loss_slot: int,
    x: Any,
    y: Any,
    generic: Any,
) -> Any:
    """A replay of the recorded step through ``mlp_step``, or None when it does not apply.

    ``x``/``y`` are the recorded batch; ``generic`` the op-by-op replay, which the
    returned function calls for any batch or parameter the kernel does not take.
    """
    parts = _kernel_parts()
    if parts is None:
        return None
    match = _match(ops, leaves, known, base, out_slot, loss_slot)
    if match is None:
        return None
    mlp_step, lib, max_classes = parts
    layers, reduction, shape = match
    dt = x.dtype
    if shape is not None:
        if shape[0] != x.shape[0] or math.prod(shape) != x.size:
            return None
        x = x.reshape(shape)
    if dt not in (xp.dtype(xp.float32), xp.dtype(xp.float64)) or x.ndim != 2 or y.ndim != 1:
        return None
    if y.dtype.kind not in "iu" or x.shape[0] == 0 or y.shape[0] != x.shape[0]:
        return None
    for w_slot, b_slot, _ in layers:
        w, b = leaves[w_slot - 2].data, leaves[b_slot - 2].data
        if w.dtype != dt or b.dtype != dt or w.ndim != 2 or min(w.shape) < 2:
            return None  # (one input or output unit: NumPy takes other BLAS calls)
    if leaves[layers[-1][0] - 2].data.shape[0] > max_classes:
        return None  # (wide rows: the loss takes its NumPy twin)
    addr = ctypes.c_void_p
    ch = "s" if dt == xp.float32 else "d"
    ns: dict = {
        "STEP": mlp_step,
        "GENERIC": generic,
        "DT": dt,
        "RELU": xp.array([r for *_, r in layers]),
        "MEAN": reduction == "mean",
        "GEMM": ctypes.cast(getattr(lib, f"{ch}gemm"), addr).value,
        "GEMV": ctypes.cast(getattr(lib, f"{ch}gemv"), addr).value,
        "_ndarray": _ndarray,
        "COUNT": [0],
    }
    slots = [s for w_slot, b_slot, _ in layers for s in (w_slot, b_slot)]
    for s in slots:
        ns[f"T{s}"] = leaves[s - 2]
    lines = ["def replay(v0, v1):"]
    add = lines.append
    guard = " or ".join(f"T{s}.requires_grad is not True" for s in slots)
    add(f"    if {guard}:")
    add("        return None  # record again")
    for s in slots:
        add(f"    a{s} = T{s}.data")
    x = "v0"
    if shape is not None:
        # nn.Flatten's reshape, as the op makes it (a view, or a copy when it must)
        ns["SHAPE"] = shape
        add("    if v0.__class__ is not _ndarray:")
        add("        return GENERIC(v0, v1)")
        add("    x = v0.reshape(SHAPE)")
        x = "x"
    # What the kernel's compiled signature assumes: anything else goes op by op.
    checks = [
        f"{x}.__class__ is not _ndarray",
        f"{x}.dtype is not DT",
        f"not {x}.flags.c_contiguous",
        "v1.__class__ is not _ndarray",
        "v1.dtype.kind not in 'iu'",
    ]
    checks += [f"a{s}.dtype is not DT or not a{s}.flags.c_contiguous" for s in slots]
    add("    if " + " or ".join(checks) + ":")
    add("        return GENERIC(v0, v1)")
    ws = ", ".join(f"a{w}" for w, _, _ in layers)
    bs = ", ".join(f"a{b}" for _, b, _ in layers)
    # (A batch of a new memory layout, e.g. read-only, compiles another specialization:
    # should that ever fail, the step goes op by op rather than stop training.)
    add("    try:")
    add(f"        st, out, loss, gw, gb = STEP({x}, v1, ({ws},), ({bs},), RELU, MEAN, GEMM, GEMV)")
    add("    except Exception:")
    add("        return GENERIC(v0, v1)")
    add("    if st:")
    add("        return GENERIC(v0, v1)  # a label out of range (it raises), shapes changed")
    add("    COUNT[0] += 1")
    # The gradients are new arrays nobody else holds: handed over as backward does.
    n = len(layers)
    for k, (w_slot, b_slot, _) in enumerate(layers):
        for s, src in ((w_slot, f"gw[{n - 1 - k}]"), (b_slot, f"gb[{n - 1 - k}]")):
            add(f"    g = T{s}.grad")
            add("    if g is None:")
            add(f"        T{s}.grad = {src}")
            add("    else:")
            add(f"        g += {src}")
    add("    return out, loss.reshape(())")
    src = "\n".join(lines) + "\n"
    exec(compile(src, "<retrograd fused step>", "exec"), ns)  # noqa: S102 - our own source
    fn = ns["replay"]
    fn.source = src
    fn.params = [leaves[s - 2] for s in slots]
    fn.count = ns["COUNT"]  # [replays the kernel ran]
    fn.generic = generic
    return fn


def same_as_recording(fn: Any, x: Any, y: Any, out: Any, loss: Any) -> bool:
    """Run ``fn`` on the recorded batch and compare with the recording, bit for bit.

    Called right after the recording's backward, when each parameter's ``.grad`` is the
    recording's gradient (they were None before it): the kernel's gradients are put in
    their place for the comparison, then the recording's are put back.
    """
    params = fn.params
    kept = [p.grad for p in params]
    if any(g is None for g in kept):
        return False
    for p in params:
        p.grad = None
    before = fn.count[0]
    try:
        res = fn(x, y)  # (the kernel's failures fall back inside fn: then count is unchanged)
        ok = (
            fn.count[0] == before + 1  # the kernel ran (not the op-by-op replay)
            and res.__class__ is tuple
            and _same(res[0], out)
            and _same(res[1], loss)
            and all(p.grad is not None and _same(p.grad, g) for p, g in zip(params, kept))
        )
    finally:
        for p, g in zip(params, kept):
            p.grad = g
        fn.count[0] = before  # (a check, not a replay)
    return ok


def _same(a: Any, b: Any) -> bool:
    """Equal shapes, dtypes and bits (NaN payloads and signed zeros included)."""
    a, b = xp.asarray(a), xp.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


__all__ = ["fused_program", "same_as_recording"]
