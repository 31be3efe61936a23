"""Function: one differentiable primitive, its forward and its vector-Jacobian product.

A subclass implements ``forward(self, *arrays, **params)`` returning an ndarray, and
``backward(self, g)`` returning one gradient (or None) per tensor argument, in order.
``self.needs[i]`` says whether argument ``i`` wants a gradient, so a VJP can skip work.
VJPs must never modify ``g`` in place: the same array may be handed to several parents.

Higher order (``backward(create_graph=True)``, ``rg.autograd.grad(..., create_graph=True)``)
needs the VJP as differentiable operations; see ``retrograd.autograd.engine``. A subclass
gives it as ``backward_graph(self, g, out)`` (Tensors in, Tensors out) or as
``composite(self, *tensors)`` (the forward rebuilt from other primitives), or declares
itself first-order-only with ``second_order = False`` and a ``second_order_reason``.
Every primitive also declares ``replay``: whether a recorded call of it may be run again
on new arrays (``"pure"``, ``"checked"`` or ``"never"``; see :mod:`.recording`).
"""

from __future__ import annotations

import operator
import traceback
from typing import Any

from .._backend import xp
from .mode import MODE
from .recording import Record, check_declaration
from .tensor import Tensor

_ndarray = xp.ndarray
_asarray = xp.asarray
_get_data = operator.attrgetter("_data")
_get_requires_grad = operator.attrgetter("requires_grad")
_new_tensor = object.__new__

#: Every Function subclass by class name. The test-suite's meta-test walks this registry
#: and fails when a primitive of the retrograd package has no float64 gradcheck case.
#: Classes defined outside the package (user code, tests) whose name is already taken are
#: filed under ``"module.QualName"`` so that they never shadow a library primitive.
PRIMITIVES: dict = {}


def _register(cls: type) -> None:
    name = cls.__name__
    prev = PRIMITIVES.get(name)
    if prev is None or _origin(prev) == _origin(cls):
        # New name, or the same class defined again (a module reload): take the slot.
        PRIMITIVES[name] = cls
        return
    ours, theirs = _in_package(cls), _in_package(prev)
    if ours and theirs:
        raise TypeError(
            f"Function {name!r} in {cls.__module__} clashes with the primitive of the same "
            f"name in {prev.__module__}: primitive names must be unique (rename one)"
        )
    if ours:
        # A library primitive imported after a same-named outside class: the library wins.
        PRIMITIVES[".".join(_origin(prev))] = prev
        PRIMITIVES[name] = cls
    else:
        PRIMITIVES[".".join(_origin(cls))] = cls


def _origin(cls: type) -> tuple:
    return (cls.__module__, cls.__qualname__)


def _in_package(cls: type) -> bool:
    return cls.__module__ == "retrograd" or cls.__module__.startswith("retrograd.")


class Function:
    # _epoch: the in-place modification count when recorded (see autograd.inplace).
    __slots__ = ("parents", "needs", "_epoch", "_anomaly_trace", "__dict__")

    #: Set False on a subclass that is deliberately not differentiable.
    differentiable = True

    #: Whether a recorded call may be run again on new arrays by ``train.compile_step``:
    #: "pure", "checked" or "never" (see :mod:`retrograd.autograd.recording`). Every
    #: primitive declares it; None (undeclared) is treated as "never".
    replay: str | None = None

    #: ``replay_check(arrays, params) -> bool`` (a static method) on a subclass declaring
    #: ``replay = "checked"``: may the recorded call run on these arrays?
    replay_check = None

    #: False declares the primitive first-order-only: ``create_graph=True`` through it
    #: raises :class:`retrograd.errors.SecondOrderError` quoting ``second_order_reason``.
    #: True (the default) promises ``backward_graph`` or ``composite`` (engine docstring).
    second_order = True
    second_order_reason = ""

    #: Whether an ``out`` array saved by forward is the output PyTorch also saves for
    #: backward: an in-place write into the output then makes backward raise, as in
    #: PyTorch (autograd.inplace.mark_output_rebound). False where PyTorch saves
    #: something else (max pooling saves indices).
    output_saved = True

    #: ``saved_inputs(self) -> tuple[bool, ...]`` on a subclass: which inputs the VJP
    #: reads (PyTorch saves exactly those); None: the inputs whose arrays were saved.
    saved_inputs = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        check_declaration(cls)
        _register(cls)

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g: Any) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} has no VJP (backward) defined")

    @classmethod
    def apply(cls, *tensors: Tensor, **params: Any) -> Tensor:
        """Run forward on the tensors' data and, when recording, link the result."""
        # This runs once per op: map() with C-level attribute getters instead of list
        # comprehensions, and the result Tensor built inline (what Tensor._wrap does).
        ctx = cls.__new__(cls)
        out = ctx.forward(*map(_get_data, tensors), **params)
        if out.__class__ is not _ndarray:
            out = _asarray(out)
        mode = MODE
        res = _new_tensor(Tensor)
        res._data = out
        res.grad = None
        res.name = None
        if mode.watched:  # anomaly detection or a recording: off the usual path
            _watch(ctx, tensors, params, res)
        if mode.grad_enabled:
            for t in tensors:
                if t.requires_grad:
                    ctx.parents = tensors
                    ctx.needs = tuple(map(_get_requires_grad, tensors))
                    ctx._epoch = mode.version
                    res.requires_grad = True
                    res._ctx = ctx
                    return res
        res.requires_grad = False
        res._ctx = None
        return res


def _watch(ctx: Function, tensors: tuple, params: dict, res: Tensor) -> None:
    mode = MODE
    if mode.anomaly:
        # The stack without this function and apply: it ends at the op's caller.
        ctx._anomaly_trace = "".join(traceback.format_stack(limit=13)[:-3])
        from .engine import _check_finite

        _check_finite(res.data, ctx, "forward")
    if mode.tape is not None:
        mode.tape.append(Record(ctx, tensors, params, res))


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` down to ``shape``: the VJP of NumPy broadcasting, in one place."""
    if g.shape == shape:
        return g
    nd = g.ndim - len(shape)
    if nd:
        g = g.sum(axis=tuple(range(nd)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g
