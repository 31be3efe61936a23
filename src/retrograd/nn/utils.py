"""Gradient clipping and flat-vector views of parameters (PyTorch's ``nn.utils`` names)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .._backend import xp
from ..autograd.inplace import mark_modified
from ..autograd.tensor import Tensor
from .reparam import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm


def _as_list(parameters: Any) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _with_grad_values(parameters: Any) -> list:
    """The parameters, each ``.grad`` left as a Tensor by ``backward(create_graph=True)``
    replaced by its array: clipping works on the values, as the optimizers' steps do."""
    params = _as_list(parameters)
    for p in params:
        if isinstance(p.grad, Tensor):
            p.grad = p.grad.data
    return params


def clip_grad_norm_(
    parameters: Iterable[Any] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients together so their joint ``norm_type``-norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector; gradients
    are multiplied in place by ``min(1, max_norm / (total_norm + 1e-6))`` exactly as
    PyTorch does. Parameters without a gradient are skipped. Returns the total norm
    before clipping (a Python float).

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([3.0, 4.0]))
        >>> w.grad = w.data.copy()
        >>> rg.nn.utils.clip_grad_norm_([w], max_norm=1.0)
        5.0
        >>> w.grad.round(4)
        array([0.6, 0.8], dtype=float32)
    """
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if math.isnan(max_norm) or max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if norm_type <= 0 and not math.isinf(norm_type):
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    grads = [p.grad for p in _with_grad_values(parameters) if p.grad is not None]
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(xp.abs(g).max()) if g.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        # ravel + dot: no squared temporary the size of the gradient.
        total = math.sqrt(sum(float(xp.dot(g.ravel(), g.ravel())) for g in grads))
    else:
        total = sum(float((xp.abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
            "pass error_if_nonfinite=False to clip anyway"
        )
    coef = min(max_norm / (total + 1e-6), 1.0)
    if coef < 1.0 or math.isnan(coef):
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(parameters: Iterable[Any] | Tensor, clip_value: float) -> None:
    """Clip every gradient element into ``[-clip_value, clip_value]`` in place.

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([3.0, -0.5]))
        >>> w.grad = w.data.copy()
        >>> rg.nn.utils.clip_grad_value_([w], 1.0)
        >>> w.grad
        array([ 1. , -0.5], dtype=float32)
    """
    clip_value = float(clip_value)
    if math.isnan(clip_value) or clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grad_values(parameters):
        if p.grad is not None:
            xp.clip(p.grad, -clip_value, clip_value, out=p.grad)


def parameters_to_vector(parameters: Iterable[Any]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D Tensor (a copy).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.utils.parameters_to_vector(rg.nn.Linear(3, 2).parameters()).shape
        (8,)
    """
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return Tensor(xp.concatenate([p.data.reshape(-1) for p in params]))


def vector_to_parameters(vec: Any, parameters: Iterable[Any]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place.

    Example::

        >>> import retrograd as rg
        >>> layer = rg.nn.Linear(3, 2)
        >>> rg.nn.utils.vector_to_parameters(rg.zeros(8), layer.parameters())
        >>> float(abs(layer.weight.data).sum())
        0.0
    """
    arr = vec.data if isinstance(vec, Tensor) else xp.asarray(vec)
    if arr.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {arr.shape}")
    params = _as_list(parameters)
    total = sum(p.data.size for p in params)
    if arr.size != total:
        raise ValueError(
            f"vector_to_parameters: vec has {arr.size} elements, the parameters have {total}"
        )
    offset = 0
    for p in params:
        n = p.data.size
        p.data[...] = arr[offset : offset + n].reshape(p.data.shape)
        mark_modified(p.data, "vector_to_parameters", p)
        offset += n


def detach_state(state: Any) -> Any:
    """Cut a recurrent state (a Tensor or nested tuples/lists of them) from its graph.

    Truncated BPTT carries the state into the next window of k steps without
    backpropagating into the previous one; see :func:`retrograd.nn.rnn.detach_state`.
    """
    from .rnn import detach_state as _detach

    return _detach(state)


def jacobian_regularization(f_out: Tensor, h: Tensor, n_vectors: int = 1) -> Tensor:
    """Hutchinson estimate of ``||d f_out / d h||_F^2``, summed over the batch.

    For ``v`` with independent standard normal entries, ``E ||v^T J||^2 = ||J||_F^2``;
    the estimate averages ``||v^T J||^2`` over ``n_vectors`` draws. ``J`` is the Jacobian
    of all of ``f_out`` with respect to all of ``h``, so for a batch of independent
    samples the result is the *sum* of the per-sample squared Frobenius norms (not a mean
    per element, which torchdeq's ``jac_reg`` returns). Each ``v^T J`` is computed with
    ``create_graph=True``, so the result can be added to a loss and backpropagated (the
    regularizer of Bai et al. 2021 for equilibrium models: ``f_out = f(h*, x)``, ``h``
    the fixed point with ``requires_grad``). The vectors are drawn from the global
    generator, so ``rg.manual_seed`` makes the estimate reproducible.

    Example::

        >>> import retrograd as rg
        >>> h = rg.tensor([[0.5, -1.0]], requires_grad=True)
        >>> f_out = (h * 3.0).tanh()
        >>> r = rg.nn.utils.jacobian_regularization(f_out, h, n_vectors=2)
        >>> r.shape, r.requires_grad
        ((), True)
    """
    from ..autograd.engine import grad
    from ..random import default_generator

    who = "jacobian_regularization"
    if not isinstance(f_out, Tensor):
        raise TypeError(f"{who}: f_out must be a Tensor, got {type(f_out).__name__}")
    if not isinstance(h, Tensor):
        raise TypeError(f"{who}: h must be a Tensor, got {type(h).__name__}")
    if not h.requires_grad:
        raise ValueError(
            f"{who}: h (shape {h.shape}) does not require grad; expected the state f_out was "
            "computed from, with requires_grad=True (e.g. h = h_star.detach().requires_grad_())"
        )
    if not f_out.requires_grad:
        raise ValueError(
            f"{who}: f_out (shape {f_out.shape}) does not require grad; expected a function "
            "of h computed with gradient recording on"
        )
    if isinstance(n_vectors, bool) or not isinstance(n_vectors, int) or n_vectors < 1:
        raise ValueError(f"{who}: n_vectors must be a positive int, got {n_vectors!r}")
    gen = default_generator()
    total = None
    for _ in range(n_vectors):
        v = gen.standard_normal(f_out.shape).astype(f_out.dtype)
        (vj,) = grad(f_out, h, v, create_graph=True, materialize_grads=True)
        term = (vj * vj).sum()
        total = term if total is None else total + term
    return total / float(n_vectors)


def fixed_point_correction_weights(n_states: int, gamma: float = 0.8) -> list[float]:
    """The weights ``[gamma^(k-1), ..., gamma^2, gamma, 1]`` of ``k = n_states`` states.

    Fixed-point correction (Bai et al. 2022) puts a loss on intermediate states of the
    solver as well as on the fixed point, with weights growing exponentially towards the
    last state (weight 1); they are not normalised (as in DEQ-flow), so ``gamma`` near 1
    weights the states almost equally and the total is ``(1 - gamma^k) / (1 - gamma)``.

    Example::

        >>> import retrograd as rg
        >>> [round(w, 3) for w in rg.nn.utils.fixed_point_correction_weights(3, 0.5)]
        [0.25, 0.5, 1.0]
    """
    from .._checks import check_int, check_real

    who = "fixed_point_correction_weights"
    k = check_int(n_states, "n_states", who)
    g = check_real(gamma, "gamma", who, 0.0, 1.0, lo_open=True, expected="in (0, 1]")
    return [g ** (k - j) for j in range(1, k + 1)]


def fixed_point_correction_loss(
    states: Any, target: Any, loss_fn: Any, gamma: float = 0.8
) -> Tensor:
    """``sum_j w_j loss_fn(states[j], target)`` with :func:`fixed_point_correction_weights`.

    ``states`` is what ``FixedPoint(...)(x, n_states=k)`` returns: ``k`` states evenly
    spaced along the solve, the last being the fixed point. ``loss_fn(state, target)``
    maps a state to a scalar loss (apply the readout inside it). Each intermediate state
    is differentiated by the layer's ``backward`` as if it were the fixed point, so the
    auxiliary terms cost one more adjoint solve (or approximate gradient) each.

    Example::

        >>> import retrograd as rg
        >>> fp = rg.nn.FixedPoint(lambda h, x: (0.5 * h + x).tanh())
        >>> x = rg.ones(2, 3, requires_grad=True)
        >>> states = fp(x, n_states=3)
        >>> loss = rg.nn.utils.fixed_point_correction_loss(
        ...     states, rg.zeros(2, 3), rg.nn.functional.mse_loss)
        >>> loss.backward()
        >>> x.grad.shape
        (2, 3)
    """
    who = "fixed_point_correction_loss"
    if isinstance(states, Tensor) or not isinstance(states, (list, tuple)) or not states:
        raise TypeError(
            f"{who}: states must be a non-empty list of Tensors (FixedPoint(...)(x, "
            f"n_states=k)), got {type(states).__name__}"
        )
    if not callable(loss_fn):
        raise TypeError(f"{who}: loss_fn must be callable, got {type(loss_fn).__name__}")
    total = None
    for w, state in zip(fixed_point_correction_weights(len(states), gamma), states):
        term = loss_fn(state, target) * w
        total = term if total is None else total + term
    return total


__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters",
    "detach_state", "jacobian_regularization", "weight_norm", "remove_weight_norm",
    "spectral_norm", "remove_spectral_norm", "fixed_point_correction_weights",
    "fixed_point_correction_loss",
]  # fmt: skip
