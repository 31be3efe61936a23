"""retrograd's global random number generator (weights init, dropout, shuffling).

One NumPy ``Generator`` seeded by :func:`manual_seed`. Its state is plain JSON-able data
(:func:`get_rng_state`/:func:`set_rng_state`), so checkpoints restore it exactly.
"""

from __future__ import annotations

import copy
from typing import Any

from ._backend import xp

_GEN = [xp.random.default_rng()]


def manual_seed(seed: int) -> Any:
    """Seed the global generator; returns it.

    Example::

        >>> import retrograd as rg
        >>> _ = rg.manual_seed(0); a = rg.randn(2)
        >>> _ = rg.manual_seed(0); b = rg.randn(2)
        >>> bool((a.data == b.data).all())
        True
    """
    if not isinstance(seed, (int, xp.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _GEN[0] = xp.random.default_rng(int(seed))
    return _GEN[0]


def default_generator() -> Any:
    """The global ``numpy.random.Generator`` retrograd draws from."""
    return _GEN[0]


def get_rng_state() -> dict:
    """A JSON-able copy of the global generator's state."""
    return copy.deepcopy(_GEN[0].bit_generator.state)


def set_rng_state(state: dict) -> None:
    """Restore a state from :func:`get_rng_state`."""
    bg = xp.random.PCG64()
    bg.state = copy.deepcopy(state)
    _GEN[0] = xp.random.Generator(bg)
