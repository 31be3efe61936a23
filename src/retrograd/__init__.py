"""retrograd: neural networks trained by backpropagation, on NumPy.

Example::

    >>> import retrograd as rg
    >>> x = rg.tensor([[1.0, 2.0]], requires_grad=True)
    >>> w = rg.tensor([[0.5], [-0.5]], requires_grad=True)
    >>> loss = (x @ w).tanh().sum()
    >>> loss.backward()
    >>> w.grad.shape
    (2, 1)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__
from .autograd import (
    Function,
    Tensor,
    detect_anomaly,
    enable_grad,
    get_default_dtype,
    grad,
    gradcheck,
    gradgradcheck,
    is_grad_enabled,
    no_grad,
    set_default_dtype,
    value_and_grad,
    vjp,
)
from .errors import (
    AnomalyError,
    ConvergenceError,
    DistributedError,
    GradcheckError,
    ModelFileError,
    RetrogradError,
    ShapeError,
)
from .ops import (  # noqa: A004 - torch's names, shadowing builtins as torch does
    abs,
    amax,
    amin,
    arange,
    argmax,
    argmin,
    as_tensor,
    bernoulli,
    cat,
    celu,
    clip,
    clone,
    concat,
    concatenate,
    empty,
    empty_like,
    exp,
    eye,
    flatten,
    from_numpy,
    full,
    full_like,
    gelu,
    linspace,
    log,
    log1p,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multinomial,
    normal,
    ones,
    ones_like,
    pad,
    permute,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    relu,
    reshape,
    selu,
    sigmoid,
    softmax,
    softplus,
    sqrt,
    squeeze,
    stack,
    std,
    sum,
    tanh,
    tensor,
    transpose,
    unsqueeze,
    var,
    where,
    zeros,
    zeros_like,
)
from .ops.aggregate import *  # noqa: F403 - prod, any, all, norm, var_mean, ...
from .ops.einsum import *  # noqa: F403
from .ops.indexing import *  # noqa: F403 - gather, scatter, index_select, ...
from .ops.matrix import *  # noqa: F403 - det, addmm, tensordot, cross, cdist
from .ops.movement import *  # noqa: F403 - flip, roll, split, chunk, tril, ...
from .ops.pointwise import *  # noqa: F403 - sin, atan2, isclose, ... (see its __all__)
from .ops.pointwise import (  # noqa: F401 - torch's arithmetic names (in __all__ below)
    add,
    div,
    divide,
    mul,
    multiply,
    neg,
    negative,
    pow,
    sub,
    subtract,
    true_divide,
)
from .ops.scan import *  # noqa: F403 - cumsum, cumprod, cummax, ...
from .ops.sorting import *  # noqa: F403 - sort, argsort, topk, median, ...
from .ops.special import *  # noqa: F403 - erfc, lgamma, xlogy, hypot, addcmul, ...
from .random import get_rng_state, manual_seed, set_rng_state

float32 = "float32"
float64 = "float64"
# torch's other dtype names, as the NumPy dtype names they stand for. `rg.bool`, `rg.int`
# and `rg.float` go in through globals() so this module's own code keeps the builtins,
# and stay out of __all__ so `from retrograd import *` does not shadow them either.
float16 = half = "float16"
double = "float64"
int8, int16, int32, int64, uint8 = "int8", "int16", "int32", "int64", "uint8"
short, long = "int16", "int64"
globals().update({"bool": "bool", "int": "int32", "float": "float32"})

# Submodules and heavier entry points load on first use, keeping `import retrograd` fast.
_LAZY_MODULES = (
    "nn", "optim", "data", "train", "noisy", "io", "sklearn", "distributed", "cli", "ops",
    "func", "onnx", "linalg",
)  # fmt: skip
_LAZY_ATTRS = {
    "save": ("retrograd.io", "save"),
    "load": ("retrograd.io", "load"),
    "save_checkpoint": ("retrograd.io", "save_checkpoint"),
    "load_checkpoint": ("retrograd.io", "load_checkpoint"),
    "check_module_grads": ("retrograd.nn.gradcheck", "check_module_grads"),
}


if TYPE_CHECKING:  # what __getattr__ loads lazily, made visible to type checkers
    from . import cli, data, distributed, io, linalg, nn, noisy, onnx, ops, optim, sklearn, train  # noqa: F401, E501
    from .io import load, load_checkpoint, save, save_checkpoint  # noqa: F401
    from .nn.gradcheck import check_module_grads  # noqa: F401


def __getattr__(name: str) -> object:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"retrograd.{name}")
    if name in _LAZY_ATTRS:
        mod, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'retrograd' has no attribute {name!r}")


__all__ = [
    "__version__", "Function", "Tensor", "detect_anomaly", "enable_grad", "get_default_dtype",
    "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "no_grad", "set_default_dtype",
    "value_and_grad",
    "vjp", "AnomalyError", "ConvergenceError", "DistributedError", "GradcheckError",
    "ModelFileError",
    "RetrogradError", "ShapeError", "abs", "amax", "amin", "arange", "argmax", "argmin", "cat",
    "clip", "clone", "concat", "concatenate", "empty", "empty_like", "exp", "eye",
    "from_numpy", "full", "full_like", "gelu", "linspace", "log", "log1p", "log_softmax",
    "logsumexp", "matmul", "maximum", "minimum", "normal", "ones", "ones_like", "pad", "rand",
    "rand_like", "randint", "randint_like", "randn", "randn_like", "relu", "sigmoid",
    "softmax", "softplus", "sqrt", "stack", "tanh", "tensor", "where", "zeros", "zeros_like",
    "get_rng_state", "manual_seed", "set_rng_state", "float32", "float64", "flatten", "max",
    "mean", "min", "permute", "reshape", "squeeze", "std", "sum", "transpose", "unsqueeze",
    "var", "celu", "selu", "as_tensor", "bernoulli", "multinomial", "randperm",
]  # fmt: skip
# The op modules' own lists: sin, sort, gather, flip, cumsum, einsum, ... (the star imports).
for _name in (
    "aggregate", "einsum", "indexing", "matrix", "movement", "pointwise", "scan", "sorting",
    "special",
):  # fmt: skip
    __all__ += importlib.import_module(f"retrograd.ops.{_name}").__all__
__all__ += importlib.import_module("retrograd.ops.pointwise").TORCH_ARITHMETIC
del _name
