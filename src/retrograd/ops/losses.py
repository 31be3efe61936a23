"""Loss functions: the primitives and every functional form (``F.*_loss`` re-exports them).

Cross-entropy, binary cross-entropy with logits and the squared error are primitives:
they work from shifted logits so that +-1e4 in float32 stays finite, and each saves
exactly what its VJP needs. The others (L1, Huber, the bounded classification losses)
are composites of differentiable ops; their gradients come from the engine.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import check_reduction
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..kernels import K
from . import _composites
from ._util import add_reduce, ensure_tensor, max_reduce
from .activation import log_softmax
from .elementwise import _sigmoid, exp, where
from .elementwise import abs as abs_

_ROWS: dict = {}  # batch size -> arange(batch size), the row index of the fast path
_ROW_STARTS: dict = {}  # (rows, classes) -> arange(0, rows * classes, classes)


def _row_starts(m: int, c: int) -> Any:
    """``arange(0, m * c, c)``: where each row of an (m, c) block starts (cached, read-only)."""
    starts = _ROW_STARTS.get((m, c))
    if starts is None:
        starts = _ROW_STARTS[(m, c)] = xp.arange(0, m * c, c)
        starts.flags.writeable = False  # shared between calls
    return starts


class CrossEntropy(Function):
    """Softmax cross-entropy on (M, C) logits with index or probability targets."""

    replay = "checked"

    def forward(
        self, z, target=None, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
        checked=False,
    ):  # fmt: skip
        # checked=True: the caller has verified that target is (M,) class indices, all in
        # [0, C) and none equal to ignore_index (cross_entropy's fast path does).
        m, c = z.shape
        self.reduction, self.all_ignored = reduction, False
        if checked and reduction != "none":
            # Verified labels, a reduced loss: softmax, the loss and its sum in one kernel.
            self.fast, self.target, self.denom = True, target, float(m)
            self.flat = flat = _row_starts(m, c) + target
            self.p, total = K.softmax_xent(z, flat)
            return total / self.denom if reduction == "mean" else total
        s = z - max_reduce(z, axis=1, keepdims=True)
        e = xp.exp(s)
        se = add_reduce(e, axis=1, keepdims=True)
        lse = xp.log(se)
        e /= se  # e is ours: normalise in place into the probabilities
        self.p = e
        if checked or (
            target.ndim == 1
            and weight is None
            and label_smoothing == 0.0
            and not (target == ignore_index).any()
        ):
            # The common case: one-hot targets, no weights. -log p[i, t_i] is computed as
            # lse_i - s[i, t_i] (exactly -(s - lse)[i, t_i]) without forming log p.
            self.fast = True
            self.target = target
            if checked:
                # Labels verified to lie in [0, c): flat positions i * c + t_i in the
                # (m, c) block gather and scatter faster than a (rows, target) index.
                self.flat = flat = _row_starts(m, c) + target
                losses = lse[:, 0] - s.reshape(-1).take(flat)
            else:
                rows = _ROWS.get(m)
                if rows is None:
                    rows = _ROWS[m] = xp.arange(m)
                    rows.flags.writeable = False  # shared between calls
                self.rows, self.flat = rows, None
                losses = lse[:, 0] - s[rows, target]
            self.denom = float(m)
        else:
            self.fast = False
            coef = self._coefficients(target, weight, ignore_index, label_smoothing, c, z.dtype)
            self.coef = coef
            losses = -(coef * (s - lse)).sum(axis=1)
        if reduction == "none":
            return losses
        total = add_reduce(losses)
        return total / self.denom if reduction == "mean" else total

    def forward_backward(self, g, z, **params):
        """``forward(z, **params)`` then ``backward(g)``: ``(loss, gradients)``.

        For a compiled step whose backward starts at this loss: verified labels and a
        reduced loss take one kernel for both (the same numbers as the two calls), any
        other case makes the two calls.
        """
        if not (params.get("checked") and params.get("reduction", "mean") != "none"):
            return self.forward(z, **params), self.backward(g)
        m, c = z.shape
        target, reduction = params["target"], params.get("reduction", "mean")
        denom = float(m)
        flat = _row_starts(m, c) + target
        scale = g / denom if reduction == "mean" else g  # as backward scales it
        grad, total = K.softmax_xent_grad(z, flat, scale)
        return (total / denom if reduction == "mean" else total), (grad,)

    @staticmethod
    def replay_check(arrays: tuple, params: dict) -> bool:
        """May a recorded call be replayed on these arrays (``train.compile_step``)?

        ``cross_entropy`` validated the recorded batch's class indices before the call
        (and chose ``checked=True`` from them); a replay on another batch must pass the
        same validation, or run eagerly (and raise).
        """
        target, c = params["target"], arrays[0].shape[1]
        if params.get("checked"):
            return _labels_in_range(target, c)
        if target.dtype.kind not in "iu":
            return True  # probabilities: no choice was made from their values
        labels = target[target != params.get("ignore_index", -100)]
        return labels.size == 0 or bool(0 <= labels.min() and labels.max() < c)

    def _coefficients(self, target, weight, ignore_index, eps, c, dtype):
        # Per-sample loss is -sum_c coef[i, c] log p[i, c]; its gradient in the logits is
        # coef[i].sum() * p[i] - coef[i], which covers every variant with one formula.
        w = xp.ones(c, dtype=dtype) if weight is None else weight.astype(dtype, copy=False)
        if target.ndim == 1:
            keep = target != ignore_index
            safe_t = xp.where(keep, target, 0)
            onehot = xp.zeros((target.shape[0], c), dtype=dtype)
            onehot[xp.arange(target.shape[0]), safe_t] = 1
            coef = (1 - eps) * onehot * w + (eps / c) * w
            coef *= keep[:, None]
            self.denom = float((w[safe_t] * keep).sum() if weight is not None else keep.sum())
            self.all_ignored = not keep.any()
        else:
            q = target.astype(dtype, copy=False)
            if eps:
                q = (1 - eps) * q + eps / c
            coef = q * w
            self.denom = float(target.shape[0])
        return coef.astype(dtype, copy=False)

    def backward(self, g):
        p = self.p
        if self.reduction == "none":
            scale = g[:, None]
        elif self.reduction == "mean":
            # Every target ignored: the loss is 0/0 = nan and its gradient 0, as torch's
            # (targets all weighted 0 give a nan gradient there, and here).
            scale = xp.zeros_like(g) if self.all_ignored else g / self.denom
        else:
            scale = g
        if self.fast and self.flat is not None and self.reduction != "none":
            return (K.xent_grad(p, self.flat, scale),)  # (p - onehot) * scale, one pass
        if self.fast:
            grad = p.copy()
            if p.shape[0] == 1:  # online learning: a scalar index, not a fancy one
                grad[0, int(self.target[0])] -= 1
            elif self.flat is not None:
                grad.reshape(-1)[self.flat] -= 1
            else:
                grad[self.rows, self.target] -= 1
        else:
            coef = self.coef
            grad = coef.sum(axis=1, keepdims=True) * p - coef
        grad *= scale
        return (grad,)

    def composite(self, z, *rest):
        if rest:
            raise RuntimeError("internal error: CrossEntropy.composite takes the logits only")
        if self.fast:
            coef = xp.zeros(self.p.shape, dtype=self.p.dtype)
            coef[xp.arange(coef.shape[0]), self.target] = 1
        else:
            coef = self.coef
        return _composites.cross_entropy(z, coef, self.reduction, self.denom)


class BCEWithLogits(Function):
    replay = "pure"

    def forward(self, z, y, weight=None, pos_weight=None, reduction="mean"):
        self.z, self.y, self.weight, self.pos_weight = z, y, weight, pos_weight
        self.reduction = reduction
        # softplus(-z) = log(1 + e^-z), stable for any sign of z.
        sp = xp.maximum(-z, 0) + xp.log1p(xp.exp(-xp.abs(z)))
        self.sp = sp
        if pos_weight is None:
            losses = (1 - y) * z + sp
        else:
            losses = (1 - y) * z + (1 + (pos_weight - 1) * y) * sp
        if weight is not None:
            losses = losses * weight
        losses = losses.astype(z.dtype, copy=False)
        self.shape = losses.shape
        if reduction == "none":
            return losses
        return losses.mean() if reduction == "mean" else losses.sum()

    def backward(self, g):
        z, y, pw, w = self.z, self.y, self.pos_weight, self.weight
        if self.reduction == "mean":
            g = g / max(int(xp.prod(self.shape)), 1)

        s = _sigmoid(z)
        gz = gy = None
        if self.needs[0]:
            gz = s - y if pw is None else (1 - y) + (1 + (pw - 1) * y) * (s - 1)
            gz = gz * g if w is None else gz * g * w
            gz = xp.broadcast_to(gz, z.shape).astype(z.dtype, copy=False)
        if self.needs[1]:
            gy = -z if pw is None else -z + (pw - 1) * self.sp
            gy = gy * g if w is None else gy * g * w
            gy = xp.broadcast_to(gy, y.shape).astype(y.dtype, copy=False)
        return gz, gy

    def composite(self, z, y):
        return _composites.bce_with_logits(z, y, self.weight, self.pos_weight, self.reduction)


class MSE(Function):
    replay = "pure"

    def forward(self, a, b, reduction="mean"):
        self.d = a - b
        self.reduction = reduction
        sq = self.d * self.d
        if reduction == "none":
            return sq
        if reduction == "mean" and sq.size == 0:
            # PyTorch's value (the mean of nothing), without NumPy's empty-slice warning.
            return xp.array(xp.nan, dtype=sq.dtype)
        return sq.mean() if reduction == "mean" else sq.sum()

    def backward(self, g):
        d = self.d
        scale = 2 * g / max(d.size, 1) if self.reduction == "mean" else 2 * g
        gd = d * scale
        na, nb = self.needs
        return (gd if na else None, -gd if nb else None)

    def composite(self, a, b):
        return _composites.mse(a, b, self.reduction)


# -------------------------------------------------------------------- public functions


def _labels_in_range(t: Any, n_classes: int) -> bool:
    """True when every class index in the 1-D integer array ``t`` lies in [0, n_classes)."""
    if t.shape[0] <= 32:
        # Small batches (online learning): Python's min/max of a short list beats two
        # NumPy reductions, each of which costs a few microseconds of call overhead.
        labels = t.tolist()
        return 0 <= min(labels) and max(labels) < n_classes
    return 0 <= t.min() and t.max() < n_classes


def _class_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N*d1*..., C), the layout the fused loss works on."""
    from .shape import permute, reshape

    axes = (0,) + tuple(range(2, x.ndim)) + (1,)
    return reshape(permute(x, axes), (-1, x.shape[1]))


def cross_entropy(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy from logits, PyTorch's semantics.

    ``input`` is (N, C) (or (C,), or (N, C, d1, ...)); ``target`` holds class indices
    (N,) of an integer dtype or class probabilities of ``input``'s shape.

    Example::

        >>> import retrograd as rg
        >>> logits = rg.tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
        >>> loss = rg.ops.cross_entropy(logits, rg.tensor([0, 1]))
        >>> round(loss.item(), 4)
        0.1269
    """
    check_reduction(reduction, "cross_entropy")
    t = target.data if isinstance(target, Tensor) else xp.asarray(target)
    if weight is None and not label_smoothing and isinstance(input, Tensor):
        # Fast path for the common case, (N, C) logits and class indices: two reductions
        # check the labels; anything else (or any doubt) takes the general path below.
        zs = input.data.shape
        if (
            len(zs) == 2
            and t.ndim == 1
            and t.dtype.kind in "iu"
            and 0 < t.shape[0] == zs[0]
            and _labels_in_range(t, zs[1])
            and not 0 <= ignore_index < zs[1]
        ):
            # (weight None and label_smoothing 0 are forward's defaults; ignore_index is
            # not read once checked: fewer keyword arguments, a cheaper call.)
            return CrossEntropy.apply(input, target=t, reduction=reduction, checked=True)
    z = ensure_tensor(input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if z.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a scalar")
    unbatched = z.ndim == 1
    if unbatched:
        from .shape import reshape

        z = reshape(z, (1, -1))
        t = t.reshape((1,) + t.shape)
    n_classes = z.shape[1]
    prob_targets = t.shape == z.shape
    if prob_targets:
        if t.dtype.kind != "f":
            raise TypeError(
                f"cross_entropy: probability targets of shape {t.shape} must be floating "
                f"point, got dtype {t.dtype}"
            )
    else:
        expected = (z.shape[0],) + z.shape[2:]
        if t.dtype.kind not in "iu":
            raise TypeError(
                f"cross_entropy: target has dtype {t.dtype} and shape {t.shape}; expected "
                f"integer class indices of shape {expected} or probabilities of shape {z.shape}"
            )
        if t.shape != expected:
            raise ValueError(
                f"cross_entropy: target has shape {t.shape}, expected {expected} "
                f"(class indices for input of shape {z.shape})"
            )
        valid = t != ignore_index
        if valid.any():
            tv = t[valid]
            lo, hi = int(tv.min()), int(tv.max())
            if lo < 0 or hi >= n_classes:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"cross_entropy: target contains class {bad}, expected classes in "
                    f"[0, {n_classes - 1}] for input with {n_classes} classes"
                )
    w = None
    if weight is not None:
        w = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
        if w.shape != (n_classes,):
            raise ValueError(f"cross_entropy: weight has shape {w.shape}, expected ({n_classes},)")
    spatial = z.ndim > 2
    out_shape = (z.shape[0],) + z.shape[2:]
    soft_grad = prob_targets and isinstance(target, Tensor) and target.requires_grad
    if spatial:
        z = _class_last(z)
        t = xp.moveaxis(t, 1, -1).reshape(-1, n_classes) if prob_targets else t.reshape(-1)
    if soft_grad:
        # Probability targets that require grad: the loss is differentiable in them too
        # (PyTorch's rule), so compose it from ops that carry both gradients.
        q = target if not unbatched else target.reshape(1, -1)
        if spatial:
            q = _class_last(q)
        loss = _soft_cross_entropy(z, q, w, float(label_smoothing), reduction)
    else:
        loss = CrossEntropy.apply(
            z,
            target=t,
            weight=w,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=float(label_smoothing),
        )
    if reduction == "none" and (spatial or unbatched):
        from .shape import reshape

        loss = reshape(loss, () if unbatched else out_shape)
    return loss


def _soft_cross_entropy(z: Tensor, q: Tensor, w: Any, eps: float, reduction: str) -> Tensor:
    """-sum_c q_c w_c log softmax(z)_c per row, reduced like CrossEntropy (mean: / rows)."""
    from .elementwise import cast

    q = cast(q, z.data.dtype)
    if eps:
        q = q * (1.0 - eps) + eps / z.shape[1]
    if w is not None:
        q = q * Tensor._wrap(w.astype(z.data.dtype, copy=False), False, None)
    losses = -(q * log_softmax(z, 1)).sum(1)
    if reduction == "none":
        return losses
    total = losses.sum()
    return total / z.shape[0] if reduction == "mean" else total


def binary_cross_entropy_with_logits(
    input: Any,  # noqa: A002
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable node (PyTorch's semantics).

    Example::

        >>> import retrograd as rg
        >>> z = rg.tensor([0.0, 0.0])
        >>> round(rg.ops.binary_cross_entropy_with_logits(z, [0.0, 1.0]).item(), 4)
        0.6931
    """
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    z = ensure_tensor(input)
    y = target if isinstance(target, Tensor) else Tensor(xp.asarray(target, dtype=z.dtype))
    if y.shape != z.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target has shape {y.shape}, expected the "
            f"input's shape {z.shape}"
        )
    if y.data.dtype.kind != "f":
        y = Tensor(y.data.astype(z.dtype))
    w = (
        None
        if weight is None
        else (weight.data if isinstance(weight, Tensor) else xp.asarray(weight))
    )
    pw = None
    if pos_weight is not None:
        pw = pos_weight.data if isinstance(pos_weight, Tensor) else xp.asarray(pos_weight)
    for name, arr in (("weight", w), ("pos_weight", pw)):
        # Each must broadcast to the input's shape without enlarging it (one loss per logit).
        try:
            ok = arr is None or xp.broadcast_shapes(arr.shape, z.shape) == z.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"binary_cross_entropy_with_logits: {name} has shape {arr.shape}, which does "
                f"not broadcast to the input's shape {z.shape}"
            )
    return BCEWithLogits.apply(z, y, weight=w, pos_weight=pw, reduction=reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error ``mean((input - target)**2)`` (``sum``/``none`` on request).

    Example::

        >>> import retrograd as rg
        >>> rg.ops.mse_loss(rg.tensor([1.0, 3.0]), rg.tensor([0.0, 0.0])).item()
        5.0
    """
    check_reduction(reduction, "mse_loss")
    a = ensure_tensor(input)
    b = target if isinstance(target, Tensor) else Tensor(xp.asarray(target, dtype=a.dtype))
    if a.shape != b.shape:
        raise ValueError(
            f"mse_loss: target has shape {b.shape}, expected the input's shape {a.shape}"
        )
    return MSE.apply(a, b, reduction=reduction)


mse = mse_loss


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean absolute error (gradient sign(0) = 0 at equality, as PyTorch)."""
    check_reduction(reduction, "l1_loss")
    a = input if isinstance(input, Tensor) else Tensor(input)
    _check_same_shape(a, target, "l1_loss")
    return _reduce(abs_(a - target), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """Quadratic within ``delta`` of the target, linear outside (robust to outliers)."""
    check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    a = input if isinstance(input, Tensor) else Tensor(input)
    _check_same_shape(a, target, "huber_loss")
    d = a - target
    ad = abs_(d)
    quad = 0.5 * d * d
    lin = delta * (ad - 0.5 * delta)
    return _reduce(where(ad.data <= delta, quad, lin), reduction)


def _check_same_shape(a: Tensor, target: Any, fn: str) -> None:
    shape = target.shape if hasattr(target, "shape") else xp.shape(target)
    if tuple(shape) != a.shape:
        raise ValueError(
            f"{fn}: target has shape {tuple(shape)}, expected the input's shape {a.shape}"
        )


def _reduce(x: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x


# ------------------------------------------------------ bounded classification losses
# Cross-entropy is unbounded: one mislabelled sample whose logits point confidently
# elsewhere contributes -log p_y -> inf and dominates the gradient. The losses below are
# bounded in p_y, so such samples pull less. Both are composites of differentiable ops
# (log_softmax, exp, sum), no new primitive: their gradients come from the engine.
def _target_log_prob(input: Any, target: Any, fn: str) -> Tensor:  # noqa: A002
    """log softmax(input)[n, target[n]] for (N, C) logits and (N,) class indices."""
    z = input if isinstance(input, Tensor) else Tensor(input)
    if z.ndim != 2:
        raise ValueError(f"{fn}: input must be (N, C) logits, got shape {z.shape}")
    t = target.data if isinstance(target, Tensor) else xp.asarray(target)
    n, c = z.shape
    if t.ndim != 1 or t.dtype.kind not in "iu":
        raise ValueError(
            f"{fn}: target must be (N,) integer class indices, got shape {t.shape} and dtype "
            f"{t.dtype}"
        )
    if t.shape[0] != n:
        raise ValueError(f"{fn}: target has {t.shape[0]} labels for {n} rows of logits")
    if n and (int(t.min()) < 0 or int(t.max()) >= c):
        bad = int(t.min()) if int(t.min()) < 0 else int(t.max())
        raise ValueError(f"{fn}: target contains class {bad}, expected labels in 0..{c - 1}")
    hot = xp.zeros((n, c), dtype=z.dtype)
    hot[xp.arange(n), t] = 1
    logp = log_softmax(z, axis=1)
    return (logp * Tensor._wrap(hot, False, None)).sum(axis=1)


def generalized_cross_entropy(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    q: float = 0.7,
    reduction: str = "mean",
) -> Tensor:
    """Generalized cross-entropy (Zhang & Sabuncu 2018): ``(1 - p_y**q) / q`` per sample.

    ``input`` is (N, C) logits, ``target`` (N,) class indices, ``p_y`` the softmax
    probability of the labelled class. ``q`` in (0, 1] moves from cross-entropy
    (``q -> 0``) to the mean absolute error of the probabilities (``q = 1``, the loss
    ``1 - p_y``); the loss is bounded by ``1/q``, so a mislabelled sample the network
    confidently disagrees with cannot dominate the gradient. ``p_y**q`` is computed as
    ``exp(q * log_softmax)``, finite for any logits.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> z = rg.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> round(F.generalized_cross_entropy(z, rg.tensor([0, 0]), q=1.0).item(), 4)
        0.5
    """
    check_reduction(reduction, "generalized_cross_entropy")
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 < q <= 1.0:
        raise ValueError(f"generalized_cross_entropy: q must be in (0, 1], got {q!r}")
    logp_y = _target_log_prob(input, target, "generalized_cross_entropy")
    dt = logp_y.dtype
    # NOTE: scalars as arrays of the input's dtype, so float32 stays float32.
    qa = xp.asarray(q, dtype=dt)
    loss = (xp.asarray(1.0, dtype=dt) - exp(logp_y * qa)) / qa
    return _reduce(loss, reduction)


def symmetric_cross_entropy(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    alpha: float = 0.1,
    beta: float = 1.0,
    A: float = -4.0,  # noqa: N803 - the paper's name
    reduction: str = "mean",
) -> Tensor:
    """Symmetric cross-entropy (Wang et al. 2019): ``alpha * CE + beta * RCE``.

    The reverse cross-entropy ``RCE = -sum_k p_k log y_k`` swaps the roles of prediction
    ``p`` and one-hot label ``y``; with ``log 0`` replaced by the constant ``A`` (< 0)
    it is ``-A * (1 - p_y)``, bounded, so it resists label noise while the (small)
    ``alpha`` CE term keeps the fit sharp. The paper uses ``A = -4``; ``alpha = 0.1``,
    ``beta = 1`` are its CIFAR-10 settings.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> z = rg.tensor([[0.0, 0.0]])
        >>> round(F.symmetric_cross_entropy(z, rg.tensor([0]), alpha=0.0).item(), 4)
        2.0
    """
    check_reduction(reduction, "symmetric_cross_entropy")
    for name, v in (("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"symmetric_cross_entropy: {name} must be >= 0, got {v!r}")
    if isinstance(A, bool) or not isinstance(A, (int, float)) or not A < 0:
        raise ValueError(f"symmetric_cross_entropy: A must be a negative number, got {A!r}")
    logp_y = _target_log_prob(input, target, "symmetric_cross_entropy")
    dt = logp_y.dtype
    ce = -logp_y
    rce = (xp.asarray(1.0, dtype=dt) - exp(logp_y)) * xp.asarray(-A, dtype=dt)
    loss = ce * xp.asarray(alpha, dtype=dt) + rce * xp.asarray(beta, dtype=dt)
    return _reduce(loss, reduction)


# ------------------------------------------------------------ more of PyTorch's losses
# nll_loss, binary_cross_entropy (on probabilities), kl_div, smooth_l1_loss,
# cosine_similarity, cosine_embedding_loss, margin_ranking_loss: PyTorch's reduction
# semantics. binary_cross_entropy and smooth_l1_loss are primitives (PyTorch's clamped
# logarithms and gradient formulas); the others are composites of differentiable ops.


def _const(arr: Any) -> Tensor:
    return Tensor._wrap(arr, False, None)


def _float_tensor(x: Any, fn: str, name: str, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        t = x
    else:
        t = _const(xp.asarray(x, dtype=like.data.dtype if like is not None else None))
        if like is None and t.data.dtype.kind != "f":
            t = _const(t.data.astype(xp.float32))
    if t.data.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be a floating-point tensor, got dtype {t.data.dtype}")
    return t


def _same_shape(a: Tensor, b: Tensor, fn: str, what: str = "target") -> None:
    if a.shape != b.shape:
        raise ValueError(f"{fn}: {what} has shape {b.shape}, expected the input's shape {a.shape}")


# ---------------------------------------------------------------------- primitives


class BinaryCrossEntropy(Function):
    """-(t log x + (1 - t) log(1 - x)) with each log clamped at -100 (PyTorch's form)."""

    replay = "pure"

    def forward(self, x, t, w=None):
        self.x, self.t, self.w = x, t, w
        with xp.errstate(divide="ignore"):
            lx = xp.maximum(xp.log(x), -100)
            l1x = xp.maximum(xp.log1p(-x), -100)
        out = -(t * lx + (1 - t) * l1x)
        return out if w is None else out * w

    def backward(self, g):
        x, t, w = self.x, self.t, self.w
        nx, nt = self.needs[:2]
        gx = gt = None
        if w is not None:
            g = g * w
        if nx:
            # PyTorch's gradient: (x - t) / max(x (1 - x), 1e-12).
            gx = g * (x - t) / xp.maximum(x * (1 - x), 1e-12)
        if nt:
            # Unclamped here, as PyTorch: +-inf where x is 0 or 1.
            with xp.errstate(divide="ignore", invalid="ignore"):
                gt = g * (xp.log1p(-x) - xp.log(x))
        return gx, gt

    def backward_graph(self, g, out):
        from .elementwise import Clip, Log, Log1p, Neg

        x, t = self.parents[:2]
        nx, nt = self.needs[:2]
        if self.w is not None:
            g = g * self.w
        gx = gt = None
        if nx:
            gx = g * (x - t) / Clip.apply(x * (1.0 - x), lo=1e-12, hi=None)
        if nt:
            gt = g * (Log1p.apply(Neg.apply(x)) - Log.apply(x))
        return gx, gt


class SmoothL1(Function):
    replay = "pure"

    def forward(self, x, t, beta=1.0):
        d = x - t
        self.d, self.beta = d, beta
        ad = xp.abs(d)
        if beta == 0:
            return ad
        return xp.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta)

    def backward(self, g):
        d, beta = self.d, self.beta
        if beta == 0:
            slope = xp.sign(d)
        else:
            slope = xp.clip(d / beta, -1, 1)
        gx = g * slope
        nx, nt = self.needs
        return (gx if nx else None), (-gx if nt else None)

    def backward_graph(self, g, out):
        d0, beta = self.d, self.beta
        sign = xp.sign(d0).astype(d0.dtype)
        if beta == 0:
            gx = g * sign
        else:
            # d / beta inside (|d| < beta), the constant sign(d) outside.
            x, t = self.parents
            inside = (xp.abs(d0) < beta).astype(d0.dtype)
            gx = g * ((x - t) * (inside / beta)) + g * (sign * (1 - inside))
        nx, nt = self.needs
        return (gx if nx else None), (-gx if nt else None)


# ------------------------------------------------------------------ public functions


def nll_loss(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities ``input``.

    ``input`` is (N, C), (C,) or (N, C, d1, ...); ``target`` holds class indices of the
    shape without C. "mean" divides by the summed weights of the non-ignored targets.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> logp = rg.tensor([[-0.5, -1.0], [-2.0, -0.1]])
        >>> F.nll_loss(logp, rg.tensor([0, 1])).item()
        0.30000001192092896
    """
    from .movement import movedim
    from .shape import getitem, reshape

    check_reduction(reduction, "nll_loss")
    x = _float_tensor(input, "nll_loss", "input")
    t = target.data if isinstance(target, Tensor) else xp.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold int64 class indices, got dtype {t.dtype}")
    if x.ndim == 0:
        raise ValueError("nll_loss: input must have a class dimension, got a 0-d tensor")
    c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    expected = (x.shape[:1] + x.shape[2:]) if x.ndim >= 2 else ()
    if t.shape != expected:
        raise ValueError(
            f"nll_loss: target has shape {t.shape}, expected {expected} for input of shape "
            f"{x.shape}"
        )
    valid = t != ignore_index
    if valid.any():
        tv = t[valid]
        if int(tv.min()) < 0 or int(tv.max()) >= c:
            bad = int(tv.min()) if int(tv.min()) < 0 else int(tv.max())
            raise ValueError(
                f"nll_loss: target contains class {bad}, expected classes in [0, {c - 1}] "
                f"(or ignore_index={ignore_index})"
            )
    if weight is None:
        w = xp.ones(c, dtype=x.data.dtype)
    else:
        w = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
        if w.shape != (c,):
            raise ValueError(f"nll_loss: weight must have shape ({c},), got {w.shape}")
        w = w.astype(x.data.dtype, copy=False)
    safe = xp.where(valid, t, 0).reshape(-1)
    rows = reshape(movedim(x, 1, -1), (-1, c)) if x.ndim >= 2 else reshape(x, (1, c))
    picked = getitem(rows, (xp.arange(safe.size), safe))
    wt = (w[safe] * valid.reshape(-1)).astype(x.data.dtype)
    losses = -(picked * _const(wt))
    if reduction == "none":
        return reshape(losses, t.shape)
    total = losses.sum()
    if reduction == "sum":
        return total
    denom = wt.sum()
    if not valid.any():
        # Every target ignored: nan with a zero gradient, as torch (targets all weighted
        # 0 give a nan gradient there, and here).
        return total + _const(xp.asarray(xp.nan, dtype=x.data.dtype))
    return total / _const(xp.asarray(denom, dtype=x.data.dtype))


def binary_cross_entropy(
    input: Any,  # noqa: A002
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1] (logs clamped at -100).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.binary_cross_entropy(rg.tensor([0.5]), rg.tensor([1.0])).item()
        0.6931471824645996
    """
    check_reduction(reduction, "binary_cross_entropy")
    x = _float_tensor(input, "binary_cross_entropy", "input")
    t = _float_tensor(target, "binary_cross_entropy", "target", x)
    _same_shape(x, t, "binary_cross_entropy")
    if x.data.size and not ((x.data >= 0) & (x.data <= 1)).all():
        raise ValueError(
            "binary_cross_entropy: input must hold probabilities in [0, 1] (use "
            "binary_cross_entropy_with_logits for logits)"
        )
    w = None
    if weight is not None:
        wa = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
        try:
            w = xp.broadcast_to(wa.astype(x.data.dtype), x.shape)
        except ValueError:
            raise ValueError(
                f"binary_cross_entropy: weight of shape {wa.shape} does not broadcast to the "
                f"input's shape {x.shape}"
            ) from None
    return _reduce(BinaryCrossEntropy.apply(x, t, w=w), reduction)


def kl_div(
    input: Any,  # noqa: A002
    target: Any,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence with ``input`` in log space: target * (log target - input).

    "mean" averages over every element (PyTorch's default, which is not the KL divergence
    per sample); "batchmean" divides the sum by the batch size.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> p = rg.tensor([[0.5, 0.5]])
        >>> F.kl_div(p.log(), p, reduction="batchmean").item()
        0.0
    """
    from .elementwise import Where, exp, log

    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(
            "kl_div: reduction must be one of ('mean', 'sum', 'none', 'batchmean'), got "
            f"{reduction!r}"
        )
    x = _float_tensor(input, "kl_div", "input")
    t = _float_tensor(target, "kl_div", "target", x)
    try:
        xp.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise ValueError(
            f"kl_div: target of shape {t.shape} does not broadcast with input {x.shape}"
        ) from None
    if log_target:
        pointwise = exp(t) * (t - x)
    else:
        # xlogy: 0 * log 0 = 0, as PyTorch (the gradient to target there is 0 too).
        pos = t.data > 0
        one = _const(xp.ones((), dtype=t.data.dtype))
        zero = _const(xp.zeros((), dtype=t.data.dtype))
        t_safe = Where.apply(t, one, cond=pos)
        xlogy = Where.apply(t * log(t_safe), zero, cond=pos)
        pointwise = xlogy - t * x
    if reduction == "batchmean":
        n = x.shape[0] if x.ndim else 1
        return pointwise.sum() / n
    return _reduce(pointwise, reduction)


def smooth_l1_loss(
    input: Any,  # noqa: A002
    target: Any,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """Quadratic (0.5 d**2 / beta) for |d| < beta, linear (|d| - beta / 2) beyond.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.smooth_l1_loss(rg.tensor([0.5, 3.0]), rg.tensor([0.0, 0.0])).item()
        1.3125
    """
    check_reduction(reduction, "smooth_l1_loss")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be a number >= 0, got {beta!r}")
    x = _float_tensor(input, "smooth_l1_loss", "input")
    t = _float_tensor(target, "smooth_l1_loss", "target", x)
    _same_shape(x, t, "smooth_l1_loss")
    return _reduce(SmoothL1.apply(x, t, beta=float(beta)), reduction)


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along ``dim`` (they broadcast).

    Each vector is divided by its norm clamped to at least ``eps`` (PyTorch's form: the
    clamp itself passes no gradient).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.cosine_similarity(rg.tensor([[1.0, 0.0]]), rg.tensor([[1.0, 1.0]])).item()
        0.7071067690849304
    """
    from .aggregate import vector_norm
    from .indexing import dim_arg
    from .shape import expand

    a = _float_tensor(x1, "cosine_similarity", "x1")
    b = _float_tensor(x2, "cosine_similarity", "x2", a)
    try:
        shape = xp.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"cosine_similarity: x1 of shape {a.shape} and x2 of shape {b.shape} do not broadcast"
        ) from None
    if a.shape != shape:
        a = expand(a, shape)
    if b.shape != shape:
        b = expand(b, shape)
    d = dim_arg(dim, len(shape), "cosine_similarity")

    def unit(v: Tensor) -> Tensor:
        n = vector_norm(v, 2, d, keepdim=True)
        # The clamp shifts the value only; its gradient is that of the unclamped norm.
        lift = xp.maximum(n.data, eps) - n.data
        return v / (n + _const(lift.astype(n.data.dtype)))

    return (unit(a) * unit(b)).sum(d)


def cosine_embedding_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> x = rg.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> F.cosine_embedding_loss(x, x, rg.tensor([1.0, -1.0])).item()
        0.5
    """
    from .elementwise import clip, where

    check_reduction(reduction, "cosine_embedding_loss")
    a = _float_tensor(input1, "cosine_embedding_loss", "input1")
    b = _float_tensor(input2, "cosine_embedding_loss", "input2", a)
    _same_shape(a, b, "cosine_embedding_loss", "input2")
    if a.ndim not in (1, 2):
        raise ValueError(
            f"cosine_embedding_loss: inputs must be (N, D) or (D,), got shape {a.shape}"
        )
    y = target.data if isinstance(target, Tensor) else xp.asarray(target)
    if y.shape != a.shape[:-1]:
        raise ValueError(
            f"cosine_embedding_loss: target has shape {y.shape}, expected {a.shape[:-1]}"
        )
    d = a.ndim - 1
    eps = 1e-12  # PyTorch's EPSILON added to each squared norm
    dot = (a * b).sum(d)
    m1 = (a * a).sum(d) + eps
    m2 = (b * b).sum(d) + eps
    cos = dot / (m1 * m2).sqrt()
    zero = _const(xp.zeros((), dtype=a.data.dtype))
    pos = where(y == 1, 1.0 - cos, zero)
    neg = where(y == -1, clip(cos - float(margin), min=0.0), zero)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -target * (input1 - input2) + margin); target is 1 or -1 (they broadcast).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.margin_ranking_loss(rg.tensor([1.0]), rg.tensor([2.0]), rg.tensor([1.0])).item()
        1.0
    """
    from .elementwise import clip

    check_reduction(reduction, "margin_ranking_loss")
    a = _float_tensor(input1, "margin_ranking_loss", "input1")
    b = _float_tensor(input2, "margin_ranking_loss", "input2", a)
    y = _float_tensor(target, "margin_ranking_loss", "target", a)
    try:
        xp.broadcast_shapes(a.shape, b.shape, y.shape)
    except ValueError:
        raise ValueError(
            f"margin_ranking_loss: input1 {a.shape}, input2 {b.shape} and target {y.shape} "
            "do not broadcast"
        ) from None
    return _reduce(clip(-y * (a - b) + float(margin), min=0.0), reduction)


__all__ = [
    "cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "mse", "l1_loss",
    "huber_loss", "generalized_cross_entropy", "symmetric_cross_entropy",
    "nll_loss", "binary_cross_entropy", "kl_div", "smooth_l1_loss", "cosine_similarity",
    "cosine_embedding_loss", "margin_ranking_loss",
]  # fmt: skip
