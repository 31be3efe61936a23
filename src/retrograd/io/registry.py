"""The registry of Module classes that :func:`retrograd.load` may rebuild.

A model file names its layers (``"Linear"``, ``"Sequential"``, ...) and their constructor
arguments as JSON. ``rg.load`` looks each name up in THIS registry and calls the
registered class with the validated arguments; it never imports or calls anything a file
names, so a file cannot run code. A class that is not registered cannot be saved or
loaded.

How a layer becomes saveable — pick one:

1. **A ``get_config()`` method** (preferred, also for layers inside ``retrograd.nn``).
   Return the keyword arguments that rebuild the layer: JSON scalars (None, bool, int,
   finite float, str), lists/tuples of them, and — for containers and wrappers — Modules
   or lists of Modules. Loading calls ``cls(**config)``, then copies the weights in::

       class Conv2d(Module):
           def get_config(self) -> dict:
               return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                       "kernel_size": self.kernel_size, "bias": self.bias is not None}

   Every public Module class exported by ``retrograd.nn`` that has a ``get_config``
   method is registered automatically under its class name: nothing else to do.
2. **A one-line entry** in ``_BUILTIN_CONFIGS`` below, for built-in layers whose
   arguments are plain attributes: ``"Dropout": attrs("p")``. Optionally add a
   ``_BUILTIN_NUMEL`` entry (config -> number of parameter/buffer elements the
   constructor will allocate) so ``rg.load`` can refuse an absurd architecture BEFORE
   allocating; without one, sizes are still checked exactly, but after construction.
3. **User-defined Modules**: decorate the class with ``@rg.io.register_module`` (and give
   it ``get_config()`` if its constructor takes arguments). Register it again in the
   program that loads the file, before calling ``rg.load``.

Configs must hold only what the constructor needs; weights travel separately by their
``state_dict`` names. ``retrograd.nn`` never imports this module (``io`` sits below
``nn`` in the layering), which is why built-ins are found by name here.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import is_int
from ..errors import ModelFileError

__all__ = [
    "register_module",
    "unregister_module",
    "registered_modules",
    "attrs",
    "module_to_config",
    "config_to_module",
    "estimate_numel",
    "MAX_MODULES",
    "MAX_CONFIG_DEPTH",
    "MAX_FILE_ITERATIONS",
    "file_limits",
    "FILE_DTYPES",
]

MAX_MODULES = 100_000  # layers in one architecture
MAX_CONFIG_DEPTH = 32  # modules nested inside modules
# Iteration counts a model file may ask for (fixed-point relaxations): with tol=0 a layer
# runs all of them on every call, so an unbounded count would hang whoever loads it.
MAX_FILE_ITERATIONS = 100_000


def file_limits() -> dict:
    """{argument name: the largest value a model file may give it}: the fixed-point
    solver's options that time or memory grow with (declared with the options in
    ``retrograd.nn.fixedpoint.SOLVER_OPTIONS``), checked in every layer's config.

    Example::

        >>> file_limits()["max_iter"]
        100000
    """
    from ..nn.fixedpoint import SOLVER_OPTIONS

    out = {"max_iter": MAX_FILE_ITERATIONS, "backward_max_iter": MAX_FILE_ITERATIONS}
    for name, opt in SOLVER_OPTIONS.items():
        if opt.file_limit is not None:
            out[name] = opt.file_limit
    return out


def _over_limit(key: str, v: Any, limits: dict) -> bool:
    # Any number counts (a float 1e9 must not slip past an isinstance(v, int) test).
    return (
        key in limits and isinstance(v, (int, float)) and not isinstance(v, bool)
        and v > limits[key]
    )  # fmt: skip


# The only dtype strings a file's architecture may name (NumPy would also accept
# sub-array dtypes such as "(100000000,)f4", which multiply every allocation).
FILE_DTYPES = ("float32", "float64")


# ------------------------------------------------------------- built-in table
def attrs(*names: str, **computed: Callable[[Any], Any]) -> Callable[[Any], dict]:
    """A config extractor reading constructor arguments from same-named attributes.

    ``computed`` maps an argument to a function of the module, e.g.
    ``attrs("in_features", "out_features", bias=lambda m: m.bias is not None)``.
    """

    def get_config(module: Any) -> dict:
        out = {}
        for n in names:
            if not hasattr(module, n):
                raise TypeError(
                    f"cannot save {type(module).__name__}: it has no attribute {n!r} to record "
                    f"as a constructor argument; give the class a get_config() method"
                )
            out[n] = getattr(module, n)
        for n, fn in computed.items():
            out[n] = fn(module)
        return out

    return get_config


def _has_param(name: str) -> Callable[[Any], bool]:
    return lambda m: m._parameters.get(name) is not None


def _sequential_config(m: Any) -> dict:
    return {"names": list(m._modules), "modules": list(m._modules.values())}


def _build_sequential(cls: type, config: dict) -> Any:
    names, modules = config.get("names"), config.get("modules")
    if set(config) != {"names", "modules"} or not isinstance(names, list):
        raise TypeError("Sequential config must be {'names': [...], 'modules': [...]}")
    if not isinstance(modules, list) or len(names) != len(modules):
        raise TypeError("Sequential config: 'names' and 'modules' must be lists of one length")
    if not all(isinstance(n, str) and n and "." not in n for n in names):
        raise TypeError("Sequential config: child names must be non-empty strings without '.'")
    if len(set(names)) != len(names):
        raise TypeError("Sequential config: child names repeat")
    from ..nn.module import Module

    if not all(isinstance(m, Module) for m in modules):
        raise TypeError("Sequential config: 'modules' must all be layers")
    return cls(OrderedDict(zip(names, modules)))


_no_args = attrs()

# Name in retrograd.nn -> config extractor. One line per layer (see the module docstring).
_BUILTIN_CONFIGS: dict[str, Callable[[Any], dict]] = {
    "Linear": attrs("in_features", "out_features", bias=_has_param("bias")),
    "ReLU": _no_args,
    "Tanh": _no_args,
    "Sigmoid": _no_args,
    "Identity": _no_args,
    "LeakyReLU": attrs("negative_slope"),
    "GELU": attrs("approximate"),
    "Softplus": attrs("beta", "threshold"),
    "Softmax": attrs("dim"),
    "LogSoftmax": attrs("dim"),
    "Flatten": attrs("start_dim", "end_dim"),
    "Dropout": attrs("p"),
    "Sequential": _sequential_config,
    "ModuleList": lambda m: {"modules": list(m._modules.values())},
    # Recurrent layers keep their constructor arguments as same-named attributes. (A
    # get_config() method on the class, if it has one, takes precedence over these.)
    "RNN": attrs(
        "input_size",
        "hidden_size",
        "num_layers",
        "nonlinearity",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
    ),
    "LSTM": attrs(
        "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"
    ),
    "GRU": attrs(
        "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"
    ),
    "RNNCell": attrs("input_size", "hidden_size", "bias", "nonlinearity"),
    "LSTMCell": attrs("input_size", "hidden_size", "bias"),
    "GRUCell": attrs("input_size", "hidden_size", "bias"),
}

# Name -> constructor other than cls(**config).
_BUILTIN_BUILDERS: dict[str, Callable[[type, dict], Any]] = {"Sequential": _build_sequential}


def _positive_int(config: dict, key: str) -> int:
    # Plain ints only (a JSON file gives no NumPy ints); a TypeError, as for any bad entry.
    v = config.get(key)
    if not isinstance(v, int) or not is_int(v) or v <= 0:
        raise TypeError(f"{key} must be a positive int, got {v!r}")
    return v


def _linear_numel(config: dict) -> int:
    fan_in, fan_out = _positive_int(config, "in_features"), _positive_int(config, "out_features")
    return fan_out * fan_in + (fan_out if config.get("bias", True) else 0)


def _int_list(v: Any, n: int, key: str) -> list[int]:
    items = [v] * n if isinstance(v, int) and not isinstance(v, bool) else v
    if not isinstance(items, list) or len(items) != n:
        raise TypeError(f"{key} must be an int or a list of {n} ints, got {v!r}")
    return [_positive_int({key: x}, key) for x in items]


def _conv2d_numel(config: dict) -> int:
    c_in, c_out = _positive_int(config, "in_channels"), _positive_int(config, "out_channels")
    kh, kw = _int_list(config.get("kernel_size"), 2, "kernel_size")
    groups = config.get("groups", 1)
    groups = (
        groups if isinstance(groups, int) and not isinstance(groups, bool) and groups > 0 else 1
    )
    return c_out * (c_in // groups) * kh * kw


def _conv_numel(n: int, transposed: bool) -> Callable[[dict], int]:
    """Weight elements of a 1-D/2-D (transposed) convolution: in * out / groups * prod(k)."""

    def numel(config: dict) -> int:
        c_in, c_out = _positive_int(config, "in_channels"), _positive_int(config, "out_channels")
        kernel = math.prod(_int_list(config.get("kernel_size"), n, "kernel_size"))
        groups = config.get("groups", 1)
        ok = isinstance(groups, int) and not isinstance(groups, bool) and groups > 0
        groups = groups if ok else 1
        return (c_in * (c_out // groups) if transposed else c_out * (c_in // groups)) * kernel

    return numel


def _batchnorm_numel(config: dict) -> int:
    c = _positive_int(config, "num_features")
    return c * (
        2 * bool(config.get("affine", True)) + 2 * bool(config.get("track_running_stats", True))
    )


def _groupnorm_numel(config: dict) -> int:
    return 2 * _positive_int(config, "num_channels") if config.get("affine", True) else 0


def _instancenorm_numel(config: dict) -> int:
    c = _positive_int(config, "num_features")
    return c * (2 * bool(config.get("affine", False))
                + 2 * bool(config.get("track_running_stats", False)))  # fmt: skip


def _layernorm_numel(config: dict) -> int:
    shape = config.get("normalized_shape")
    dims = [shape] if isinstance(shape, int) else shape
    if not isinstance(dims, list) or not 1 <= len(dims) <= 32:
        raise TypeError(f"normalized_shape must be an int or a list of ints, got {shape!r}")
    size = math.prod(_positive_int({"d": d}, "d") for d in dims)
    return size if config.get("elementwise_affine", True) else 0


def _rnn_numel(gates: int) -> Callable[[dict], int]:
    def numel(config: dict) -> int:
        n_in, h = _positive_int(config, "input_size"), _positive_int(config, "hidden_size")
        layers = _positive_int(config, "num_layers") if "num_layers" in config else 1
        directions = 2 if config.get("bidirectional", False) else 1
        total = 0
        for layer in range(layers):  # weight_ih + weight_hh, the part always allocated
            width = n_in if layer == 0 else h * directions
            total += directions * gates * h * (width + h)
        return total

    return numel


def _recurrent_net_numel(config: dict) -> int:
    n_in = _positive_int(config, "n_in")
    n = config.get("n_hidden", 0) + _positive_int(config, "n_out")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise TypeError("n_hidden must be a non-negative int")
    return n * n + n * n_in + n


def _embedding_numel(config: dict) -> int:
    return _positive_int(config, "num_embeddings") * _positive_int(config, "embedding_dim")


def _optional_dim(config: dict, key: str, default: int) -> int:
    return default if config.get(key) is None else _positive_int(config, key)


def _mha_numel(config: dict) -> int:
    # Projection matrices only (biases are optional): q, k, v in, then out (E, E).
    e = _positive_int(config, "embed_dim")
    return e * (e + _optional_dim(config, "kdim", e) + _optional_dim(config, "vdim", e) + e)


def _transformer_layer_numel(attentions: int) -> Callable[[dict], int]:
    def numel(config: dict) -> int:
        d = _positive_int(config, "d_model")
        ff = _positive_int(config, "dim_feedforward") if "dim_feedforward" in config else 2048
        # attention blocks (4 d x d matrices each), the two feed-forward matrices, and the
        # LayerNorm weights (one per block).
        return attentions * 4 * d * d + 2 * d * ff + (attentions + 1) * d

    return numel


def _no_weights(config: dict) -> int:
    """Layers whose constructor allocates no parameters or buffers."""
    return 0


def _square_cell_numel(config: dict) -> int:
    return _positive_int(config, "hidden_size") ** 2


def _equilibrium_numel(config: dict) -> int:
    n_in, h = _positive_int(config, "in_features"), _positive_int(config, "hidden_size")
    n_out = _positive_int(config, "out_features")
    return n_in * h + h + h * h + h * n_out + n_out


def _sequence_classifier_numel(config: dict) -> int:
    _positive_int(config, "seq_len")
    n_in, h = _positive_int(config, "input_size"), _positive_int(config, "hidden_size")
    n_out = _positive_int(config, "out_features")
    return 4 * h * (n_in + h + 2) + h * n_out + n_out  # LSTM weights + both biases


def _stack_numel(layer_key: str) -> Callable[[dict], int]:
    """A stack deep-copies its layer num_layers times: the copies beyond the one in the
    config (which the walker counts itself) are announced here, before any is built."""

    def numel(config: dict) -> int:
        layers = _positive_int(config, "num_layers")
        node = config.get(layer_key)
        inner = node.get("module") if isinstance(node, dict) else None
        if not isinstance(inner, dict):
            raise TypeError(f"{layer_key} must be a layer")
        estimate = _BUILTIN_NUMEL.get(inner.get("type"))
        inner_config = inner.get("config")
        if estimate is None or not isinstance(inner_config, dict):
            return 0
        return (layers - 1) * estimate(inner_config)

    return numel


def _transformer_numel(config: dict) -> int:
    enc = _positive_int(config, "num_encoder_layers") if "num_encoder_layers" in config else 6
    dec = _positive_int(config, "num_decoder_layers") if "num_decoder_layers" in config else 6
    layer = {"d_model": config.get("d_model", 512), "dim_feedforward": config.get(
        "dim_feedforward", 2048)}  # fmt: skip
    return enc * _transformer_layer_numel(1)(layer) + dec * _transformer_layer_numel(2)(layer)


# Name -> a LOWER BOUND on the parameter + buffer elements the constructor allocates
# (optional). rg.load compares the sum with the elements the file holds before building
# anything, so a hostile file cannot request Linear(10**6, 10**6). Never overestimate:
# a valid file would be refused.
_BUILTIN_NUMEL: dict[str, Callable[[dict], int]] = {
    "Linear": _linear_numel,
    "Conv2d": _conv2d_numel,
    "BatchNorm1d": _batchnorm_numel,
    "BatchNorm2d": _batchnorm_numel,
    "LayerNorm": _layernorm_numel,
    "RNN": _rnn_numel(1),
    "LSTM": _rnn_numel(4),
    "GRU": _rnn_numel(3),
    "RNNCell": _rnn_numel(1),
    "LSTMCell": _rnn_numel(4),
    "GRUCell": _rnn_numel(3),
    "RecurrentNet": _recurrent_net_numel,
    "Embedding": _embedding_numel,
    "GroupNorm": _groupnorm_numel,
    "InstanceNorm2d": _instancenorm_numel,
    "Conv1d": _conv_numel(1, False),
    "ConvTranspose1d": _conv_numel(1, True),
    "ConvTranspose2d": _conv_numel(2, True),
    "MultiheadAttention": _mha_numel,
    "TransformerEncoderLayer": _transformer_layer_numel(1),
    "TransformerDecoderLayer": _transformer_layer_numel(2),
    "TransformerEncoder": _stack_numel("encoder_layer"),
    "TransformerDecoder": _stack_numel("decoder_layer"),
    "Transformer": _transformer_numel,
    "NormBoundedTanhCell": _square_cell_numel,
    "EquilibriumClassifier": _equilibrium_numel,
    "SequenceClassifier": _sequence_classifier_numel,
    # The cell (a nested layer) is counted on its own.
    "FixedPoint": _no_weights,
    "PReLU": lambda c: _positive_int(
        {"num_parameters": c.get("num_parameters", 1)}, "num_parameters"
    ),  # fmt: skip
}
# Registered built-in layers allocating no weights (listed so that "every built-in layer
# is sized before construction" can be checked by a test).
_WEIGHTLESS = (
    "ReLU Tanh Sigmoid Identity LeakyReLU GELU Softplus Softmax LogSoftmax Flatten Dropout "
    "Sequential ModuleList AdaptiveAvgPool2d AvgPool2d CELU CosineSimilarity Dropout2d ELU "
    "Hardsigmoid Hardswish Hardtanh InputReshape LogSigmoid MaxPool2d Mish PixelShuffle "
    "PixelUnshuffle ReLU6 SELU SiLU Softmin Softsign Upsample UpsamplingBilinear2d "
    "UpsamplingNearest2d AdaptiveAvgPool1d AvgPool1d MaxPool1d GLU Unflatten Fold Unfold "
    "AdaptiveMaxPool2d"
)
_BUILTIN_NUMEL.update(dict.fromkeys(_WEIGHTLESS.split(), _no_weights))


# ----------------------------------------------------------------- registry
@dataclass(frozen=True)
class _Entry:
    name: str
    cls: type
    get_config: Callable[[Any], dict] | None  # None: call module.get_config()
    build: Callable[[type, dict], Any] | None  # None: cls(**config)
    numel: Callable[[dict], int] | None
    builtin: bool = False


_LOCK = threading.RLock()
_BY_NAME: dict[str, _Entry] = {}
_BY_CLASS: dict[type, _Entry] = {}
_BUILTINS_LOADED = [False]


def _add(entry: _Entry, replace: bool) -> None:
    old = _BY_NAME.get(entry.name)
    if old is not None and old.cls is not entry.cls and not replace:
        same_source = (old.cls.__module__, old.cls.__qualname__) == (
            entry.cls.__module__,
            entry.cls.__qualname__,
        )
        if old.builtin or not same_source:
            raise ValueError(
                f"register_module: the name {entry.name!r} is already taken by "
                f"{old.cls.__module__}.{old.cls.__qualname__}; pass name='...' to register "
                f"{entry.cls.__qualname__} under another name (or replace=True)"
            )
    if old is not None:
        _BY_CLASS.pop(old.cls, None)
    _BY_NAME[entry.name] = entry
    _BY_CLASS[entry.cls] = entry


def _load_builtins() -> None:
    with _LOCK:
        if _BUILTINS_LOADED[0]:
            return
        from .. import nn
        from ..nn.module import Module

        namespace = dict(vars(nn))
        for name, get_config in _BUILTIN_CONFIGS.items():
            cls = namespace.get(name)  # a name from the table above, never from a file
            if isinstance(cls, type) and issubclass(cls, Module):
                _add(
                    _Entry(
                        name,
                        cls,
                        None if hasattr(cls, "get_config") else get_config,
                        _BUILTIN_BUILDERS.get(name),
                        _BUILTIN_NUMEL.get(name),
                        True,
                    ),
                    replace=True,
                )
        # Layers added later (conv, recurrent, fixed point...) register themselves simply by
        # defining get_config() and being exported from retrograd.nn.
        for name, cls in sorted(namespace.items()):
            if (
                isinstance(cls, type)
                and issubclass(cls, Module)
                and name == cls.__name__
                and name not in _BY_NAME
                and callable(getattr(cls, "get_config", None))
            ):
                _add(_Entry(name, cls, None, None, _BUILTIN_NUMEL.get(name), True), replace=True)
        _BUILTINS_LOADED[0] = True


def register_module(
    cls: type | None = None,
    *,
    name: str | None = None,
    get_config: Callable[[Any], dict] | None = None,
    build: Callable[[type, dict], Any] | None = None,
    numel: Callable[[dict], int] | None = None,
    replace: bool = False,
) -> Any:
    """Allow :func:`retrograd.save`/:func:`retrograd.load` to handle a Module class.

    Use as ``@register_module``, ``@register_module(name="MyNet")`` or as a plain call
    ``register_module(MyNet, get_config=lambda m: {...})``. The class is rebuilt as
    ``cls(**config)`` (or ``build(cls, config)``) where ``config`` comes from
    ``get_config`` if given, else from the instance's ``get_config()`` method, else is
    empty (only allowed when the constructor needs no arguments). ``numel(config)``, if
    given, returns how many parameter/buffer elements the constructor allocates, so a
    hostile file can be refused before allocating. Returns the class unchanged.

    Example::

        >>> import retrograd as rg
        >>> @rg.io.register_module
        ... class Scale(rg.nn.Module):
        ...     def __init__(self, factor=2.0):
        ...         super().__init__()
        ...         self.factor = factor
        ...     def get_config(self):
        ...         return {"factor": self.factor}
        ...     def forward(self, x):
        ...         return x * self.factor
        >>> "Scale" in rg.io.registered_modules()
        True
    """

    def decorate(klass: type) -> type:
        from ..nn.module import Module

        if not (isinstance(klass, type) and issubclass(klass, Module)):
            raise TypeError(f"register_module: expected a Module subclass, got {klass!r}")
        key = klass.__name__ if name is None else name
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"register_module: name must be an identifier, got {key!r}")
        _load_builtins()
        with _LOCK:
            _add(_Entry(key, klass, get_config, build, numel), replace)
        return klass

    return decorate if cls is None else decorate(cls)


def unregister_module(name: str) -> None:
    """Remove a user registration (built-in layers cannot be removed)."""
    _load_builtins()
    with _LOCK:
        entry = _BY_NAME.get(name)
        if entry is None:
            raise KeyError(f"unregister_module: {name!r} is not registered")
        if entry.builtin:
            raise ValueError(f"unregister_module: {name!r} is a built-in layer")
        del _BY_NAME[name]
        _BY_CLASS.pop(entry.cls, None)


def registered_modules() -> dict[str, type]:
    """A copy of the registry: ``{name in files: class}``."""
    _load_builtins()
    with _LOCK:
        return {n: e.cls for n, e in _BY_NAME.items()}


# ------------------------------------------------------------------- save side
def _config_value(v: Any, where: str, depth: int) -> Any:
    from ..nn.module import Module

    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            raise ValueError(f"cannot save {where}: non-finite float {v!r}")
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Module):
        return {"module": _to_node(v, where, depth + 1)}
    if isinstance(v, (list, tuple)):
        return [_config_value(x, f"{where}[{i}]", depth) for i, x in enumerate(v)]
    raise TypeError(
        f"cannot save {where}: a {type(v).__name__} is not a valid constructor argument "
        f"(use None, bool, int, float, str, lists of them, or Modules)"
    )


def _to_node(module: Any, where: str, depth: int) -> dict:
    _load_builtins()
    if depth > MAX_CONFIG_DEPTH:
        raise ValueError(f"cannot save {where}: modules nested deeper than {MAX_CONFIG_DEPTH}")
    cls = type(module)
    for hook in (module.__dict__.get("_forward_pre_hooks") or {}).values():
        kind = getattr(hook, "kind", None)
        if kind in ("weight_norm", "spectral_norm"):
            raise TypeError(
                f"cannot save {where}: its '{hook.name}' is reparametrized by {kind}, which a "
                f"model file does not record; call rg.nn.utils.remove_{kind}({where}, "
                f"'{hook.name}') before saving, or save the weights alone with "
                f"rg.io.save_state_dict(model.state_dict(), path)"
            )
        raise TypeError(
            f"cannot save {where}: it has a forward pre-hook ({_short(hook)}), which a model "
            f"file does not record; remove it before saving"
        )
    entry = _BY_CLASS.get(cls)
    if entry is None:
        raise TypeError(
            f"cannot save {where}: {cls.__module__}.{cls.__qualname__} is not registered; "
            f"decorate the class with @retrograd.io.register_module (and give it get_config() "
            f"if its constructor takes arguments), or save only its weights with "
            f"rg.io.save_state_dict(model.state_dict(), path)"
        )
    if entry.get_config is not None:
        config = entry.get_config(module)
    elif callable(getattr(module, "get_config", None)):
        config = module.get_config()
    else:
        required = [
            p.name
            for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if required:
            raise TypeError(
                f"cannot save {where}: {cls.__qualname__}.__init__ requires {required}; add a "
                f"get_config() method returning them"
            )
        config = {}
    if not isinstance(config, dict) or not all(
        isinstance(k, str) and k.isidentifier() for k in config
    ):
        raise TypeError(
            f"cannot save {where}: get_config() of {cls.__qualname__} must return a dict with "
            f"identifier keys, got {config!r}"
        )
    limits = file_limits()
    for key, v in config.items():
        if _over_limit(key, v, limits):
            raise ValueError(
                f"cannot save {where}: {key}={v} is more than a model file may ask for "
                f"({limits[key]}); lower it before saving"
            )
    return {
        "type": entry.name,
        "config": {k: _config_value(v, f"{where}.{k}", depth) for k, v in config.items()},
    }


def module_to_config(module: Any) -> dict:
    """The architecture of ``module`` as a JSON-able node ``{"type", "config"}``.

    Example::

        >>> import retrograd as rg
        >>> module_to_config(rg.nn.Linear(3, 2))
        {'type': 'Linear', 'config': {'in_features': 3, 'out_features': 2, 'bias': True}}
    """
    return _to_node(module, type(module).__name__, 0)


# ------------------------------------------------------------------- load side
class _Walker:
    """Validates an untrusted architecture tree, then builds it (two separate passes)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0
        self.limits = file_limits()

    def fail(self, where: str, msg: str) -> ModelFileError:
        return ModelFileError(f"{self.what}: architecture at {where}: {msg}")

    def check_node(self, node: Any, where: str, depth: int) -> int:
        """Validate a node and return the element count its layers announce (or 0)."""
        if depth > MAX_CONFIG_DEPTH:
            raise self.fail(where, f"modules nested deeper than {MAX_CONFIG_DEPTH}")
        self.count += 1
        if self.count > MAX_MODULES:
            raise self.fail(where, f"more than {MAX_MODULES} modules")
        if not isinstance(node, dict) or set(node) != {"type", "config"}:
            raise self.fail(where, "a layer must be an object with exactly 'type' and 'config'")
        name, config = node["type"], node["config"]
        if not isinstance(name, str):
            raise self.fail(where, f"'type' must be a string, got {type(name).__name__}")
        entry = _BY_NAME.get(name)
        if entry is None:
            raise self.fail(
                where,
                f"unknown layer type {name[:60]!r}; known: {sorted(_BY_NAME)}. If it is your own "
                f"Module, decorate its class with @retrograd.io.register_module in the program "
                f"that loads the file",
            )
        if not isinstance(config, dict):
            raise self.fail(where, f"'config' of {name} must be an object")
        total = 0
        for k, v in config.items():
            if not k.isidentifier():
                raise self.fail(where, f"{name} argument name {k[:40]!r} is not an identifier")
            self.check_bound(name, k, v, where)
            total += self.check_value(v, f"{where}.{k}", depth)
        if entry.numel is not None:
            try:
                own = int(entry.numel(config))
            except Exception as e:  # a malformed config makes the estimator fail: say so
                raise self.fail(where, f"invalid {name} arguments: {e}") from None
            total += own
        return total

    def check_bound(self, name: str, key: str, v: Any, where: str) -> None:
        """What a file may ask of a layer: documented in docs/model-files.md."""
        if key == "dtype" and v is not None and v not in FILE_DTYPES:
            raise self.fail(
                where, f"{name} dtype {str(v)[:60]!r} is not one of {list(FILE_DTYPES)}"
            )
        if _over_limit(key, v, self.limits):
            raise self.fail(
                where,
                f"{name} {key}={v} is more than a model file may ask for "
                f"({self.limits[key]}); lower it before saving",
            )

    def check_value(self, v: Any, where: str, depth: int) -> int:
        if v is None or isinstance(v, (bool, int, str)):
            return 0
        if isinstance(v, float):
            if not math.isfinite(v):
                raise self.fail(where, "non-finite float")
            return 0
        if isinstance(v, list):
            return sum(self.check_value(x, f"{where}[{i}]", depth) for i, x in enumerate(v))
        if isinstance(v, dict) and set(v) == {"module"}:
            return self.check_node(v["module"], where, depth + 1)
        raise self.fail(
            where, "constructor arguments must be JSON scalars, lists or {'module': layer}"
        )

    def build_node(self, node: dict, where: str) -> Any:
        from ..nn.module import Module

        entry = _BY_NAME[node["type"]]
        config = {k: self.build_value(v, f"{where}.{k}") for k, v in node["config"].items()}
        try:
            if entry.build is not None:
                module = entry.build(entry.cls, config)
            else:
                module = entry.cls(**config)
        except Exception as e:  # any constructor complaint is a property of the file
            raise self.fail(
                where, f"{entry.name}(**{_short(node['config'])}) failed: {type(e).__name__}: {e}"
            ) from None
        if not isinstance(module, Module):
            raise self.fail(where, f"{entry.name} did not build a Module")
        _check_tree(module, lambda msg: self.fail(where, f"{entry.name}: {msg}"))
        return module

    def build_value(self, v: Any, where: str) -> Any:
        if isinstance(v, list):
            return [self.build_value(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, dict):
            return self.build_node(v["module"], where)
        return v


def _check_tree(module: Any, fail: Callable[[str], Exception]) -> None:
    """A constructor fed odd (but JSON-valid) arguments must still give a sound tree."""
    from ..autograd.tensor import Tensor
    from ..nn.module import Module, Parameter

    stack, seen = [module], set()
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        stores = [
            getattr(m, "__dict__", {}).get(k) for k in ("_parameters", "_buffers", "_modules")
        ]
        if not all(isinstance(d, dict) for d in stores):
            raise fail("a module lacks its parameter/buffer/child registries")
        params, buffers, children = stores
        if not all(isinstance(k, str) for d in stores for k in d):
            raise fail("a registry key is not a string")
        if not all(p is None or isinstance(p, Parameter) for p in params.values()):
            raise fail("a registered parameter is not a Parameter")
        if not all(b is None or isinstance(b, Tensor) for b in buffers.values()):
            raise fail("a registered buffer is not a Tensor")
        for c in children.values():
            if c is None:
                continue
            if not isinstance(c, Module):
                raise fail(f"a child is a {type(c).__name__}, not a Module")
            stack.append(c)


def _short(obj: Any) -> str:
    s = repr(obj)
    return s if len(s) <= 200 else s[:200] + "..."


def estimate_numel(node: Any, what: str) -> int:
    """Validate an untrusted architecture node; return the elements its layers announce.

    Layers without a ``numel`` estimator count as 0. Raises ModelFileError.
    """
    _load_builtins()
    try:
        return _Walker(what).check_node(node, "model", 0)
    except RecursionError:
        raise ModelFileError(f"{what}: architecture nested too deeply") from None


def config_to_module(node: Any, what: str = "architecture") -> Any:
    """Build a Module from a node made by :func:`module_to_config` (validated first).

    Only classes in the registry are ever called. Raises ModelFileError.

    Example::

        >>> import retrograd as rg
        >>> m = config_to_module({"type": "Linear", "config": {"in_features": 3,
        ...                                                    "out_features": 2}})
        >>> m.weight.shape
        (2, 3)
    """
    estimate_numel(node, what)
    return _Walker(what).build_node(node, "model")
