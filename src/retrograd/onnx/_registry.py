"""Which function exports which layer: the built-in table and the user's registrations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ._graph import ExportContext, OnnxExportError

__all__ = ["register_exporter", "unregister_exporter", "supported_layers", "lookup", "builtin"]

Exporter = Callable[..., Any]

# Public class name (rg.nn.X, or a layer of the model registry such as the command
# line's EquilibriumClassifier) -> exporter. Filled by _layers and _recurrent.
_BUILTIN: dict[str, Exporter] = {}
_USER: dict[type, Exporter] = {}
_LOCK = threading.Lock()


def builtin(*names: str) -> Callable[[Exporter], Exporter]:
    """Register ``fn`` as the exporter of the built-in layers ``names``."""

    def deco(fn: Exporter) -> Exporter:
        for n in names:
            _BUILTIN[n] = fn
        return fn

    return deco


def _builtin_class(name: str) -> Any:
    """The class the public name stands for: rg.nn's, else the model registry's."""
    from .. import nn
    from ..io.registry import registered_modules

    cls = getattr(nn, name, None)
    if isinstance(cls, type):
        return cls
    return registered_modules().get(name)


def register_exporter(cls: type, fn: Exporter | None = None) -> Any:
    """Make :func:`retrograd.onnx.export` handle instances of ``cls`` with ``fn``.

    ``fn(ctx, module, *inputs)`` receives an :class:`ExportContext` and the inputs as
    :class:`Value` objects, and returns the ONNX name of the output (a tuple of names
    for a tuple output). Use as a decorator ``@register_exporter(MyLayer)`` or call it.
    A registration for a class takes precedence over the built-in table.

    Example::

        >>> import retrograd as rg
        >>> class Scale(rg.nn.Module):
        ...     def __init__(self, factor=2.0):
        ...         super().__init__()
        ...         self.factor = factor
        ...     def forward(self, x):
        ...         return x * self.factor
        >>> @rg.onnx.register_exporter(Scale)
        ... def export_scale(ctx, module, x):
        ...     return ctx.op("Mul", x, ctx.scalar(module.factor, x))
        >>> "Scale" in rg.onnx.supported_layers()
        True
    """
    from ..nn.module import Module

    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"register_exporter: expected a Module subclass, got {cls!r}")

    def deco(f: Exporter) -> Exporter:
        if not callable(f):
            raise TypeError(f"register_exporter: the exporter must be callable, got {f!r}")
        with _LOCK:
            _USER[cls] = f
        return f

    return deco if fn is None else deco(fn)


def unregister_exporter(cls: type) -> None:
    """Remove a registration made by :func:`register_exporter`."""
    with _LOCK:
        if _USER.pop(cls, None) is None:
            raise KeyError(f"unregister_exporter: {cls!r} has no registered exporter")


def supported_layers() -> list[str]:
    """Names of the layers :func:`retrograd.onnx.export` can write (built-in and registered).

    Example::

        >>> import retrograd as rg
        >>> "LSTM" in rg.onnx.supported_layers()
        True
    """
    _load()
    with _LOCK:
        names = set(_BUILTIN) | {c.__name__ for c in _USER}
    return sorted(names)


def _load() -> None:
    from . import _layers, _recurrent, _transformer  # noqa: F401 - fill _BUILTIN


def lookup(module: Any, ctx: ExportContext) -> Exporter:
    """The exporter of ``module``; an error naming the layer and listing what is supported."""
    _load()
    cls = type(module)
    with _LOCK:
        fn = _USER.get(cls)
    if fn is not None:
        return fn
    name = cls.__name__
    fn = _BUILTIN.get(name)
    if fn is not None and _builtin_class(name) is cls:
        return fn
    raise OnnxExportError(
        f"export: {ctx.where}: no ONNX mapping for {cls.__module__}.{cls.__qualname__}. "
        f"Supported layers: {', '.join(supported_layers())}. For your own layer, register "
        f"an exporter with @retrograd.onnx.register_exporter({cls.__name__})"
    )
