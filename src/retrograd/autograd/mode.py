"""Global switches read on every op: graph building, anomaly detection, recording."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload

_F = TypeVar("_F", bound=Callable[..., Any])
_S = TypeVar("_S", bound="_SetGrad")


class _Mode:
    # One mutable object read in the hot path of Function.apply: attribute lookups on
    # a single slotted instance are the cheapest global state Python offers.
    __slots__ = ("grad_enabled", "anomaly", "tape", "watched", "version")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        # A list while ``autograd.recording.record`` collects the calls, else None.
        self.tape: list | None = None
        # ``anomaly or tape is not None``: Function.apply tests this one flag, so the
        # usual op (neither on) pays one attribute read for both features.
        self.watched = False
        # Bumped by every in-place modification retrograd sees (autograd.inplace).
        self.version = 0

    def set_anomaly(self, on: bool) -> None:
        self.anomaly = on
        self.watched = on or self.tape is not None

    def set_tape(self, tape: list | None) -> None:
        self.tape = tape
        self.watched = self.anomaly or tape is not None


MODE = _Mode()


def is_grad_enabled() -> bool:
    """Return True when operations record a graph for backward."""
    return MODE.grad_enabled


class _SetGrad:
    _value = True

    @overload
    def __new__(cls: type[_S], orig_func: None = None) -> _S: ...

    @overload
    def __new__(cls, orig_func: _F) -> _F: ...  # type: ignore[misc]

    def __new__(cls, orig_func: Any = None) -> Any:
        self = super().__new__(cls)
        if orig_func is not None:
            # Bare decorator form, ``@rg.no_grad`` without parentheses (PyTorch accepts it).
            if not callable(orig_func):
                raise TypeError(
                    f"{cls.__name__}() takes no arguments except a function to decorate, "
                    f"got {type(orig_func).__name__}"
                )
            return self(orig_func)
        return self

    def __enter__(self) -> None:
        self._prev = MODE.grad_enabled
        MODE.grad_enabled = self._value

    def __exit__(self, *exc: object) -> None:
        MODE.grad_enabled = self._prev

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_SetGrad):
    """Context manager and decorator (``@no_grad()`` or ``@no_grad``) that stops recording.

    Example::

        >>> import retrograd as rg
        >>> w = rg.tensor([1.0, 2.0], requires_grad=True)
        >>> with rg.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    _value = False


class enable_grad(_SetGrad):
    """Context manager and decorator that turns graph recording back on."""

    _value = True


class detect_anomaly:
    """Raise at the first NaN/Inf produced by any op in forward or backward.

    The error names the op and the line of user code that created it. Slows every op
    (each output is checked and a stack trace is kept), so use it to debug, not to train.

    Example::

        >>> import retrograd as rg
        >>> with rg.detect_anomaly():
        ...     rg.tensor([-1.0]).log()  # doctest: +SKIP
        AnomalyError: Log produced nan in forward ...
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def __enter__(self) -> detect_anomaly:
        self._prev = MODE.anomaly
        MODE.set_anomaly(self.enabled)
        return self

    def __exit__(self, *exc: object) -> None:
        MODE.set_anomaly(self._prev)

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.enabled):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
