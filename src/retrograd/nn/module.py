"""Module and Parameter: the containers every layer is built from (PyTorch's semantics)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator

from .._backend import xp
from ..autograd.tensor import Tensor


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
        params, mods, bufs = self._parameters, self._modules, self._buffers
        for d in (params, mods, bufs):
            if name in d and not isinstance(value, (Parameter, Module)) and d is not bufs:
                del d[name]
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
        for key in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[key]:
                del self.__dict__[key][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter, got {type(param)}")
        else:
            self._parameters[name] = param

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Register state that is saved in the state_dict but not trained (running stats)."""
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(xp.asarray(value))
        self._buffers[name] = value
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
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
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, mod = stack.pop(0)
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            for n, m in mod.named_children():
                stack.append((f"{name}.{n}" if name else n, m))

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
        """Copy arrays into this module's parameters and buffers.

        Shapes must match exactly. With ``strict=True`` (default) missing or unexpected
        keys raise a ValueError that lists them; returns ``(missing, unexpected)``.
        """
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
        if strict and (missing or unexpected):
            raise ValueError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected} (was the state_dict saved from another "
                f"architecture?)"
            )
        problems = []
        for k, arr in given.items():
            if k not in own:
                continue
            t = targets[k]
            if arr.shape != t.data.shape:
                problems.append(f"'{k}': checkpoint shape {arr.shape}, model shape {t.data.shape}")
        if problems:
            raise ValueError(
                f"load_state_dict for {type(self).__name__}: shape mismatch for "
                + "; ".join(problems)
            )
        for k, arr in given.items():
            if k not in own:
                continue
            t = targets[k]
            if t.data.dtype.kind == "f" and arr.dtype.kind not in "fiu":
                raise TypeError(f"load_state_dict: '{k}' has dtype {arr.dtype}, expected floats")
            t.data = arr.astype(t.data.dtype, copy=True)
        return missing, unexpected

    # ------------------------------------------------------------------- call
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

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


def _as_array(v: Any) -> Any:
    if isinstance(v, Tensor):
        return v.data
    if hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch.Tensor, without importing torch
        return v.detach().cpu().numpy()
    return xp.asarray(v)


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

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
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
    """A list of Modules whose parameters are registered."""

    def __init__(self, modules: Any = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, idx: int) -> Module:
        return list(self._modules.values())[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
