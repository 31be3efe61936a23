"""Weight initialisation, in place on a Parameter (PyTorch's names and formulas)."""

from __future__ import annotations

import math
from typing import Any

from ..autograd.inplace import mark_modified
from ..random import default_generator


def _fans(t: Any) -> tuple:
    shape = t.data.shape
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dims, got shape {shape}")
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    gains = {
        "linear": 1.0,
        "identity": 1.0,
        "sigmoid": 1.0,
        "conv2d": 1.0,
        "tanh": 5.0 / 3,
        "relu": math.sqrt(2.0),
        "selu": 0.75,
    }
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in gains:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")
    return gains[nonlinearity]


def _fill(t: Any, arr: Any) -> Any:
    t.data[...] = arr.astype(t.data.dtype, copy=False)
    mark_modified(t.data, "an nn.init function", t)
    return t


def uniform_(t: Any, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Any:
    """Fill with U(a, b). ``uniform_(w, -0.3, 0.3)`` is the 1986 experiments' set-up."""
    if a > b:
        raise ValueError(f"uniform_: a ({a}) must not exceed b ({b})")
    rng = generator or default_generator()
    return _fill(t, rng.uniform(a, b, size=t.data.shape))


def normal_(t: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Any:
    rng = generator or default_generator()
    return _fill(t, rng.normal(mean, std, size=t.data.shape))


def constant_(t: Any, value: float) -> Any:
    t.data[...] = value
    mark_modified(t.data, "nn.init.constant_", t)
    return t


def zeros_(t: Any) -> Any:
    return constant_(t, 0.0)


def ones_(t: Any) -> Any:
    return constant_(t, 1.0)


def xavier_uniform_(t: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, generator)


def xavier_normal_(t: Any, gain: float = 1.0, generator: Any = None) -> Any:
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_


def _kaiming_gain_fan(t: Any, a: float, mode: str, nonlinearity: str, who: str) -> tuple:
    """He et al. (2015): the gain of ``nonlinearity`` and the fan ``mode`` names."""
    fan_in, fan_out = _fans(t)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{who}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return calculate_gain(nonlinearity, a), (fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(
    t: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """He et al. (2015): U(-b, b), b = gain * sqrt(3 / fan)."""
    gain, fan = _kaiming_gain_fan(t, a, mode, nonlinearity, "kaiming_uniform_")
    bound = gain * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(
    t: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan)."""
    gain, fan = _kaiming_gain_fan(t, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(t, 0.0, gain / math.sqrt(fan), generator)


he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def default_linear_init_(weight: Any, bias: Any = None, generator: Any = None) -> None:
    """PyTorch's Linear/Conv default init, in place.

    Weights: kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Example::

        >>> import retrograd as rg
        >>> lin = rg.nn.Linear(4, 2)
        >>> rg.nn.init.default_linear_init_(lin.weight, lin.bias)
        >>> bool(abs(lin.weight.data).max() <= 0.5)
        True
    """
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = _fans(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound, generator)


__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
    "xavier_normal_", "glorot_uniform_", "glorot_normal_", "kaiming_uniform_", "kaiming_normal_",
    "he_uniform_", "he_normal_", "default_linear_init_",
]  # fmt: skip
