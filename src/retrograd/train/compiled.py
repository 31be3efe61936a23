"""A training step recorded once and replayed: the engine's work without its bookkeeping.

At small batch sizes most of an eager step is Python: a Tensor and a graph node per op,
the topological sort, gradient dictionaries. For a model whose forward is a fixed
sequence of ops (every module ``capture_safe``), :func:`compile_step` records the ops of
one eager step and replays them on later batches of the same shapes: the same Function
objects run the same ``forward`` and ``backward`` code on the new arrays, in the order
the engine would use, so the gradients are the engine's to the bit. Anything it cannot
prove safe runs eagerly instead (``CompiledStep.eager_reason`` says why).

Example::

    >>> import numpy as np, retrograd as rg
    >>> _ = rg.manual_seed(0)
    >>> net = rg.nn.Sequential(rg.nn.Linear(4, 8), rg.nn.ReLU(), rg.nn.Linear(8, 3))
    >>> opt = rg.optim.SGD(net.parameters(), lr=0.1)
    >>> step = rg.train.compile_step(net, rg.nn.CrossEntropyLoss(), opt)
    >>> x, y = np.ones((5, 4), np.float32), np.array([0, 1, 2, 0, 1])
    >>> losses = [step(x, y) for _ in range(3)]   # first call records, later ones replay
    >>> step.replays, step.eager_reason
    (2, None)
"""

from __future__ import annotations

import keyword
import math
import operator
from typing import Any

from .._backend import xp
from ..autograd.engine import store_grads, toposort
from ..autograd.mode import MODE
from ..autograd.recording import record, replay_refusal
from ..autograd.tensor import Tensor, get_default_dtype
from ..nn.module import STRUCTURE_VERSION, Module
from ._fused import fused_program, same_as_recording

_ndarray = xp.ndarray
_get_requires_grad = operator.attrgetter("requires_grad")
_MAX_PROGRAMS = 8  # distinct input shapes kept (e.g. full batches and the last, short one)
_MAX_RECORDINGS = 50  # more recordings than this, with few replays: give up, run eagerly


def module_capture_safe(module: Any) -> bool:
    """True when ``module`` declares ``capture_safe`` at or below its ``forward``."""
    mro = type(module).__mro__
    fwd_owner = next((k for k in mro if "forward" in k.__dict__), None)
    safe_owner = next((k for k in mro if "capture_safe" in k.__dict__), None)
    hooks = getattr(module, "__dict__", {}).get("_forward_pre_hooks") or {}
    if any(getattr(h, "capture_safe", False) is not True for h in hooks.values()):
        return False  # a pre-hook may update state outside the recorded ops
    return (
        safe_owner is not None
        and safe_owner.__dict__["capture_safe"] is True
        and fwd_owner is not None
        and issubclass(safe_owner, fwd_owner)
    )


def _unsafe_module(model: Any, loss_fn: Any) -> str | None:
    mods = list(model.modules()) if isinstance(model, Module) else [model]
    mods += list(loss_fn.modules()) if isinstance(loss_fn, Module) else [loss_fn]
    for m in mods:
        hooks = getattr(m, "__dict__", {}).get("_forward_pre_hooks") or {}
        unsafe = [h for h in hooks.values() if getattr(h, "capture_safe", False) is not True]
        if unsafe:
            what = getattr(unsafe[0], "kind", type(unsafe[0]).__name__)
            return (
                f"{type(m).__name__} has a forward pre-hook ({what}) that is not capture_safe "
                "(it may update state outside the recorded ops)"
            )
        if not module_capture_safe(m):
            return (
                f"{type(m).__name__} is not capture_safe (its forward may update state, draw "
                "random numbers or branch on values outside the recorded ops)"
            )
    return None


class CompiledStep:
    """``zero_grad``, forward, loss, backward and ``optimizer.step()`` for one batch.

    Calling the step is the same as::

        optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); optimizer.step()

    and returns ``float(loss)``. :meth:`forward_backward` does the middle part only (the
    gradients accumulate into ``.grad`` as ``backward`` does), for loops that clip or
    average gradients before the update.

    A recording is replayed while the inputs keep their shapes and dtypes, gradient
    recording is on, anomaly detection is off, no module has been changed (attributes,
    children, parameters, train/eval: any change records again) and the parameters keep
    their ``requires_grad``. Models with a module that is not ``capture_safe`` (batch
    norm, recurrent and fixed-point layers, user modules that do not declare it), dropout
    in training mode, or losses that build arrays from the targets in Python always run
    eagerly; :attr:`eager_reason` names the cause.
    """

    def __init__(self, model: Any, loss_fn: Any, optimizer: Any = None) -> None:
        if not callable(model):
            raise TypeError(f"compile_step: model must be callable, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"compile_step: loss_fn must be callable, got {type(loss_fn).__name__}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self._programs: dict = {}  # input signature -> replay function, or why not
        self._version = None
        self._unsafe = _unsafe_module(model, loss_fn)
        #: Recordings made and replays run so far.
        self.recordings = 0
        self.replays = 0
        self._fused_counts: list = []
        self._whole_step_kernel = True
        #: Why the last call ran eagerly (None when it was recorded or replayed).
        self.eager_reason: str | None = self._unsafe

    # ------------------------------------------------------------------ public
    def __call__(self, x: Any, y: Any) -> float:
        opt = self.optimizer
        if opt is None:
            raise TypeError("CompiledStep: calling it needs an optimizer (or use forward_backward)")
        opt.zero_grad()
        loss = self.run(x, y)[1]
        opt.step()
        return float(loss)

    def forward_backward(self, x: Any, y: Any) -> tuple:
        """Forward, loss and backward for one batch: ``(output, loss)`` as Tensors."""
        out, loss = self.run(x, y)
        return Tensor._wrap(out, False, None), Tensor._wrap(loss, False, None)

    def run(self, x: Any, y: Any) -> tuple:
        """:meth:`forward_backward` returning the output and loss arrays (no Tensors)."""
        # Arrays as the eager path sees them (lists of floats become the default dtype).
        xa = x.data if isinstance(x, Tensor) else x if isinstance(x, _ndarray) else Tensor(x).data
        ya = y.data if isinstance(y, Tensor) else y if isinstance(y, _ndarray) else Tensor(y).data
        reason = self._unsafe
        if reason is not None:
            pass
        elif not MODE.grad_enabled or MODE.watched:
            reason = "gradient recording is off, anomaly detection is on, or a recording runs"
        elif (isinstance(x, Tensor) and x.requires_grad) or (
            isinstance(y, Tensor) and y.requires_grad
        ):
            reason = "an input requires grad"
        else:
            if self._version != STRUCTURE_VERSION[0]:
                self._programs.clear()
                self._version = STRUCTURE_VERSION[0]
            key = (xa.shape, xa.dtype, ya.shape, ya.dtype, xa is ya, get_default_dtype())
            prog = self._programs.get(key)
            if prog is None:
                if len(self._programs) < _MAX_PROGRAMS:
                    return self._record(key, x, y, xa, ya)
                reason = f"more than {_MAX_PROGRAMS} different input shapes"
            elif prog.__class__ is str:
                reason = prog  # why this recording cannot be replayed
            else:
                res = prog(xa, ya)
                if res.__class__ is tuple:
                    self.replays += 1
                    self.eager_reason = None
                    return res
                if res is None:  # a parameter's requires_grad changed: record again
                    del self._programs[key]
                    return self._record(key, x, y, xa, ya)
                reason = "the batch failed a check the recorded step relied on"
        self.eager_reason = reason
        return self._eager(x if isinstance(x, Tensor) else xa, y if isinstance(y, Tensor) else ya)

    @property
    def whole_step_kernel(self) -> bool:
        """Replay a plain MLP classifier's step as one compiled call when the kernels allow
        (the same bits as op by op); set False to replay op by op (recordings made so far
        are dropped either way, so the setting holds from the next step)."""
        return self._whole_step_kernel

    @whole_step_kernel.setter
    def whole_step_kernel(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"whole_step_kernel must be True or False, got {value!r}")
        if value != self._whole_step_kernel:
            self._whole_step_kernel = value
            self._programs.clear()

    @property
    def fused_replays(self) -> int:
        """Replays that ran as one compiled call (a plain MLP classifier, Numba installed)."""
        return sum(c[0] for c in self._fused_counts)

    def reset(self) -> None:
        """Forget the recordings (they are also dropped whenever a module changes)."""
        self._programs.clear()

    # ----------------------------------------------------------------- eager
    def _eager(self, x: Any, y: Any) -> tuple:
        out = self.model(x if isinstance(x, Tensor) else Tensor._wrap(x, False, None))
        loss = self.loss_fn(out, y if isinstance(y, Tensor) else Tensor._wrap(y, False, None))
        loss.backward()
        return (out.data if isinstance(out, Tensor) else out), loss.data

    # ------------------------------------------------------------- recording
    def _record(self, key: tuple, x: Any, y: Any, xa: Any, ya: Any) -> tuple:
        xt = x if isinstance(x, Tensor) else Tensor._wrap(xa, False, None)
        yt = y if isinstance(y, Tensor) else Tensor._wrap(ya, False, None)
        with record() as tape:
            out = self.model(xt)
            loss = self.loss_fn(out, yt)
        self.recordings += 1
        try:
            self._programs[key] = self._analyse(tape, xt, yt, out, loss)
            self.eager_reason = None
        except _NotReplayable as e:
            # Kept for these shapes until a module changes: the next calls run eagerly.
            self._programs[key] = self.eager_reason = str(e)
        if self.recordings > _MAX_RECORDINGS and self.replays < 4 * self.recordings:
            self._unsafe = (
                f"recorded {self.recordings} times with only {self.replays} replays "
                "(modules or shapes keep changing)"
            )
            self._programs.clear()
        prog = self._programs.get(key)
        fused = prog if getattr(prog, "generic", None) is not None else None
        # (the recording's own gradients are known only when none were there before it)
        fresh = fused is not None and all(p.grad is None for p in fused.params)
        loss.backward()
        if fused is not None:
            # The whole-step kernel is used only once it gave the recording's bits.
            if fresh and same_as_recording(fused, xa, ya, out.data, loss.data):
                self._fused_counts.append(fused.count)
            else:
                self._programs[key] = fused.generic
        for ctx, *_ in tape:
            # The recorded Function objects are reused by the replays: drop the recording
            # step's arrays and graph links now (the returned tensors are cut from them).
            ctx.__dict__.clear()
            ctx.parents = ()
        return (out.data if isinstance(out, Tensor) else out), loss.data

    def _analyse(self, tape: list, xt: Tensor, yt: Tensor, out: Any, loss: Any) -> Any:
        if not isinstance(loss, Tensor) or loss._ctx is None or loss.data.size != 1:
            raise _NotReplayable("the loss is not a one-element tensor computed by an op")
        inputs = {id(xt): 0, id(yt): 1, id(xt.data): 0, id(yt.data): 1}
        known = {}
        for mod in (self.model, self.loss_fn):
            if isinstance(mod, Module):
                for t in list(mod.parameters()) + list(mod.buffers()):
                    known[id(t)] = t
        # A source is ("in", 0 or 1) for x / y, ("leaf", j) for the j-th parameter, buffer or
        # literal met, ("op", i) for the output of the i-th op; slots are numbered at the end:
        # 0 x, 1 y, then the leaves, then the op outputs.
        leaves: list = []
        leaf_index: dict = {}
        produced: dict = {}  # id(output tensor) -> op index
        records = []
        for i, (ctx, tensors, params_kw, res) in enumerate(tape):
            refusal = replay_refusal(ctx)
            if refusal is not None:
                raise _NotReplayable(refusal)
            srcs = []
            for t in tensors:
                if id(t) in produced:
                    srcs.append(("op", produced[id(t)]))
                elif t._ctx is not None:
                    raise _NotReplayable("an op reads a tensor made outside the recorded ops")
                elif id(t) in inputs or id(t.data) in inputs:
                    srcs.append(("in", inputs.get(id(t), inputs.get(id(t.data)))))
                else:
                    if id(t) not in known and (t.data.ndim != 0 or t.requires_grad):
                        raise _NotReplayable(
                            f"an op reads a {t.data.shape} array that is neither an input, a "
                            "parameter nor a buffer (random masks and arrays built from the "
                            "data in Python change every step)"
                        )
                    if id(t) not in leaf_index:
                        leaf_index[id(t)] = len(leaves)
                        leaves.append(t)
                    srcs.append(("leaf", leaf_index[id(t)]))
            subs = []  # keyword arguments that are the batch: (name, 0 or 1)
            for k, v in params_kw.items():
                v = v.data if isinstance(v, Tensor) else v
                if isinstance(v, _ndarray):
                    if id(v) in inputs:
                        subs.append((k, inputs[id(v)]))
                    elif v.ndim:
                        raise _NotReplayable(
                            f"{type(ctx).__name__} gets a {v.shape} array argument {k!r} "
                            "that is not an input"
                        )
                elif isinstance(v, (tuple, list, dict)) and _holds_array(v):
                    # e.g. an index (rows, labels): the replay would keep the recorded arrays
                    raise _NotReplayable(
                        f"{type(ctx).__name__} gets arrays inside its argument {k!r} (only a "
                        "whole keyword can take the batch)"
                    )
            produced[id(res)] = i
            records.append((ctx, srcs, dict(params_kw), tuple(subs)))

        base = 2 + len(leaves)
        first = {"in": 0, "leaf": 2, "op": base}
        ops = [
            (ctx, tuple(first[kind] + j for kind, j in srcs), kw, subs)
            for ctx, srcs, kw, subs in records
        ]
        if isinstance(out, Tensor) and id(out) in produced:
            out_slot = base + produced[id(out)]
        elif isinstance(out, Tensor) and id(out) in inputs:
            out_slot = inputs[id(out)]
        else:
            raise _NotReplayable("the model's output is not a tensor made by an op or the input")
        # Backward in the engine's order, so that sums of several gradient contributions
        # are added in the same order (bitwise the eager gradients).
        back = [produced[id(t)] for t in toposort(loss)]
        loss_slot = base + produced[id(loss)]
        generic = _generate(ops, back, leaves, known, base, out_slot, loss_slot, loss.data)
        fused = None
        if self._whole_step_kernel:
            fused = fused_program(
                ops, leaves, known, base, out_slot, loss_slot, xt.data, yt.data, generic
            )
        return generic if fused is None else fused


def _holds_array(v: Any) -> bool:
    """True when a tuple, list or dict holds an ndarray or Tensor at any depth."""
    items = v.values() if isinstance(v, dict) else v
    for item in items:
        if isinstance(item, (_ndarray, Tensor)):
            return True
        if isinstance(item, (tuple, list, dict)) and _holds_array(item):
            return True
    return False


def _is_literal(v: Any) -> bool:
    """True for values whose repr is Python source for the same value."""
    if v is None or type(v) in (bool, int, str):
        return True
    return type(v) is float and math.isfinite(v)


def _generate(
    ops: list,
    back: list,
    leaves: list,
    known: dict,
    base: int,
    out_slot: int,
    loss_slot: int,
    loss: Any,
) -> Any:
    """Write the replay of one recorded step as a Python function, and compile it.

    Straight-line code with every array in a local variable: no per-op loop, list or
    dict work at replay time. Only names and slot numbers go into the source; the
    Function objects, parameters and constants are passed in its namespace.
    """
    ns: dict = {"_ndarray": _ndarray, "_asarray": xp.asarray, "_store": store_grads}
    lines = ["def replay(v0, v1):"]
    add = lines.append
    params = []
    for j, t in enumerate(leaves):
        s = 2 + j
        if id(t) in known:
            ns[f"T{s}"] = t
            params.append((s, t))
        else:
            ns[f"C{s}"] = t.data
    if params:
        guard = " or ".join(f"T{s}.requires_grad is not {bool(t.requires_grad)}" for s, t in params)
        add(f"    if {guard}:")
        add("        return None  # record again")
    for s, _ in params:
        add(f"    v{s} = T{s}.data")
    for s in range(2, base):
        if f"C{s}" in ns:
            add(f"    v{s} = C{s}")
    # The loss's own op, when the backward starts with it and it has a fused
    # ``forward_backward`` (cross-entropy): one call for its forward and its VJP.
    fused = back[0] if back and base + back[0] == loss_slot else None
    if fused is not None and not callable(getattr(ops[fused][0], "forward_backward", None)):
        fused = None
    for i, (ctx, idx, kw, subs) in enumerate(ops):
        o = base + i
        ns[f"F{i}"] = ctx.forward
        args = ", ".join(f"v{j}" for j in idx)
        fixed_kw = {k: v for k, v in kw.items() if k not in dict(subs)}
        for k in kw:
            if not k.isidentifier() or keyword.iskeyword(k):
                raise _NotReplayable(f"{type(ctx).__name__}: keyword {k!r} is not a name")
        ns[f"K{i}"] = fixed_kw
        # Plain literals (str, int, bool, None, finite floats) go into the call as
        # keywords written out (cheaper than unpacking a dict); anything else by name.
        kw_parts = []
        for k, v in fixed_kw.items():
            if _is_literal(v):
                kw_parts.append(f"{k}={v!r}")
            else:
                ns[f"K{i}_{k}"] = v
                kw_parts.append(f"{k}=K{i}_{k}")
        kw_src = ", ".join(kw_parts + [f"{k}=v{j}" for k, j in subs])
        call_args = ", ".join(a for a in (args, kw_src) if a)
        if type(ctx).replay == "checked":
            check = type(ctx).replay_check
            ns[f"Q{i}"] = check
            kwd = "{" + ", ".join([f"**K{i}"] + [f"{k!r}: v{j}" for k, j in subs]) + "}"
            add(f"    if not Q{i}(({args},), {kwd}):")
            add("        return False  # run eagerly")
        if i == fused:
            ns[f"FB{i}"] = ctx.forward_backward
            add(f"    v{o}, R{i} = FB{i}(ROOT, {call_args})")
        else:
            add(f"    v{o} = F{i}({call_args})")
        add(f"    if v{o}.__class__ is not _ndarray:")
        add(f"        v{o} = _asarray(v{o})")
    # Backward: gradient variables g<slot>, None until a contribution arrives.
    needed = {loss_slot}
    for i in back:
        ctx, idx = ops[i][0], ops[i][1]
        needed.update(j for j, w in zip(idx, ctx.needs) if w)
    add("    " + " = ".join(f"g{s}" for s in sorted(needed)) + " = None")
    # The root gradient, made once: VJPs never write into the gradient they are given.
    ns["ROOT"] = xp.ones_like(loss)
    add(f"    g{loss_slot} = ROOT")
    seen = {loss_slot}
    for i in back:
        ctx, idx = ops[i][0], ops[i][1]
        o = base + i
        ns[f"B{i}"] = ctx.backward
        add(f"    if g{o} is not None:")
        add(f"        r = R{i}" if i == fused else f"        r = B{i}(g{o})")
        for pos, (j, w) in enumerate(zip(idx, ctx.needs)):
            if not w:
                continue
            if j not in seen:
                seen.add(j)
                add(f"        g{j} = r[{pos}]")
            else:
                add(f"        t = r[{pos}]")
                add("        if t is not None:")
                add(f"            g{j} = t if g{j} is None else g{j} + t")
    handed = [f"(T{s}, g{s})" for s, _ in params if s in needed]
    if handed:
        # The engine's own hand-over (who may keep the array, who gets a copy).
        add(f"    _store(({', '.join(handed)},), ROOT)")
    for i, (ctx, *_) in enumerate(ops):
        # Drop what forward saved for backward: memory is not held between steps.
        ns[f"D{i}"] = ctx.__dict__
        add(f"    D{i}.clear()")
    add(f"    return v{out_slot}, v{loss_slot}")
    src = "\n".join(lines) + "\n"
    exec(compile(src, "<retrograd compiled step>", "exec"), ns)  # noqa: S102 - our own source
    fn = ns["replay"]
    fn.source = src
    return fn


class _NotReplayable(Exception):
    """Why a recorded step cannot be replayed (it then runs eagerly)."""


def compile_step(model: Any, loss_fn: Any, optimizer: Any = None) -> CompiledStep:
    """A :class:`CompiledStep` for ``model``, ``loss_fn`` and ``optimizer`` (see there)."""
    return CompiledStep(model, loss_fn, optimizer)


__all__ = ["CompiledStep", "compile_step", "module_capture_safe"]
