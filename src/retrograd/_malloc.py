"""Keep large NumPy temporaries in the heap instead of a fresh mmap for each one.

glibc serves every allocation above ``M_MMAP_THRESHOLD`` (adaptive, at most 32 MiB) with
its own ``mmap`` and gives it back with ``munmap`` when freed, and trims the heap top
above ``M_TRIM_THRESHOLD``. A training step allocates and frees the same multi-megabyte
temporaries (im2col columns, gate buffers, activations) every iteration, so each step
page-faults them in again: measured on the convolution benchmark, about 4,400 page
faults and half of the step's time. Fixing the thresholds lets freed blocks be reused.

The cost is that up to ``_TRIM`` bytes of freed memory stay with the process instead of
going back to the OS. ``import retrograd`` leaves malloc alone: :func:`tune` runs when
training starts (``rg.train.fit``, and through it the command line; the scikit-learn
estimators' ``fit``/``partial_fit``; the benchmarks). Set ``RETROGRAD_MALLOC_TUNING=0`` to
leave malloc untouched. Only glibc on Linux is affected; anything else is a no-op.
"""

from __future__ import annotations

import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP = 64 << 20
_TRIM = 256 << 20

applied = False


def tune() -> bool:
    """Apply the thresholds once; returns True when they were set."""
    global applied
    if applied or os.environ.get("RETROGRAD_MALLOC_TUNING", "1") == "0":
        return applied
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, or no glibc
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP) == 1 and mallopt(_M_TRIM_THRESHOLD, _TRIM) == 1
    applied = ok
    return ok
