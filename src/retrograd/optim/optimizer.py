"""Optimizer base class: parameter groups, state and (pickle-free) state dicts.

The layout follows PyTorch: ``param_groups`` is a list of dicts, each with a ``"params"``
list and its own hyperparameters; ``state`` maps a parameter to a dict of its buffers.
``state_dict()`` names parameters by their position across the groups (0, 1, 2, ...), so
the dict is made of plain Python scalars, lists, dicts and NumPy arrays only.
"""

from __future__ import annotations

import functools
import operator
import sys
from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._checks import check_number, is_int
from ..autograd.engine import GRAPH_GRADS
from ..autograd.inplace import mark_many, root_array
from ..autograd.mode import enable_grad
from ..autograd.tensor import Tensor

_get_data = operator.attrgetter("_data")
_get_grad = operator.attrgetter("grad")
_ravel = operator.methodcaller("ravel")
_is_not_none = functools.partial(operator.is_not, None)


def _refs_of_an_unseen_array() -> int:
    # What sys.getrefcount reports for an array held by one Tensor only, measured the
    # way _flatten_data measures (the count differs between Python versions).
    t = Tensor._wrap(xp.empty(1), False, None)
    return sys.getrefcount(t._data)


_UNSEEN = _refs_of_an_unseen_array()


#: Groups up to this many elements in all may be updated on flat arrays
#: (:meth:`Optimizer._flat_group`): beyond it the per-parameter calls cost little next to
#: the arithmetic itself, and gathering the gradients would cost more than it saves.
FLAT_MAX_ELEMENTS = 1 << 16


def check_betas(group: dict, name: str) -> None:
    """Check (and normalize to floats) a group's ``betas`` pair, each in [0, 1)."""
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        check_number(b, f"betas[{i}]", name, lo=0.0, hi=1.0, hi_open=True)
    group["betas"] = (float(betas[0]), float(betas[1]))


class Optimizer:
    """Base class of the update rules in :mod:`retrograd.optim`.

    ``params`` is an iterable of Parameters, or of dicts (parameter groups) each holding
    ``"params"`` and any hyperparameter that should differ from ``defaults`` for it.

    Example::

        >>> import retrograd as rg
        >>> net = rg.nn.Sequential(rg.nn.Linear(2, 3), rg.nn.Linear(3, 1))
        >>> opt = rg.optim.SGD([{"params": net[0].parameters()},
        ...                     {"params": net[1].parameters(), "lr": 0.01}], lr=0.1)
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
    """

    #: Whether ``step`` must be given a closure that re-evaluates the loss (LBFGS);
    #: ``fit`` reads this instead of checking the class.
    needs_closure: bool = False
    #: Whether this object averages gradients across MPI ranks before stepping a wrapped
    #: optimizer (``distributed.DistributedOptimizer``).
    averages_across_ranks: bool = False

    #: State entries that are arrays of the parameter's shape (checked on load).
    _per_param_buffers: tuple = ()
    #: True on optimizers whose step uses :meth:`_flat_group` (small groups are then laid
    #: out flat when added).
    _flattens = False
    _mark_cache: tuple | None = None

    def __init__(self, params: Iterable[Any], defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: dict = {}
        self._flat: dict = {}  # group index -> flat layout (see _flat_group)
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Parameters or dicts, "
                "got a single Tensor (wrap it in a list)"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # ----------------------------------------------------------------- groups
    #: Each numeric hyperparameter's allowed range (``check_number``'s keywords), checked
    #: for every group by :meth:`_validate_group`; subclasses add their other checks.
    _ranges: dict = {}

    def _validate_group(self, group: dict) -> None:
        """Check one group's hyperparameters: the declared ``_ranges`` (a ValueError naming
        the optimizer, the hyperparameter and its value when out of range)."""
        for name, bounds in self._ranges.items():
            check_number(group[name], name, type(self).__name__, **bounds)
        if "betas" in group:  # the Adam family's pair of moment decays
            check_betas(group, type(self).__name__)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (fine-tuning, freezing)."""
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{type(self).__name__}: a param group must be a dict, got "
                f"{type(param_group).__name__}"
            )
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{type(self).__name__}: param group has no 'params' entry")
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: can only optimize Tensors, but param {i} of the "
                    f"group is a {type(p).__name__}"
                )
            if p.data.dtype.kind != "f":
                raise TypeError(
                    f"{type(self).__name__}: can only optimize floating-point tensors, param "
                    f"{i} has dtype {p.data.dtype}"
                )
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a param group contains a parameter twice")
        if any(id(p) in seen for p in params):
            raise ValueError(
                f"{type(self).__name__}: some parameters appear in more than one parameter group"
            )
        group["params"] = params
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._validate_group(group)
        self.param_groups.append(group)
        self._mark_cache = None
        if self._flattens:
            flat = self._flatten_data(params)
            if flat is not None:
                self._flat[len(self.param_groups) - 1] = flat

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (default, cheaper) or fill with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def _params_with_grad(self, group: dict) -> Iterable[Any]:
        for p in group["params"]:
            if p.grad is not None:
                yield p

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update the parameters once; ``closure`` (optional) recomputes and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if GRAPH_GRADS[0]:
            _grad_values(self.param_groups)
        self._step()
        self._mark_step()
        return loss

    def _mark_step(self) -> None:
        """Record the step as an in-place write to every parameter (autograd.inplace), so a
        backward through a graph recorded before it raises instead of mixing old and new
        values. The parameters' root arrays are cached while ``p.data`` stays the same."""
        cache = self._mark_cache
        if (
            cache is None
            or cache[0] is not self.param_groups
            or not all(map(operator.is_, map(_get_data, cache[1]), cache[2]))
        ):
            params = [p for g in self.param_groups for p in g["params"]]
            arrays = [p._data for p in params]
            roots = list({id(r): r for r in map(root_array, arrays)}.values())
            name = f"{type(self).__name__}.step"
            cache = self._mark_cache = (self.param_groups, params, arrays, roots, name)
        mark_many(cache[3], cache[4])

    def _step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    # --------------------------------------------------------- flat groups
    def _flatten_data(self, params: list) -> dict | None:
        """Move ``params`` into one array, each ``p.data`` a view of it, when allowed.

        Allowed for a group of at most ``FLAT_MAX_ELEMENTS`` elements of one float dtype
        whose arrays nobody else can see: each owns its memory and is referenced by its
        Parameter only (no array taken from ``p.data``, no recorded graph, no other
        tensor sharing it). So the array a user takes from ``p.data`` afterwards is the
        one every step updates, and no array taken before can be left behind. The
        values are unchanged (a copy), so this is not an in-place modification.
        """
        if not params or sum(p._data.size for p in params) > FLAT_MAX_ELEMENTS:
            return None
        dt = params[0]._data.dtype
        for p in params:
            # (no local name for the array: it would add a reference to the count)
            if p._data.dtype != dt or p._data.base is not None:
                return None
            if sys.getrefcount(p._data) > _UNSEEN:
                return None
        data = xp.concatenate([p._data.ravel() for p in params])
        flat: dict = {"views": [], "data": data, "grad": xp.empty_like(data), "state": None}
        offset = 0
        for p in params:
            n = p._data.size
            p._data = data[offset : offset + n].reshape(p._data.shape)
            flat["views"].append(p._data)
            offset += n
        return flat

    def _flat_group(self, gi: int, params: list, names: tuple) -> dict | None:
        """Group ``gi`` as flat arrays, for an update of a few NumPy calls per group.

        With few, small parameters (online learning, small nets) a step is mostly the
        cost of calling NumPy several times per parameter. Optimizers that use this
        (``_flattens``) move a qualifying group into one array when the group is added
        (:meth:`_flatten_data`; as PyTorch's ``flatten_parameters`` does for RNN
        weights), so ``p.data`` is a view of ``flat["data"]`` from the start and keeps
        its identity across steps. Each step the gradients are gathered into
        ``flat["grad"]`` and each per-parameter buffer in ``names`` is ``flat[name]``
        with ``state[p][name]`` a view of it (``None`` when no parameter has it yet: the
        caller creates it and calls :meth:`_attach`). The update is then the loop's
        arithmetic, element by element, on the whole group. Returns None (use the
        per-parameter loop, which updates the same views in place) when the group is not
        flat, a gradient is missing, or some parameters have a buffer and others not.
        """
        flat = self._flat.get(gi)
        if flat is not None and flat.get("state") is self.state:
            # The steady state, every step: same arrays, same state, every gradient there.
            # (C-level map/all instead of a Python loop: ~1 us less on a small network.)
            grads = list(map(_get_grad, params))
            if (
                all(map(_is_not_none, grads))
                and len(params) == len(flat["views"])
                and all(map(operator.is_, map(_get_data, params), flat["views"]))
                and all(n in flat for n in names)
            ):
                xp.concatenate(list(map(_ravel, grads)), out=flat["grad"])
                return flat
        missing_grad = False
        if flat is not None:
            views = flat["views"]
            if len(views) != len(params):
                flat = None
            else:
                for p, v in zip(params, views):  # one plain loop: this runs every step
                    if p._data is not v:
                        flat = None  # a parameter was given a new array: lay it out again
                        break
                    if p.grad is None:
                        missing_grad = True
        if flat is None:
            flat = self._flatten_data(params)
            if flat is None:
                # Not flat (someone else holds an array, or the group does not qualify):
                # remembered until a parameter is given a new array.
                self._flat[gi] = {"views": [p._data for p in params], "unflattened": True}
                return None
            self._flat[gi] = flat
            missing_grad = any(p.grad is None for p in params)
        if missing_grad or "unflattened" in flat:
            return None
        if flat["state"] is not self.state:
            # New buffers (first step, a state dict loaded): gather them once.
            state = self.state
            found = {n: [state.get(p, {}).get(n) for p in params] for n in names}
            for bufs in found.values():
                have = [b is not None for b in bufs]
                if any(have) and not all(have):
                    return None
            dt = flat["data"].dtype
            for n, bufs in found.items():
                flat[n] = None
                if bufs and bufs[0] is not None:
                    buf = xp.concatenate([b.ravel() for b in bufs]).astype(dt)
                    self._attach(flat, params, n, buf)
            flat["state"] = state
        else:
            for n in names:
                if n not in flat:
                    flat[n] = None
        xp.concatenate([p.grad.ravel() for p in params], out=flat["grad"])
        return flat

    def _flat_group_stepped(self, gi: int, params: list, names: tuple) -> tuple | None:
        """:meth:`_flat_group` for rules with a per-parameter step count (Adam, RMSprop).

        Only when every parameter is at the same step; buffers a parameter lacks start at
        zero (as the per-parameter loop starts them) and every step count advances.
        Returns ``(flat, the new step)``, or None for the per-parameter loop.
        """
        state = self.state
        steps = {state[p]["step"] if p in state else 0 for p in params}
        if len(steps) != 1:
            return None
        flat = self._flat_group(gi, params, names)
        if flat is None:
            return None
        for n in names:
            if flat[n] is None:
                self._attach(flat, params, n, xp.zeros_like(flat["data"]))
        step = steps.pop() + 1
        for p in params:
            state[p]["step"] = step
        return flat, step

    def _attach(self, flat: dict, params: list, name: str, buf: Any) -> None:
        """Make ``buf`` the group's flat ``name`` buffer; ``state[p][name]`` views of it."""
        flat[name] = buf
        offset = 0
        for p, v in zip(params, flat["views"]):
            n = v.size
            self.state.setdefault(p, {})[name] = buf[offset : offset + n].reshape(v.shape)
            offset += n

    # ------------------------------------------------------------- state dict
    def state_dict(self) -> dict:
        """``{"state": {index: {name: value}}, "param_groups": [...]}``, copies, no pickle.

        Parameters are referred to by their index in the order they appear across the
        groups, as in PyTorch, so the state loads into an optimizer built the same way.
        """
        index: dict = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            g = {k: _plain(v) for k, v in group.items() if k != "params"}
            g["params"] = ids
            groups.append(g)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _plain(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore state from :meth:`state_dict` (keys may be ints or their strings)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and "
                f"'param_groups', got {type(state_dict).__name__}"
            )
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state has {len(saved)} parameter groups, this "
                f"optimizer has {len(self.param_groups)}"
            )
        for i, (sg, g) in enumerate(zip(saved, self.param_groups)):
            if not isinstance(sg, dict) or not isinstance(sg.get("params"), (list, tuple)):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} must be a dict with a "
                    f"'params' list, got {str(sg)[:60]}"
                )
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(sg['params'])} "
                    f"parameters in the state but {len(g['params'])} in this optimizer"
                )
        by_index = {}
        for sg, g in zip(saved, self.param_groups):
            for idx, p in zip(sg["params"], g["params"]):
                idx = _param_index(idx, name, "a parameter group")
                if idx in by_index:
                    raise ValueError(f"{name}.load_state_dict: parameter index {idx} repeats")
                by_index[idx] = p
        new_state: dict = {}
        entries = state_dict.get("state", {})
        if not isinstance(entries, dict):
            raise ValueError(
                f"{name}.load_state_dict: 'state' must be a dict, got {type(entries).__name__}"
            )
        for key, entry in entries.items():
            idx = _param_index(key, name, "the state")
            if not isinstance(entry, dict):
                raise ValueError(
                    f"{name}.load_state_dict: state of parameter {idx} must be a dict, got "
                    f"{type(entry).__name__}"
                )
            if idx not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for unknown parameter {idx}")
            p = by_index[idx]
            new_state[p] = {k: self._load_value(k, v, p, idx) for k, v in entry.items()}
        new_groups = []
        for sg, g in zip(saved, self.param_groups):
            ng = {k: _copy_value(v) for k, v in sg.items() if k != "params"}
            ng["params"] = g["params"]
            self._validate_group(ng)
            new_groups.append(ng)
        self.state = new_state
        self.param_groups = new_groups

    def _load_value(self, key: str, value: Any, p: Tensor, idx: int) -> Any:
        is_array = isinstance(value, xp.ndarray) or hasattr(value, "shape")
        if key == "step" and not is_array and (not is_int(value) or value < 0):
            # The step count enters bias corrections (beta ** step): a negative or text
            # value would fail at the next step() with a raw error.
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: state 'step' of parameter {idx} "
                f"must be an int >= 0, got {str(value)[:40]!r}"
            )
        if key in self._per_param_buffers and not is_array and value is not None:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: state {key!r} of parameter {idx} "
                f"must be an array, got {type(value).__name__}"
            )
        if isinstance(value, (list, tuple)):
            return [self._load_value(key, v, p, idx) for v in value]
        if isinstance(value, dict):
            return {k: self._load_value(k, v, p, idx) for k, v in value.items()}
        if isinstance(value, xp.ndarray) or (hasattr(value, "shape") and hasattr(value, "dtype")):
            arr = xp.array(value)  # a copy, so the caller's dict stays untouched
            if key in self._per_param_buffers and arr.shape != p.data.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: state '{key}' of parameter {idx} "
                    f"has shape {arr.shape}, but the parameter has shape {p.data.shape}"
                )
            if arr.dtype.kind == "f":
                arr = arr.astype(p.data.dtype, copy=False)  # as PyTorch: follow the param
            return arr
        return value

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


def _plain(v: Any) -> Any:
    """A copy of ``v`` made of Python scalars, lists, dicts and ndarrays only."""
    if isinstance(v, xp.ndarray):
        return v.copy()
    if isinstance(v, xp.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _copy_value(v: Any) -> Any:
    if isinstance(v, xp.ndarray):
        return v.copy()
    if isinstance(v, xp.generic):
        return v.item()
    if isinstance(v, list):
        return [_copy_value(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_copy_value(x) for x in v)
    return v


def _grad_values(groups: list) -> None:
    """Replace a ``.grad`` left as a Tensor by ``backward(create_graph=True)`` by its array.

    The update reads the values, as PyTorch's does; a Tensor in the arithmetic of an
    update would silently turn ``p.data`` into a Tensor.
    """
    for group in groups:
        for p in group["params"]:
            if isinstance(p.grad, Tensor):
                p.grad = p.grad.data


def _param_index(v: Any, who: str, where: str) -> int:
    """A parameter index of a saved state (an int, or its string)."""
    if isinstance(v, str) and v.isdigit():
        v = int(v)
    if not is_int(v) or v < 0:
        raise ValueError(
            f"{who}.load_state_dict: {where} names parameter {str(v)[:40]!r}; expected an "
            "index (an int >= 0)"
        )
    return int(v)
