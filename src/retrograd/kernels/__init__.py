"""Compiled twins of a few NumPy kernels (Numba), optional: ``pip install retrograd[fast]``.

NumPy stays the reference and the default. A kernel here is one loop doing what several
NumPy calls do between the matrix products of a training step (bias + ReLU, the ReLU
gradient with the bias gradient, softmax cross-entropy forward and backward, the
momentum update; the LSTM and GRU cell arithmetic; the fused conv layer's pool, its
backward and col2im; MaxPool2d's forward and backward; Conv2d's strided col2im), so
that the arrays are walked once and the per-call overhead is paid once. Every kernel
has a NumPy twin (in :mod:`._numpy`, :mod:`._rnn_numpy`, :mod:`._spatial_numpy`) that
computes the same numbers the way the ops did before (and still do without Numba); the
tests run both and compare them: bitwise where the arithmetic is the same sequence of
IEEE operations, else within 1e-6 relative in float32 and 1e-12 in float64
(``exp``/``log`` may differ by an ulp).

Ops call kernels through :data:`K`: ``K.bias_relu(z, b)``. A name is resolved on its
first use, to the Numba version when Numba can be imported and the environment variable
``RETROGRAD_KERNELS`` is not ``numpy``, else to the NumPy twin; after that a lookup is a
plain attribute read. Numba is imported (and the kernels compiled, or loaded from
Numba's on-disk cache) then, never by ``import retrograd``. Eager steps and replayed
steps call the same kernels, so a replay stays bitwise the eager step either way.

Example::

    >>> import numpy as np
    >>> from retrograd.kernels import K, backend
    >>> z = np.array([[-1.0, 2.0]], dtype=np.float32)
    >>> K.bias_relu(z, np.array([0.5, 0.5], dtype=np.float32)).tolist()
    [[0.0, 2.5]]
    >>> backend() in ("numba", "numpy")
    True
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from . import _numpy, _rnn_numpy, _spatial_numpy

#: Each NumPy twin module and the module of its compiled versions (same names in both).
_MODULES = ((_numpy, "_numba"), (_rnn_numpy, "_rnn_numba"), (_spatial_numpy, "_spatial_numba"))
#: Kernel names; each is a function of a twin module and of its compiled counterpart.
NAMES = tuple(name for twins, _ in _MODULES for name in twins.__all__)
_HOME = {name: pair for pair in _MODULES for name in pair[0].__all__}
_CHOICES = ("auto", "numba", "numpy")


class _Kernels:
    """The kernels by name; a name missing from the instance is resolved on first use."""

    def __getattr__(self, name: str) -> Any:
        if name not in NAMES:
            raise AttributeError(f"retrograd.kernels has no kernel {name!r}")
        twins, compiled = _HOME[name]
        if _implementation() is _numpy:
            fn = getattr(twins, name)
        else:
            fn = getattr(importlib.import_module(f"{__name__}.{compiled}"), name)
        setattr(self, name, fn)  # later lookups: a plain instance attribute
        return fn


#: The kernels, as ops call them: ``K.name(...)``.
K = _Kernels()
_state: dict = {"choice": None, "impl": None, "why": ""}


def _implementation() -> Any:
    impl = _state["impl"]
    if impl is not None:
        return impl
    choice = _state["choice"] or os.environ.get("RETROGRAD_KERNELS", "auto").strip().lower()
    if choice not in _CHOICES:
        raise ValueError(f"RETROGRAD_KERNELS is {choice!r}, expected one of {', '.join(_CHOICES)}")
    impl = _numpy
    if choice == "numpy":
        _state["why"] = "RETROGRAD_KERNELS=numpy" if not _state["choice"] else "use('numpy')"
    else:
        try:
            from . import _numba as impl  # imports numba: seconds cold, ~0.3 s cached
        except ImportError as e:
            if choice == "numba":
                raise ImportError(
                    "retrograd.kernels: Numba was asked for but cannot be imported "
                    f"({e}); install it with pip install 'retrograd[fast]'"
                ) from e
            impl = _numpy
            _state["why"] = f"Numba is not installed ({e.name or e})"
    _state["impl"] = impl
    return impl


def backend() -> str:
    """``"numba"`` or ``"numpy"``: which versions :data:`K` runs (resolving it if needed)."""
    return "numba" if _implementation() is not _numpy else "numpy"


def use(choice: str) -> None:
    """Run the ``"numba"`` kernels, the ``"numpy"`` twins, or ``"auto"`` (Numba if present).

    Overrides ``RETROGRAD_KERNELS`` for this process; takes effect at the next kernel
    call. ``"numba"`` raises ImportError when Numba cannot be imported.
    """
    if choice not in _CHOICES:
        raise ValueError(f"kernels.use: choice must be one of {_CHOICES}, got {choice!r}")
    K.__dict__.clear()
    _state.update(choice=choice, impl=None, why="")
    if choice == "numba":
        _implementation()


__all__ = ["K", "NAMES", "backend", "use"]
