"""The one place retrograd chooses its array module.

Ops import ``xp`` from here instead of calling NumPy directly on tensor data, so a
GPU array module with NumPy's interface (CuPy) can slot in later without a rewrite.
"""

import numpy as xp

ndarray = xp.ndarray


def array_module(_array=None):
    """Return the array module that handles ``_array`` (NumPy for now)."""
    return xp
