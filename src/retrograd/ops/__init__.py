"""Differentiable primitives and the composites built from them.

:class:`~retrograd.Tensor`'s operators and methods call the functions of this package
through a reference bound on first use, so the engine (``retrograd.autograd``) does not
import the ops.
"""

from __future__ import annotations

from . import (  # noqa: F401 - submodules as attributes
    activation,
    aggregate,
    einsum,
    elementwise,
    indexing,
    linalg,
    losses,
    matrix,
    movement,
    pointwise,
    reduce,
    return_types,
    scan,
    shape,
    sorting,
    special,
)
from .activation import *  # noqa: F403
from .aggregate import *  # noqa: F403
from .creation import *  # noqa: F403
from .einsum import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .indexing import *  # noqa: F403
from .inplace import *  # noqa: F403
from .linalg import *  # noqa: F403
from .losses import *  # noqa: F403
from .matrix import *  # noqa: F403
from .movement import *  # noqa: F403
from .pointwise import *  # noqa: F403
from .reduce import *  # noqa: F403
from .scan import *  # noqa: F403
from .shape import *  # noqa: F403
from .sorting import *  # noqa: F403
from .special import *  # noqa: F403
