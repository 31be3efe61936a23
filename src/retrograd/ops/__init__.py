"""Differentiable primitives and the composites built from them.

:class:`~retrograd.Tensor`'s operators and methods call the functions of this package
through a reference bound on first use, so the engine (``retrograd.autograd``) does not
import the ops.
"""

from __future__ import annotations

from . import elementwise, fused, pointwise, reduce, shape  # noqa: F401 - submodules
from .creation import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .fused import *  # noqa: F403
from .linalg import *  # noqa: F403
from .pointwise import *  # noqa: F403
from .reduce import *  # noqa: F403
from .shape import *  # noqa: F403
