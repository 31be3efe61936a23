"""Module and Parameter: the containers every layer is built from (PyTorch's semantics)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from .._backend import xp
from ..autograd.inplace import mark_modified
from ..autograd.tensor import Tensor

#: Bumped by every change to any module's attributes, children, parameters, buffers or
#: training mode. A compiled training step (``retrograd.train.compile_step``) replays a
#: recorded graph only while this is the number it saw when it recorded.
STRUCTURE_VERSION = [0]


class Parameter(Tensor):
    """A tensor that a Module registers as a trainable weight (requires_grad by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model.

    Assigning a :class:`Parameter`, a Module or a buffer (``register_buffer``) as an
    attribute registers it, so ``parameters()``, ``state_dict()`` and ``train()/eval()``
    find it. Subclasses implement ``forward``; call the module itself to run it.

    Example::

        >>> import retrograd as rg
        >>> class Net(rg.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = rg.nn.Linear(3, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
        >>> [name for name, _ in Net().named_parameters()]
        ['fc.weight', 'fc.bias']
    """

    #: True when ``forward`` is, for a given input shape, a fixed sequence of retrograd
    #: ops with no other effect (no Python-side state updates, no randomness or branches
    #: on values outside the ops). ``retrograd.train.compile_step`` replays such modules'
    #: recorded graphs; it counts only when declared on the class that defines
    #: ``forward`` (or below it), so overriding ``forward`` in a subclass turns it off.
    capture_safe = False

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        STRUCTURE_VERSION[0] += 1
        params, mods, bufs = self._parameters, self._modules, self._buffers
        if value is None and (name in params or name in mods):
            # As PyTorch: ``self.bias = None`` keeps the slot registered, but empty.
            (params if name in params else mods)[name] = None
            return
        if name in params and not isinstance(value, Parameter):
            raise TypeError(
                f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                f"'{name}' (expected a Parameter or None)"
            )
        if name in mods and not isinstance(value, Module):
            del mods[name]
        if isinstance(value, Parameter):
            mods.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            mods[name] = value
        elif name in bufs:
            if value is not None and not isinstance(value, (Tensor, xp.ndarray)):
                raise TypeError(f"buffer '{name}' must be a Tensor or ndarray, got {type(value)}")
            bufs[name] = value if value is None or isinstance(value, Tensor) else Tensor(value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        STRUCTURE_VERSION[0] += 1
        for key in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[key]:
                del self.__dict__[key][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        STRUCTURE_VERSION[0] += 1
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter, got {type(param)}")
        else:
            self._parameters[name] = param

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Register state that is saved in the state_dict but not trained (running stats)."""
        STRUCTURE_VERSION[0] += 1
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(xp.asarray(value))
        self._buffers[name] = value
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        STRUCTURE_VERSION[0] += 1
        self._modules[name] = module

    # --------------------------------------------------------------- traversal
    def children(self) -> Iterator[Module]:
        for m in self._modules.values():
            if m is not None:
                yield m

    def named_children(self) -> Iterator[tuple]:
        for n, m in self._modules.items():
            if m is not None:
                yield n, m

    def named_modules(self, prefix: str = "") -> Iterator[tuple]:
        # Depth-first pre-order, as PyTorch: it fixes the order of named_parameters() and
        # thus the parameter indices an optimizer's state_dict refers to.
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            kids = [(f"{name}.{n}" if name else n, m) for n, m in mod.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, mod in mods:
            for n, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{n}" if mname else n), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple]:
        for mname, mod in self.named_modules(prefix):
            for n, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mname}.{n}" if mname else n), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    # ------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        STRUCTURE_VERSION[0] += 1
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def to(self, dtype: Any) -> Module:
        """Convert every floating-point parameter and buffer to ``dtype`` in place."""
        dt = xp.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"to: dtype must be a floating-point dtype, got {dt}")
        for p in self.parameters():
            p.data = p.data.astype(dt)
            p.grad = None if p.grad is None else p.grad.astype(dt)
        for _, b in self.named_buffers():
            if b.data.dtype.kind == "f":
                b.data = b.data.astype(dt)
        return self

    def double(self) -> Module:
        return self.to(xp.float64)

    def float(self) -> Module:
        return self.to(xp.float32)

    def apply(self, fn: Any) -> Module:
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # -------------------------------------------------------------- state dict
    def state_dict(self) -> OrderedDict:
        """Parameters and persistent buffers by dotted name, as ndarrays (PyTorch's keys)."""
        out = OrderedDict()
        for mname, mod in self.named_modules():
            for n, p in mod._parameters.items():
                if p is not None:
                    out[f"{mname}.{n}" if mname else n] = p.data
            for n, b in mod._buffers.items():
                if b is not None and n not in mod._non_persistent:
                    out[f"{mname}.{n}" if mname else n] = b.data
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> tuple:
        """Copy arrays (or Tensors, or torch tensors) into the parameters and buffers.

        Values are copied in place and cast to each parameter's dtype. Shapes must match
        exactly. With ``strict=True`` (default) missing or unexpected keys raise a
        ValueError listing them with their shapes; with ``strict=False`` they are skipped.
        Returns ``(missing_keys, unexpected_keys)``. Nothing is modified when it raises.

        Example::

            >>> import retrograd as rg
            >>> a, b = rg.nn.Linear(2, 3), rg.nn.Linear(2, 3)
            >>> b.load_state_dict(a.state_dict())
            ([], [])
            >>> bool((a.weight.data == b.weight.data).all())
            True
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(
                f"load_state_dict for {type(self).__name__}: expected a mapping of names to "
                f"arrays, got {type(state_dict).__name__}"
            )
        own = self.state_dict()
        targets = {}
        for mname, mod in self.named_modules():
            for store in (mod._parameters, mod._buffers):
                for n, t in store.items():
                    if t is not None:
                        targets[f"{mname}.{n}" if mname else n] = t
        given = {k: _as_array(v) for k, v in state_dict.items()}
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        name = type(self).__name__
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(
                    "missing keys " + ", ".join(f"'{k}' {tuple(own[k].shape)}" for k in missing)
                )
            if unexpected:
                parts.append(
                    "unexpected keys "
                    + ", ".join(f"'{k}' {tuple(given[k].shape)}" for k in unexpected)
                )
            raise ValueError(
                f"load_state_dict for {name}: "
                + "; ".join(parts)
                + " (was the state_dict saved from another architecture? "
                "strict=False skips missing and unexpected keys)"
            )
        problems = []
        for k, arr in given.items():
            if k not in own:
                continue
            t = targets[k]
            if arr.shape != t.data.shape:
                problems.append(f"'{k}': state_dict shape {arr.shape}, model shape {t.data.shape}")
            elif t.data.dtype.kind == "f" and arr.dtype.kind not in "fiub":
                problems.append(f"'{k}': dtype {arr.dtype}, expected floating point")
        if problems:
            raise ValueError(
                f"load_state_dict for {name}: size mismatch for " + "; ".join(problems)
            )
        for k, arr in given.items():
            if k in own:
                t = targets[k]
                if t.data.flags.writeable:
                    xp.copyto(t.data, arr, casting="unsafe")
                    mark_modified(t.data, "load_state_dict", t)
                else:
                    t.data = arr.astype(t.data.dtype, copy=True)
        return missing, unexpected

    # ------------------------------------------------------------------- call
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.__dict__.get("_forward_pre_hooks"):
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def register_forward_pre_hook(self, hook: Any) -> RemovableHandle:
        """Run ``hook(module, args)`` before every ``forward`` (PyTorch's pre-hook).

        A hook returning something other than None replaces the positional arguments (a
        tuple, or a single value wrapped in one). Returns a handle whose ``remove()``
        unregisters the hook. A module with pre-hooks is captured by
        ``retrograd.train.compile_step`` only when every hook has ``capture_safe = True``.

        Example::

            >>> import retrograd as rg
            >>> lin = rg.nn.Linear(2, 2)
            >>> handle = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0.0,))
            >>> float(abs(lin(rg.ones(1, 2)) - lin.bias).sum())
            0.0
            >>> handle.remove()
        """
        if not callable(hook):
            raise TypeError(
                f"register_forward_pre_hook: hook must be callable, got {type(hook).__name__}"
            )
        hooks = self.__dict__.get("_forward_pre_hooks")
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, "_forward_pre_hooks", hooks)
        STRUCTURE_VERSION[0] += 1
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        # Reparametrized weights (nn.utils.weight_norm, spectral_norm) are plain attributes
        # computed by their hook; layers read self._parameters["weight"] directly in
        # forward, so the computed tensor stands there for the duration of the call only.
        names = self.__dict__.get("_reparametrized")
        if not names:
            return self.forward(*args, **kwargs)
        params = self._parameters
        for n in names:
            params[n] = self.__dict__[n]
        try:
            return self.forward(*args, **kwargs)
        finally:
            for n in names:
                params.pop(n, None)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def num_parameters(self) -> int:
        return int(sum(p.data.size for p in self.parameters()))


class RemovableHandle:
    """What ``register_forward_pre_hook`` returns: ``remove()`` unregisters the hook."""

    _next_id = [0]

    def __init__(self, hooks: dict) -> None:
        self.hooks = hooks
        self.id = RemovableHandle._next_id[0]
        RemovableHandle._next_id[0] += 1

    def remove(self) -> None:
        STRUCTURE_VERSION[0] += 1
        self.hooks.pop(self.id, None)


def _has_hooks(module: Any) -> bool:
    return bool(module.__dict__.get("_forward_pre_hooks"))


def _as_array(v: Any) -> Any:
    if isinstance(v, Tensor):
        return v.data
    if hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch.Tensor, without importing torch
        return v.detach().cpu().numpy()
    return xp.asarray(v)


#: (type(first), type(second)) -> fn(first, second, x) giving second(first(x)) as one fused
#: node, or None to run the pair as usual. Exact types, so subclasses are never fused;
#: nn.layers registers Linear followed by ReLU, Tanh or Sigmoid.
_FUSED_PAIRS: dict = {}

#: The same for three modules in a row: (type(a), type(b), type(c)) -> fn(a, b, c, x) or
#: None; tried before the pairs. nn.conv registers Conv2d, ReLU, MaxPool2d(2).
_FUSED_TRIPLES: dict = {}


class Sequential(Module):
    """Modules applied one after another; indexable, iterable, ``len``-able.

    Example::

        >>> import retrograd as rg
        >>> net = rg.nn.Sequential(rg.nn.Linear(4, 8), rg.nn.Tanh(), rg.nn.Linear(8, 2))
        >>> net(rg.zeros(3, 4)).shape
        (3, 2)
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: argument {i} is {type(m).__name__}, not a Module")
                self.add_module(str(i), m)

    capture_safe = True

    def forward(self, x: Any) -> Any:
        mods = list(self._modules.values())
        n = len(mods)
        i = 0
        while i < n:
            m = mods[i]
            if i + 2 < n and not any(_has_hooks(k) for k in mods[i : i + 3]):
                fuse3 = _FUSED_TRIPLES.get((type(m), type(mods[i + 1]), type(mods[i + 2])))
                if fuse3 is not None:
                    y = fuse3(m, mods[i + 1], mods[i + 2], x)
                    if y is not None:
                        x = y
                        i += 3
                        continue
            if i + 1 < n and not (_has_hooks(m) or _has_hooks(mods[i + 1])):
                # A pair with a fused form (Linear then ReLU/Tanh/Sigmoid): one graph node
                # instead of two, same results; the helper returns None when it does not
                # apply (odd input, changed parameters) and the modules run one by one.
                fuse = _FUSED_PAIRS.get((type(m), type(mods[i + 1])))
                if fuse is not None:
                    y = fuse(m, mods[i + 1], x)
                    if y is not None:
                        x = y
                        i += 2
                        continue
            x = m(x)
            i += 1
        return x

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*mods[idx])
        return mods[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of Modules whose parameters are registered (names ``"0"``, ``"1"``, ...).

    Example::

        >>> import retrograd as rg
        >>> layers = rg.nn.ModuleList([rg.nn.Linear(2, 2) for _ in range(3)])
        >>> len(list(layers.parameters()))
        6
    """

    # It has no forward of its own (calling it raises): the modules in it are what run, and
    # compile_step checks each of them.
    capture_safe = True

    def __init__(self, modules: Any = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self._check(module, len(self._modules))
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Any) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[idx]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        self._check(module, idx)
        STRUCTURE_VERSION[0] += 1
        self._modules[keys[idx]] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    @staticmethod
    def _check(module: Any, where: Any) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: item {where} is {type(module).__name__}, not a Module")
