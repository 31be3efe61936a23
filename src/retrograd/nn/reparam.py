"""Weight reparametrizations with PyTorch's classic layout: weight_norm and spectral_norm.

``weight_norm`` replaces a parameter ``w`` by ``w_g`` and ``w_v`` with
``w = w_g * w_v / ||w_v||``; ``spectral_norm`` keeps ``w_orig`` and two buffers ``w_u``,
``w_v`` and uses ``w = w_orig / sigma``, ``sigma = u^T W v`` estimated by power iteration.
The weight is recomputed from them by a forward pre-hook before every call of the module,
with retrograd ops, so gradients reach ``w_g``/``w_v`` (``w_orig``). The names and order
of the ``state_dict`` entries are PyTorch's (``torch.nn.utils.weight_norm`` /
``spectral_norm``), so state dicts load both ways.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from ..autograd.inplace import mark_modified
from ..autograd.tensor import Tensor
from .module import Module, Parameter


def _check_name(who: str, module: Any, name: Any) -> Parameter:
    if not isinstance(module, Module):
        raise TypeError(f"{who}: module must be a retrograd.nn.Module, got {type(module).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"{who}: name must be a str, got {type(name).__name__}")
    for hook in module.__dict__.get("_forward_pre_hooks", {}).values():
        if isinstance(hook, (WeightNorm, SpectralNorm)) and hook.name == name:
            raise RuntimeError(
                f"{who}: {type(module).__name__}.{name} is already reparametrized by "
                f"{hook.kind}; cannot register two reparametrizations on the same parameter"
            )
    p = module._parameters.get(name)
    if p is None:
        have = [n for n, q in module._parameters.items() if q is not None]
        raise ValueError(
            f"{who}: name={name!r} is not a parameter of {type(module).__name__}; expected one "
            f"of {have}"
        )
    return p


def _check_dim(who: str, dim: Any, ndim: int, allow_none: bool) -> int | None:
    if dim is None and allow_none:
        return None
    if isinstance(dim, bool) or not isinstance(dim, int) or not -ndim <= dim < max(ndim, 1):
        raise ValueError(
            f"{who}: dim must be an int in [{-ndim}, {max(ndim, 1) - 1}]"
            f"{' or None' if allow_none else ''} for a {ndim}-d weight, got {dim!r}"
        )
    return dim


def _register(module: Module, hook: Any, name: str) -> None:
    hook.handle = module.register_forward_pre_hook(hook)
    names = module.__dict__.get("_reparametrized")
    if names is None:
        names = []
        object.__setattr__(module, "_reparametrized", names)
    names.append(name)


def _unregister(module: Module, hook: Any) -> None:
    hook.handle.remove()
    module.__dict__["_reparametrized"].remove(hook.name)


def _find(who: str, kind: type, module: Any, name: str) -> Any:
    hooks = module.__dict__.get("_forward_pre_hooks", {}) if isinstance(module, Module) else {}
    for hook in hooks.values():
        if isinstance(hook, kind) and hook.name == name:
            return hook
    raise ValueError(f"{who}: {kind.kind} of {name!r} not found in {type(module).__name__}")


# ------------------------------------------------------------------ weight norm
class WeightNorm:
    """The pre-hook of :func:`weight_norm` (its ``name`` and ``dim``)."""

    kind = "weight_norm"
    # Only retrograd ops on the parameters: a compiled step records and replays them.
    capture_safe = True

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = dim

    def _norm(self, v: Any) -> Any:
        """``norm_except_dim(v, 2, dim)``: the 2-norm over every axis but ``dim``."""
        sq = v * v
        if self.dim is None:
            return sq.sum().sqrt() if isinstance(sq, Tensor) else xp.sqrt(sq.sum())
        axes = tuple(a for a in range(v.ndim) if a != self.dim % v.ndim)
        if isinstance(sq, Tensor):
            return sq.sum(dim=axes, keepdim=True).sqrt() if axes else sq.abs().sqrt()
        return xp.sqrt(sq.sum(axis=axes, keepdims=True))

    def compute_weight(self, module: Module) -> Tensor:
        g = module._parameters[self.name + "_g"]
        v = module._parameters[self.name + "_v"]
        return v * (g / self._norm(v))

    def __call__(self, module: Module, args: tuple) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (``torch.nn.utils.weight_norm``).

    The parameter is replaced by ``<name>_g`` (the norms, shape of the weight with every
    axis but ``dim`` of size 1; a 0-d scalar when ``dim`` is None, the norm of the whole
    tensor; ``dim=-1`` also means the whole tensor, as in PyTorch) and ``<name>_v`` (the
    direction, initialized to the weight). The weight is recomputed before every forward,
    differentiably. Returns the module. Undo with :func:`remove_weight_norm`.

    ``rg.save`` refuses a model with a reparametrized layer (with a message saying so):
    call :func:`remove_weight_norm` first, or save the weights alone with
    ``rg.io.save_state_dict(model.state_dict(), path)``, whose keys are PyTorch's.
    ``retrograd.train.compile_step`` (used by ``fit``) records and replays it.

    Example::

        >>> import retrograd as rg
        >>> lin = rg.nn.utils.weight_norm(rg.nn.Linear(3, 2))
        >>> list(lin.state_dict())
        ['bias', 'weight_g', 'weight_v']
        >>> lin.weight_g.shape
        (2, 1)
    """
    who = "weight_norm"
    weight = _check_name(who, module, name)
    if dim == -1:
        dim = None
    dim = _check_dim(who, dim, weight.ndim, allow_none=True)
    fn = WeightNorm(name, dim)
    g = fn._norm(weight.data)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(xp.asarray(g, dtype=weight.data.dtype)))
    module.register_parameter(name + "_v", Parameter(weight.data.copy()))
    object.__setattr__(module, name, fn.compute_weight(module))
    _register(module, fn, name)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`weight_norm`: ``<name>`` is a plain Parameter again (current value).

    Example::

        >>> import retrograd as rg
        >>> lin = rg.nn.utils.remove_weight_norm(rg.nn.utils.weight_norm(rg.nn.Linear(3, 2)))
        >>> list(lin.state_dict())
        ['bias', 'weight']
    """
    fn = _find("remove_weight_norm", WeightNorm, module, name)
    weight = fn.compute_weight(module).data.copy()
    _unregister(module, fn)
    module.__dict__.pop(name, None)
    del module._parameters[name + "_g"]
    del module._parameters[name + "_v"]
    module.register_parameter(name, Parameter(weight))
    return module


# ---------------------------------------------------------------- spectral norm
def _normalize(x: Any, eps: float) -> Any:
    return x / max(float(xp.sqrt(xp.dot(x, x))), eps)


class SpectralNorm:
    """The pre-hook of :func:`spectral_norm` (``name``, ``n_power_iterations``, ...)."""

    kind = "spectral_norm"
    # The power iteration updates the u/v buffers outside the recorded ops (training
    # mode), which a replayed graph would not repeat: compiled steps run eagerly.
    capture_safe = False

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        self.name = name
        self.n_power_iterations = n_power_iterations
        self.dim = dim
        self.eps = eps

    def to_matrix(self, w: Any) -> Any:
        if self.dim != 0:
            order = [self.dim] + [d for d in range(w.ndim) if d != self.dim]
            w = w.permute(*order) if isinstance(w, Tensor) else w.transpose(order)
        return w.reshape(w.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = module._parameters[self.name + "_orig"]
        u_buf = module._buffers[self.name + "_u"]
        v_buf = module._buffers[self.name + "_v"]
        w_mat = self.to_matrix(weight)
        u, v = u_buf.data, v_buf.data
        if do_power_iteration:
            m = w_mat.data
            for _ in range(self.n_power_iterations):
                v[...] = _normalize(m.T @ u, self.eps)
                u[...] = _normalize(m @ v, self.eps)
            mark_modified(u, "spectral_norm", u_buf)
            mark_modified(v, "spectral_norm", v_buf)
            u, v = u.copy(), v.copy()  # sigma's constants, not the buffers updated later
        sigma = (Tensor(u) * (w_mat @ Tensor(v))).sum()
        return weight / sigma

    def __call__(self, module: Module, args: tuple) -> None:
        w = self.compute_weight(module, do_power_iteration=module.training)
        object.__setattr__(module, self.name, w)


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Divide ``module.<name>`` by its spectral norm (``torch.nn.utils.spectral_norm``).

    The weight, seen as a matrix with axis ``dim`` as rows (default 0; 1 for the
    ConvTranspose layers), is divided by ``sigma = u^T W v``, where ``u`` and ``v``
    (buffers ``<name>_u``, ``<name>_v``, drawn from the global generator and normalized)
    are refined by ``n_power_iterations`` steps of the power method before every forward
    in training mode only (in eval mode they stay as they are); ``sigma`` is
    differentiated with ``u``, ``v`` held constant, as in PyTorch. The parameter becomes
    ``<name>_orig`` (the same Parameter object, so an existing optimizer keeps training
    it). This bounds the layer's Lipschitz constant by about 1, e.g. to make a fixed-point
    map contractive. Returns the module. Undo with :func:`remove_spectral_norm`.

    ``rg.save`` refuses a model with a reparametrized layer (with a message saying so):
    call :func:`remove_spectral_norm` first, or save the weights alone with
    ``rg.io.save_state_dict(model.state_dict(), path)``, whose keys are PyTorch's.
    ``retrograd.train.compile_step`` (used by ``fit``) runs such a model eagerly: the
    power iteration updates buffers outside the recorded ops.

    Example::

        >>> import retrograd as rg
        >>> lin = rg.nn.utils.spectral_norm(rg.nn.Linear(3, 2))
        >>> list(lin.state_dict())
        ['bias', 'weight_orig', 'weight_u', 'weight_v']
        >>> import numpy as np
        >>> for _ in range(20):  # training mode: each call refines u and v
        ...     _ = lin(rg.ones(1, 3))
        >>> round(float(np.linalg.norm(lin.weight.data, 2)), 4)
        1.0
    """
    who = "spectral_norm"
    weight = _check_name(who, module, name)
    if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int):
        raise TypeError(
            f"{who}: n_power_iterations must be an int, got {type(n_power_iterations).__name__}"
        )
    if n_power_iterations < 1:
        raise ValueError(
            f"{who}: n_power_iterations must be >= 1, got n_power_iterations={n_power_iterations}"
        )
    if (
        isinstance(eps, bool)
        or not isinstance(eps, (int, float))
        or not (math.isfinite(eps) and eps >= 0)
    ):
        raise ValueError(f"{who}: eps must be a finite number >= 0, got {eps!r}")
    if dim is None:
        dim = 1 if type(module).__name__ in ("ConvTranspose1d", "ConvTranspose2d") else 0
    dim = _check_dim(who, dim, weight.ndim, allow_none=False)
    assert dim is not None
    fn = SpectralNorm(name, n_power_iterations, dim % max(weight.ndim, 1), float(eps))
    from ..random import default_generator

    gen = default_generator()
    h, w = fn.to_matrix(weight.data).shape
    dt = weight.data.dtype
    u = _normalize(gen.standard_normal(h).astype(dt), fn.eps).astype(dt)
    v = _normalize(gen.standard_normal(w).astype(dt), fn.eps).astype(dt)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    object.__setattr__(module, name, Tensor(weight.data))
    _register(module, fn, name)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: ``<name>`` is a plain Parameter holding ``w_orig / sigma``.

    Example::

        >>> import retrograd as rg
        >>> lin = rg.nn.utils.spectral_norm(rg.nn.Linear(3, 2))
        >>> list(rg.nn.utils.remove_spectral_norm(lin).state_dict())
        ['bias', 'weight']
    """
    fn = _find("remove_spectral_norm", SpectralNorm, module, name)
    weight = fn.compute_weight(module, do_power_iteration=False).data.copy()
    _unregister(module, fn)
    module.__dict__.pop(name, None)
    del module._buffers[name + "_u"]
    del module._buffers[name + "_v"]
    del module._parameters[name + "_orig"]
    module.register_parameter(name, Parameter(weight))
    return module


__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]
