"""The reverse-mode engine: Tensor, Function, the graph walk and gradient checking."""

from .function import PRIMITIVES, Function, unbroadcast
from .functional import grad, value_and_grad, vjp
from .gradcheck import gradcheck
from .mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .tensor import Tensor, get_default_dtype, set_default_dtype

__all__ = [
    "PRIMITIVES", "Function", "unbroadcast", "grad", "value_and_grad", "vjp", "gradcheck",
    "detect_anomaly", "enable_grad", "is_grad_enabled", "no_grad", "Tensor",
    "get_default_dtype", "set_default_dtype",
]  # fmt: skip
