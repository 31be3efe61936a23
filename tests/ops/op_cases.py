"""One table of op cases that drives the gradcheck, the PyTorch comparison and the dtype test.

Each :class:`Case` holds the retrograd computation, the same computation written with
PyTorch (``torch_fn(torch, *args)``; torch is passed in, never imported here), and one
maker per argument. A maker returns an ndarray for a ``numpy.random.Generator`` and a
float dtype; float arguments are differentiated unless listed in ``nograd``, integer and
boolean ones (targets, masks, indices) are passed through as constants.

``covers`` names the primitives (``PRIMITIVES`` keys) a case checks; tests/ops/
test_op_cases.py verifies that each of them really appears in the case's graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import retrograd as rg
from retrograd import ops as R
from retrograd.nn import functional as RF

Maker = Callable[[np.random.Generator, Any], np.ndarray]


@dataclass(frozen=True)
class Case:
    id: str
    covers: tuple
    fn: Callable
    torch_fn: Callable
    args: tuple
    nograd: tuple = ()
    gradcheck_kwargs: dict = field(default_factory=dict)

    def make(self, rng: np.random.Generator, dtype: Any) -> list:
        return [m(rng, dtype) for m in self.args]

    def differentiable(self, arrays: list) -> list:
        return [a.dtype.kind == "f" and i not in self.nograd for i, a in enumerate(arrays)]


# ------------------------------------------------------------------------- makers


def normal(*shape: int, scale: float = 1.0) -> Maker:
    # np.asarray: a 0-d draw is a NumPy scalar, which gradcheck would treat as a constant.
    return lambda rng, dt: np.asarray(rng.standard_normal(shape) * scale, dtype=dt)


def positive(*shape: int, low: float = 0.5, high: float = 2.0) -> Maker:
    return lambda rng, dt: rng.uniform(low, high, shape).astype(dt)


def distinct(*shape: int) -> Maker:
    """Distinct values 0.37 apart, none within 0.01 of 0 or +-0.5: safe around kinks and ties."""

    def make(rng, dt):
        n = int(np.prod(shape))
        v = (rng.permutation(n) - (n - 1) / 2) * 0.37 + 0.013
        return v.reshape(shape).astype(dt)

    return make


def probs(*shape: int) -> Maker:
    """Rows of class probabilities along axis 1 (the class axis of cross_entropy)."""

    def make(rng, dt):
        e = np.exp(rng.standard_normal(shape))
        return (e / e.sum(axis=1, keepdims=True)).astype(dt)

    return make


def uniform01(*shape: int) -> Maker:
    return lambda rng, dt: rng.uniform(0.0, 1.0, shape).astype(dt)


def ints(low: int, high: int, *shape: int) -> Maker:
    return lambda rng, dt: rng.integers(low, high, shape)


def mask(*shape: int) -> Maker:
    return lambda rng, dt: rng.random(shape) > 0.5


def const(value: Any) -> Maker:
    arr = np.asarray(value)
    return lambda rng, dt: arr.astype(dt) if arr.dtype.kind == "f" else arr.copy()


CASES: list = []


def case(id: str, covers: Any, fn: Callable, torch_fn: Callable, *args: Maker, **kw: Any) -> None:  # noqa: A002
    covers = (covers,) if isinstance(covers, str) else tuple(covers)
    CASES.append(Case(id, covers, fn, torch_fn, tuple(args), **kw))


# ------------------------------------------------------------- elementwise, binary

_BROADCAST_SHAPES = [
    ("same", (3, 4), (3, 4)),
    ("row", (3, 4), (4,)),
    ("col", (3, 1), (1, 4)),
    ("3d", (2, 1, 3), (4, 1)),
    ("scalar", (), (3,)),
]

for tag, sa, sb in _BROADCAST_SHAPES:
    case(f"add-{tag}", "Add", lambda a, b: a + b, lambda t, a, b: a + b, normal(*sa), normal(*sb))
    case(f"sub-{tag}", "Sub", lambda a, b: a - b, lambda t, a, b: a - b, normal(*sa), normal(*sb))
    case(f"mul-{tag}", "Mul", lambda a, b: a * b, lambda t, a, b: a * b, normal(*sa), normal(*sb))
    case(f"div-{tag}", "Div", lambda a, b: a / b, lambda t, a, b: a / b, normal(*sa),
         positive(*sb))  # fmt: skip
    case(f"pow-{tag}", "Pow", lambda a, b: a**b, lambda t, a, b: a**b, positive(*sa),
         normal(*sb))  # fmt: skip
    case(f"maximum-{tag}", "Maximum", R.maximum, lambda t, a, b: t.maximum(a, b),
         normal(*sa), normal(*sb))  # fmt: skip
    case(f"minimum-{tag}", "Minimum", R.minimum, lambda t, a, b: t.minimum(a, b),
         normal(*sa), normal(*sb))  # fmt: skip

# Python scalars on either side keep the tensor's dtype (float32 stays float32).
case("add-pyscalar", "Add", lambda a: a + 2.5, lambda t, a: a + 2.5, normal(3))
case("radd-pyscalar", "Add", lambda a: 2.5 + a, lambda t, a: 2.5 + a, normal(3))
case("rsub-pyscalar", "Sub", lambda a: 1.5 - a, lambda t, a: 1.5 - a, normal(3))
case("mul-pyscalar", "Mul", lambda a: a * -3.0, lambda t, a: a * -3.0, normal(3))
case("rdiv-pyscalar", "Div", lambda a: 2.0 / a, lambda t, a: 2.0 / a, positive(3))
case("pow-int", "Pow", lambda a: a**3, lambda t, a: a**3, normal(2, 3))
case("pow-negative-base", "Pow", lambda a: a**2.0, lambda t, a: a**2.0, distinct(4))
case("pow-half", "Pow", lambda a: a**0.5, lambda t, a: a**0.5, positive(4))
case("rpow", "Pow", lambda a: 2.0**a, lambda t, a: 2.0**a, normal(3))
case("maximum-pyscalar", "Maximum", lambda a: R.maximum(a, 0.25),
     lambda t, a: t.clamp_min(a, 0.25), distinct(3, 2))  # fmt: skip
case("where", "Where", lambda c, a, b: R.where(c, a, b), lambda t, c, a, b: t.where(c, a, b),
     mask(3, 4), normal(3, 4), normal(4))  # fmt: skip
case("where-scalar", "Where", lambda c, a: R.where(c, a, 0.0),
     lambda t, c, a: t.where(c, a, 0.0), mask(2, 3), normal(2, 3))  # fmt: skip
case("where-cond-broadcast", "Where", lambda c, a, b: R.where(c, a, b),
     lambda t, c, a, b: t.where(c, a, b), mask(4), normal(3, 1), normal(3, 4))  # fmt: skip

# -------------------------------------------------------------- elementwise, unary

case("neg", "Neg", lambda a: -a, lambda t, a: -a, normal(3, 4))
case("exp", "Exp", R.exp, lambda t, a: t.exp(a), normal(3, 4))
case("log", "Log", R.log, lambda t, a: t.log(a), positive(3, 4))
case("log1p", "Log1p", R.log1p, lambda t, a: t.log1p(a), positive(3, 4, low=-0.5, high=2.0))
case("sqrt", "Sqrt", R.sqrt, lambda t, a: t.sqrt(a), positive(3, 4))
case("abs", "Abs", R.abs, lambda t, a: t.abs(a), distinct(3, 4))
case("tanh", "Tanh", R.tanh, lambda t, a: t.tanh(a), normal(3, 4))
case("sigmoid", "Sigmoid", R.sigmoid, lambda t, a: t.sigmoid(a), normal(3, 4, scale=3.0))
case("relu", "Relu", R.relu, lambda t, a: t.relu(a), distinct(3, 4))


def _dropout(a):
    rg.manual_seed(11)  # the same mask at every evaluation (gradcheck makes many)
    return R.elementwise.Dropout.apply(a, p=0.4)


def _dropout_torch(t, a):
    # PyTorch draws its masks differently: apply the mask retrograd documents instead.
    keep = np.random.default_rng(11).random(tuple(a.shape), dtype=np.float32) >= 0.4
    return a * t.from_numpy(keep.astype(np.float64) / 0.6).to(a.dtype)


case("dropout", "Dropout", _dropout, _dropout_torch, normal(4, 5))
case("leaky_relu", "LeakyRelu", lambda a: R.leaky_relu(a, 0.2),
     lambda t, a: t.nn.functional.leaky_relu(a, 0.2), distinct(3, 4))  # fmt: skip
case("leaky_relu-default", "LeakyRelu", R.leaky_relu,
     lambda t, a: t.nn.functional.leaky_relu(a), distinct(5))  # fmt: skip
case("gelu", "Gelu", R.gelu, lambda t, a: t.nn.functional.gelu(a), normal(3, 4, scale=2.0))
case("gelu-tanh", "Gelu", lambda a: R.gelu(a, approximate="tanh"),
     lambda t, a: t.nn.functional.gelu(a, approximate="tanh"), normal(3, 4, scale=2.0))  # fmt: skip
case("softplus", "Softplus", R.softplus, lambda t, a: t.nn.functional.softplus(a),
     normal(3, 4, scale=3.0))  # fmt: skip
case("softplus-beta-threshold", "Softplus", lambda a: R.softplus(a, beta=2.0, threshold=1.0),
     lambda t, a: t.nn.functional.softplus(a, beta=2.0, threshold=1.0),
     distinct(3, 4))  # fmt: skip
case("clip", "Clip", lambda a: R.clip(a, -0.5, 0.5), lambda t, a: t.clamp(a, -0.5, 0.5),
     distinct(3, 4))  # fmt: skip
case("clip-min", "Clip", lambda a: a.clip(min=0.5), lambda t, a: t.clamp(a, min=0.5),
     distinct(3, 4))  # fmt: skip
case("clip-max", "Clip", lambda a: a.clamp(max=-0.5), lambda t, a: t.clamp(a, max=-0.5),
     distinct(3, 4))  # fmt: skip


def _roundtrip(a):
    # Through the other float precision and back: exercises Cast in both directions while
    # the result keeps the input's dtype. Finite differences need a step far above the
    # float32 rounding (hence eps below).
    other = "float32" if a.dtype == np.float64 else "float64"
    return R.cast(R.cast(a, other) * 3.0, a.dtype)


def _torch_roundtrip(t, a):
    other = t.float32 if a.dtype == t.float64 else t.float64
    return (a.to(other) * 3.0).to(a.dtype)


case("cast-roundtrip", "Cast", _roundtrip, _torch_roundtrip, normal(3, 4),
     gradcheck_kwargs={"eps": 1e-2})  # fmt: skip

# --------------------------------------------------------------------- reductions


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


_REDUCE_VARIANTS = [
    ((3, 4), None, False),
    ((3, 4), None, True),
    ((3, 4), 0, False),
    ((3, 4), -1, True),
    ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), (2, 1), True),
    ((5,), 0, False),
]

for shape, axis, kd in _REDUCE_VARIANTS:
    tag = f"{shape}-axis{axis}-kd{int(kd)}".replace(" ", "")
    nd = len(shape)
    case(f"sum-{tag}", "Sum", lambda a, ax=axis, k=kd: a.sum(axis=ax, keepdims=k),
         lambda t, a, ax=axis, k=kd, n=nd: t.sum(a, dim=_dims(ax, n), keepdim=k),
         normal(*shape))  # fmt: skip
    case(f"mean-{tag}", "Mean", lambda a, ax=axis, k=kd: a.mean(axis=ax, keepdims=k),
         lambda t, a, ax=axis, k=kd, n=nd: t.mean(a, dim=_dims(ax, n), keepdim=k),
         normal(*shape))  # fmt: skip
    case(f"max-{tag}", "Max", lambda a, ax=axis, k=kd: a.max(axis=ax, keepdims=k),
         lambda t, a, ax=axis, k=kd, n=nd: t.amax(a, dim=_dims(ax, n), keepdim=k),
         distinct(*shape))  # fmt: skip
    case(f"min-{tag}", "Min", lambda a, ax=axis, k=kd: a.min(axis=ax, keepdims=k),
         lambda t, a, ax=axis, k=kd, n=nd: t.amin(a, dim=_dims(ax, n), keepdim=k),
         distinct(*shape))  # fmt: skip
    case(f"logsumexp-{tag}", "LogSumExp",
         lambda a, ax=axis, k=kd: a.logsumexp(axis=ax, keepdims=k),
         lambda t, a, ax=axis, k=kd, n=nd: t.logsumexp(a, dim=_dims(ax, n), keepdim=k),
         normal(*shape, scale=3.0))  # fmt: skip
    for corr in (0, 1):
        case(f"var-c{corr}-{tag}", ("Mean", "Sub", "Mul", "Sum", "Div"),
             lambda a, ax=axis, k=kd, c=corr: R.var(a, axis=ax, keepdims=k, correction=c),
             lambda t, a, ax=axis, k=kd, n=nd, c=corr: t.var(
                 a, dim=_dims(ax, n), keepdim=k, correction=c),
             normal(*shape))  # fmt: skip
    case(f"std-{tag}", "Sqrt", lambda a, ax=axis, k=kd: a.std(axis=ax, keepdims=k),
         lambda t, a, ax=axis, k=kd, n=nd: t.std(a, dim=_dims(ax, n), keepdim=k),
         normal(*shape))  # fmt: skip

# Ties share the gradient evenly (PyTorch's amax rule); two-way ties only, where central
# differences agree with the even split (a three-way tie gives 1/2 numerically, 1/3 here).
case("max-ties", "Max", lambda a: a.max(axis=1), lambda t, a: t.amax(a, dim=1),
     const([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]]))  # fmt: skip
case("min-ties-all", "Min", lambda a: a.min(), lambda t, a: t.amin(a),
     const([[1.0, 3.0, 1.0], [2.0, 5.0, 4.0]]))  # fmt: skip
case("sum-0d", "Sum", lambda a: a.sum(), lambda t, a: a.sum(), normal())
# max(dim)/min(dim): the gradient goes to the returned index (torch.max(dim) semantics).
case("max-dim", "MaxDim", lambda a: a.max(1).values, lambda t, a: a.max(1).values,
     distinct(3, 4))  # fmt: skip
case("max-dim-keep", "MaxDim", lambda a: a.max(0, keepdim=True).values,
     lambda t, a: a.max(0, keepdim=True).values, distinct(3, 4))  # fmt: skip
case("min-dim-neg", "MaxDim", lambda a: a.min(dim=-1).values, lambda t, a: a.min(dim=-1).values,
     distinct(2, 3, 4))  # fmt: skip
# 0-d tensors take dim 0 and -1, as in PyTorch.
case("sum-0d-dim", "Sum", lambda a: a.sum(0), lambda t, a: a.sum(0), normal())
case("mean-0d-dim", "Mean", lambda a: a.mean(-1, keepdim=True),
     lambda t, a: a.mean(-1, keepdim=True), normal())  # fmt: skip
case("max-0d-dim", "Max", lambda a: a.max(0).values, lambda t, a: a.max(0).values, normal())
case("clone", "Clone", lambda a: a.clone() * a, lambda t, a: a.clone() * a, normal(3, 4))

# ------------------------------------------------------------------ shape, indexing

case("reshape", "Reshape", lambda a: a.reshape(4, -1), lambda t, a: a.reshape(4, -1),
     normal(2, 3, 4))  # fmt: skip
case("reshape-tuple", "Reshape", lambda a: R.reshape(a, (6,)), lambda t, a: a.reshape(6),
     normal(2, 3))  # fmt: skip
case("flatten", "Reshape", lambda a: a.flatten(1), lambda t, a: a.flatten(1), normal(2, 3, 4))
case("squeeze", "Reshape", lambda a: a.squeeze(), lambda t, a: a.squeeze(), normal(1, 3, 1))
case("squeeze-axis", "Reshape", lambda a: a.squeeze(-1), lambda t, a: a.squeeze(-1),
     normal(1, 3, 1))  # fmt: skip
case("unsqueeze", "Reshape", lambda a: a.unsqueeze(1), lambda t, a: a.unsqueeze(1),
     normal(3, 2))  # fmt: skip
case("permute", "Permute", lambda a: a.permute(2, 0, 1), lambda t, a: a.permute(2, 0, 1),
     normal(2, 3, 4))  # fmt: skip
case("transpose", "Permute", lambda a: a.transpose(0, 2), lambda t, a: a.transpose(0, 2),
     normal(2, 3, 4))  # fmt: skip
case("T", "Permute", lambda a: a.T, lambda t, a: a.permute(2, 1, 0), normal(2, 3, 4))
case("mT", "Permute", lambda a: a.mT, lambda t, a: a.mT, normal(2, 3, 4))
case("expand", "Expand", lambda a: a.expand(2, 3, 4), lambda t, a: a.expand(2, 3, 4),
     normal(3, 1))  # fmt: skip
case("expand-keep", "Expand", lambda a: a.expand(-1, 5), lambda t, a: a.expand(-1, 5),
     normal(3, 1))  # fmt: skip
case("concatenate", "Concatenate", lambda a, b, c: R.concatenate([a, b, c], axis=1),
     lambda t, a, b, c: t.cat([a, b, c], dim=1), normal(2, 1), normal(2, 3),
     normal(2, 2))  # fmt: skip
case("cat-axis0-neg", "Concatenate", lambda a, b: R.cat([a, b], axis=-2),
     lambda t, a, b: t.cat([a, b], dim=-2), normal(1, 3), normal(2, 3))  # fmt: skip
case("stack", ("Concatenate", "Reshape"), lambda a, b: R.stack([a, b], axis=1),
     lambda t, a, b: t.stack([a, b], dim=1), normal(2, 3), normal(2, 3))  # fmt: skip
case("stack-last", ("Concatenate", "Reshape"), lambda a, b: R.stack([a, b], axis=-1),
     lambda t, a, b: t.stack([a, b], dim=-1), normal(3), normal(3))  # fmt: skip
# NumPy's pad_width is ((before, after), ...) first dim first; torch's is last dim first.
case("pad", "Pad", lambda a: R.pad(a, ((1, 0), (2, 1))),
     lambda t, a: t.nn.functional.pad(a, (2, 1, 1, 0)), normal(2, 3))  # fmt: skip
case("pad-value", "Pad", lambda a: a.pad(((0, 0), (1, 1), (0, 2)), value=1.5),
     lambda t, a: t.nn.functional.pad(a, (0, 2, 1, 1), value=1.5), normal(2, 2, 2))  # fmt: skip
case("getitem-int", "GetItem", lambda a: a[1], lambda t, a: a[1], normal(3, 4))
case("getitem-slice", "GetItem", lambda a: a[1:, ::2], lambda t, a: a[1:, ::2], normal(3, 5))
case("getitem-ellipsis-none", "GetItem", lambda a: a[..., None, 0],
     lambda t, a: a[..., None, 0], normal(2, 3))  # fmt: skip
case("getitem-repeated", "GetItem", lambda a: a[[0, 2, 0, 0]], lambda t, a: a[[0, 2, 0, 0]],
     normal(3, 2))  # fmt: skip
case("getitem-2d-fancy", "GetItem", lambda a: a[[0, 1, 1], [2, 2, 0]],
     lambda t, a: a[[0, 1, 1], [2, 2, 0]], normal(2, 3))  # fmt: skip
case("getitem-mixed", "GetItem", lambda a: a[:, [1, 1, 3]], lambda t, a: a[:, [1, 1, 3]],
     normal(2, 4))  # fmt: skip
case("getitem-tensor-index", "GetItem", lambda a, i: a[i], lambda t, a, i: a[i],
     normal(4, 2), ints(0, 4, 6))  # fmt: skip
case("getitem-bool-mask", "GetItem", lambda a, m: a[m], lambda t, a, m: a[m],
     normal(3, 4), mask(3, 4))  # fmt: skip

# ---------------------------------------------------------------------- linalg

_MATMUL_SHAPES = [
    ("2d", (3, 4), (4, 5)),
    ("vec-mat", (4,), (4, 5)),
    ("mat-vec", (3, 4), (4,)),
    ("dot", (4,), (4,)),
    ("batch-mat", (2, 3, 4), (4, 5)),
    ("batch-broadcast", (2, 1, 3, 4), (5, 4, 2)),
    ("vec-batch", (4,), (2, 4, 3)),
    ("batch-vec", (2, 3, 4), (4,)),
]
for tag, sa, sb in _MATMUL_SHAPES:
    case(f"matmul-{tag}", "MatMul", lambda a, b: a @ b, lambda t, a, b: a @ b, normal(*sa),
         normal(*sb))  # fmt: skip

# ----------------------------------------------------------------------- fused

case("linear", "Linear", R.linear, lambda t, x, w, b: t.nn.functional.linear(x, w, b),
     normal(4, 3), normal(2, 3), normal(2))  # fmt: skip
case("linear-nobias", "Linear", R.linear, lambda t, x, w: t.nn.functional.linear(x, w),
     normal(4, 3), normal(2, 3))  # fmt: skip
case("linear-3d", "Linear", R.linear, lambda t, x, w, b: t.nn.functional.linear(x, w, b),
     normal(2, 4, 3), normal(5, 3), normal(5))  # fmt: skip
case("linear-1d", "Linear", R.linear, lambda t, x, w, b: t.nn.functional.linear(x, w, b),
     normal(3), normal(2, 3), normal(2))  # fmt: skip
# LinearAct: Linear + activation in one node (what nn.Sequential runs for Linear, ReLU).
for _act in ("relu", "tanh", "sigmoid"):
    case(f"linear-{_act}", "LinearAct",
         lambda x, w, b, _a=_act: R.linalg.LinearAct.apply(x, w, b, act=_a),
         lambda t, x, w, b, _a=_act: getattr(t, _a)(t.nn.functional.linear(x, w, b)),
         normal(4, 3), normal(2, 3), normal(2))  # fmt: skip
case("linear-relu-3d-nobias", "LinearAct",
     lambda x, w: R.linalg.LinearAct.apply(x, w, act="relu"),
     lambda t, x, w: t.relu(t.nn.functional.linear(x, w)),
     normal(2, 4, 3), normal(5, 3))  # fmt: skip
case("softmax", "Softmax", R.softmax, lambda t, a: t.softmax(a, dim=-1), normal(3, 4))
case("softmax-axis0", "Softmax", lambda a: R.softmax(a, axis=0),
     lambda t, a: t.softmax(a, dim=0), normal(3, 4, scale=3.0))  # fmt: skip
case("log_softmax", "LogSoftmax", R.log_softmax, lambda t, a: t.log_softmax(a, dim=-1),
     normal(3, 4))  # fmt: skip
case("log_softmax-axis1-3d", "LogSoftmax", lambda a: a.log_softmax(axis=1),
     lambda t, a: t.log_softmax(a, dim=1), normal(2, 3, 4, scale=3.0))  # fmt: skip


def _ce(**kw):
    def fn(z, y):
        return R.cross_entropy(z, y, **kw)

    def tfn(t, z, y):
        kw2 = dict(kw)
        if "weight" in kw2:
            kw2["weight"] = t.tensor(np.asarray(kw2["weight"]), dtype=z.dtype)
        return t.nn.functional.cross_entropy(z, y, **kw2)

    return fn, tfn


_W4 = [0.5, 2.0, 1.0, 0.25]
_CE_VARIANTS = [
    ("mean", {}, ints(0, 4, 5)),
    ("sum", {"reduction": "sum"}, ints(0, 4, 5)),
    ("none", {"reduction": "none"}, ints(0, 4, 5)),
    ("weight", {"weight": _W4}, ints(0, 4, 5)),
    ("weight-sum", {"weight": _W4, "reduction": "sum"}, ints(0, 4, 5)),
    ("smoothing", {"label_smoothing": 0.1}, ints(0, 4, 5)),
    ("smoothing-weight", {"label_smoothing": 0.2, "weight": _W4}, ints(0, 4, 5)),
    ("ignore", {}, const([0, -100, 3, 1, -100])),
    ("ignore-custom-none", {"ignore_index": 2, "reduction": "none"}, const([0, 2, 3, 1, 2])),
    ("ignore-weight-smooth", {"weight": _W4, "label_smoothing": 0.1}, const([0, -100, 3, 1, 1])),
]
for tag, kw, target in _CE_VARIANTS:
    f, tf = _ce(**kw)
    case(f"cross_entropy-{tag}", "CrossEntropy", f, tf, normal(5, 4, scale=2.0), target)

for tag, kw in [("", {}), ("-smooth-weight", {"label_smoothing": 0.1, "weight": _W4}),
                ("-sum", {"reduction": "sum"}), ("-none", {"reduction": "none"})]:  # fmt: skip
    f, tf = _ce(**kw)
    case(f"cross_entropy-probs{tag}", "CrossEntropy", f, tf, normal(5, 4), probs(5, 4),
         nograd=(1,))  # fmt: skip

f, tf = _ce()
case("cross_entropy-spatial", ("CrossEntropy", "Permute", "Reshape"), f, tf,
     normal(2, 4, 3), ints(0, 4, 2, 3))  # fmt: skip
f, tf = _ce(reduction="none")
case("cross_entropy-spatial-none", "CrossEntropy", f, tf, normal(2, 3, 2, 2), ints(0, 3, 2, 2, 2))
case("cross_entropy-spatial-probs", "CrossEntropy", f, tf, normal(2, 3, 4), probs(2, 3, 4),
     nograd=(1,))  # fmt: skip
f, tf = _ce()
case("cross_entropy-unbatched", "CrossEntropy", f, tf, normal(4), const(2))


def _bce(**kw):
    def fn(z, y):
        return R.binary_cross_entropy_with_logits(z, y, **kw)

    def tfn(t, z, y):
        kw2 = {k: (t.tensor(np.asarray(v)) if k in ("weight", "pos_weight") else v)
               for k, v in kw.items()}  # fmt: skip
        return t.nn.functional.binary_cross_entropy_with_logits(z, y, **kw2)

    return fn, tfn


for tag, kw in [
    ("mean", {}),
    ("sum", {"reduction": "sum"}),
    ("none", {"reduction": "none"}),
    ("weight", {"weight": [[1.0, 0.5, 2.0]]}),
    ("pos_weight", {"pos_weight": [3.0, 0.5, 1.0]}),
    ("both-none", {"weight": [0.3, 1.0, 2.0], "pos_weight": [2.0, 1.0, 0.2], "reduction": "none"}),
]:
    f, tf = _bce(**kw)
    case(f"bce_logits-{tag}", "BCEWithLogits", f, tf, normal(4, 3, scale=3.0), uniform01(4, 3))

for red in ("mean", "sum", "none"):
    case(f"mse-{red}", "MSE", lambda a, b, r=red: R.mse_loss(a, b, reduction=r),
         lambda t, a, b, r=red: t.nn.functional.mse_loss(a, b, reduction=r), normal(3, 4),
         normal(3, 4))  # fmt: skip

# A small network end to end: many primitives composed, checked as one function.
case("mlp-composite", ("Linear", "Tanh", "CrossEntropy"),
     lambda x, w1, b1, w2, y: R.cross_entropy(R.linear(R.linear(x, w1, b1).tanh(), w2), y),
     lambda t, x, w1, b1, w2, y: t.nn.functional.cross_entropy(
         t.nn.functional.linear(t.tanh(t.nn.functional.linear(x, w1, b1)), w2), y),
     normal(4, 3), normal(5, 3), normal(5), normal(2, 5), ints(0, 2, 4))  # fmt: skip

# ------------------------------------------------------- pointwise math (ops/pointwise)


def unit(*shape: int, bound: float = 0.9) -> Maker:
    """Uniform in (-bound, bound): inside the domain of asin, acos, atanh."""
    return lambda rng, dt: rng.uniform(-bound, bound, shape).astype(dt)


def away_from_ints(*shape: int) -> Maker:
    """Values at least 0.1 from a whole number: floor/round/remainder away from their jumps."""

    def make(rng, dt):
        v = rng.integers(-4, 4, shape) + rng.uniform(0.1, 0.9, shape)
        return v.astype(dt)

    return make


for _name, _maker in [
    ("sin", normal(3, 4, scale=2.0)), ("cos", normal(3, 4, scale=2.0)),
    ("tan", unit(3, 4, bound=1.2)), ("asin", unit(3, 4)), ("acos", unit(3, 4)),
    ("atan", normal(3, 4, scale=2.0)), ("sinh", normal(3, 4)), ("cosh", normal(3, 4)),
    ("asinh", normal(3, 4, scale=2.0)), ("acosh", positive(3, 4, low=1.2, high=4.0)),
    ("atanh", unit(3, 4)), ("log2", positive(3, 4)), ("log10", positive(3, 4)),
    ("expm1", normal(3, 4)), ("exp2", normal(3, 4)), ("rsqrt", positive(3, 4)),
    ("erf", normal(3, 4)),
]:  # fmt: skip
    _cls = _name.capitalize() if _name not in ("log2", "log10", "expm1", "exp2") else {
        "log2": "Log2", "log10": "Log10", "expm1": "Expm1", "exp2": "Exp2"}[_name]  # fmt: skip
    case(_name, _cls, getattr(R, _name), lambda t, a, n=_name: getattr(t, n)(a), _maker)
    case(f"{_name}-method", _cls, lambda a, n=_name: getattr(a, n)(),
         lambda t, a, n=_name: getattr(a, n)(), _maker)  # fmt: skip

for _name in ("sign", "floor", "ceil", "trunc", "round"):
    case(_name, "Step", getattr(R, _name), lambda t, a, n=_name: getattr(t, n)(a),
         away_from_ints(3, 4))  # fmt: skip
case("round-decimals", "Step", lambda a: R.round(a, decimals=1),
     lambda t, a: t.round(a, decimals=1), const([0.123, -2.371, 4.449]))  # fmt: skip

case("atan2", "Atan2", R.atan2, lambda t, a, b: t.atan2(a, b), normal(3, 4), normal(4))
case("atan2-quadrants", "Atan2", R.atan2, lambda t, a, b: t.atan2(a, b),
     const([1.0, 1.0, -1.0, -1.0]), const([1.0, -1.0, 1.0, -1.0]))  # fmt: skip
case("copysign", "Copysign", R.copysign, lambda t, a, b: t.copysign(a, b), distinct(3, 4),
     distinct(4))  # fmt: skip
case("logaddexp", "LogAddExp", R.logaddexp, lambda t, a, b: t.logaddexp(a, b),
     normal(3, 4, scale=3.0), normal(3, 1, scale=3.0))  # fmt: skip
case("logaddexp-large", "LogAddExp", R.logaddexp, lambda t, a, b: t.logaddexp(a, b),
     const([1000.0, -1000.0, 5.0]), const([999.0, -1001.0, 5.0]))  # fmt: skip
case("remainder", "Remainder", lambda a, b: a % b, lambda t, a, b: a % b,
     away_from_ints(3, 4), const([2.0, -2.0, 3.0, -3.0]))  # fmt: skip
case("remainder-scalar", "Remainder", lambda a: R.remainder(a, 1.5),
     lambda t, a: t.remainder(a, 1.5), const([-2.0, -0.2, 0.4, 3.3]))  # fmt: skip
case("fmod", "Remainder", R.fmod, lambda t, a, b: t.fmod(a, b), away_from_ints(3, 4),
     const([2.0, -2.0, 3.0, -3.0]))  # fmt: skip
case("div-trunc", "RoundedDiv", lambda a, b: rg.div(a, b, rounding_mode="trunc"),
     lambda t, a, b: t.div(a, b, rounding_mode="trunc"), away_from_ints(3, 4),
     const([2.0, -2.0, 3.0, -3.0]))  # fmt: skip
case("div-floor", "RoundedDiv", lambda a, b: rg.div(a, b, rounding_mode="floor"),
     lambda t, a, b: t.div(a, b, rounding_mode="floor"), away_from_ints(3, 4),
     const([2.0, -2.0, 3.0, -3.0]))  # fmt: skip
case("floordiv-operator", "RoundedDiv", lambda a: a // 2.0,
     lambda t, a: t.div(a, 2.0, rounding_mode="floor"), away_from_ints(3, 4))  # fmt: skip
case("div-true", "Div", lambda a, b: rg.div(a, b), lambda t, a, b: t.div(a, b), normal(3, 4),
     positive(4))  # fmt: skip
case("lerp-scalar", "Lerp", lambda a, b: R.lerp(a, b, 0.3), lambda t, a, b: t.lerp(a, b, 0.3),
     normal(3, 4), normal(3, 4))  # fmt: skip
case("lerp-tensor", "Lerp", R.lerp, lambda t, a, b, w: t.lerp(a, b, w), normal(3, 4),
     normal(4), uniform01(3, 1))  # fmt: skip
case("lerp-weight-ends", "Lerp", R.lerp, lambda t, a, b, w: t.lerp(a, b, w), normal(4),
     normal(4), const([0.0, 1.0, 0.75, -0.5]))  # fmt: skip
case("clamp-tensors", "ClampTensor", lambda a, lo, hi: R.clamp(a, lo, hi),
     lambda t, a, lo, hi: t.clamp(a, lo, hi), distinct(3, 4), const([-0.5, 0.2, -1.0, 0.7]),
     const([0.5, 1.0, 0.3, 0.1]))  # fmt: skip
case("clamp-tensor-min", "ClampTensor", lambda a, lo: R.clamp(a, min=lo),
     lambda t, a, lo: t.clamp(a, min=lo), distinct(3, 4),
     const([[0.1], [-0.2], [0.3]]))  # fmt: skip
case("clamp-tensor-max-scalar-min", "ClampTensor", lambda a, hi: R.clamp(a, -0.4, hi),
     lambda t, a, hi: t.clamp(a, min=t.tensor(-0.4, dtype=a.dtype), max=hi), distinct(3, 4),
     const([0.5, -0.6, 0.35, 0.0]))  # fmt: skip
case("add-alpha", ("Add", "Mul"), lambda a, b: rg.add(a, b, alpha=-1.5),
     lambda t, a, b: t.add(a, b, alpha=-1.5), normal(3, 4), normal(4))  # fmt: skip
case("sub-alpha-method", ("Sub", "Mul"), lambda a, b: a.sub(b, alpha=2.0),
     lambda t, a, b: a.sub(b, alpha=2.0), normal(3, 4), normal(3, 1))  # fmt: skip
case("square", "Mul", rg.square, lambda t, a: t.square(a), normal(3, 4))
case("reciprocal", "Div", lambda a: a.reciprocal(), lambda t, a: a.reciprocal(), positive(3, 4))
case("rg-pow-neg-mul", ("Pow", "Neg", "Mul"), lambda a, b: rg.mul(rg.neg(rg.pow(a, 3)), b),
     lambda t, a, b: t.mul(t.neg(t.pow(a, 3)), b), normal(3, 4), normal(4))  # fmt: skip
case("where-method", "Where", lambda c, a, b: a.where(c, b), lambda t, c, a, b: a.where(c, b),
     mask(3, 4), normal(3, 4), normal(4))  # fmt: skip
case("masked_fill", "Where", lambda a, m: R.masked_fill(a, m, -1.5),
     lambda t, a, m: a.masked_fill(m, -1.5), normal(3, 4), mask(3, 4))  # fmt: skip
case("masked_fill-broadcast-tensor-value", "Where", lambda a, m, v: R.masked_fill(a, m, v),
     lambda t, a, m, v: a.masked_fill(m, v), normal(3, 4), mask(4), normal())  # fmt: skip
# Attention and embedding (retrograd.ops.attention).
_F = rg.nn.functional


def _causal_and(t, m, kw):
    if not (m and kw.get("is_causal")):
        return m
    return (m[0] & t.ones(m[0].shape[-2:], dtype=t.bool).tril(),)


for tag, kw, extra in [
    ("plain", {}, ()),
    ("causal", {"is_causal": True}, ()),
    ("scale", {"scale": 0.3}, ()),
    ("bool-mask", {}, (mask(4, 6),)),
    ("float-mask", {}, (normal(2, 1, 4, 6),)),
    ("causal-bool", {"is_causal": True}, (mask(4, 6),)),
]:
    # PyTorch combines attn_mask with is_causal in some kernels and refuses it in others
    # (with gradients); the reference gets the combined mask spelled out.
    case(f"sdpa-{tag}", "ScaledDotProductAttention",
         lambda q, k, v, *m, kw=kw: _F.scaled_dot_product_attention(q, k, v, *m, **kw),
         lambda t, q, k, v, *m, kw=kw: t.nn.functional.scaled_dot_product_attention(
             q, k, v, *_causal_and(t, m, kw), **{**kw, "is_causal": kw.get("is_causal", False)
             and not m}),
         normal(2, 3, 4, 5), normal(2, 3, 6, 5), normal(2, 3, 6, 7), *extra)  # fmt: skip
case(
    "embedding",
    "Embedding",
    lambda w, i: _F.embedding(i, w),
    lambda t, w, i: t.nn.functional.embedding(i, w),
    normal(7, 3),
    ints(0, 7, 2, 5),
)
# padding_idx and scale_grad_by_freq change the gradient on purpose (not a derivative):
# compared with PyTorch in tests/nn/test_attention.py instead.
# The VJP primitives that create_graph records (their own first derivatives checked here;
# their second derivatives by tests/autograd/test_second_order_ops.py).
_IDX = [0, 2, 2, 3]


def _slope(f):
    """x -> d sum(f(x)) / dx with create_graph (recorded even when called under no_grad)."""

    def fn(a):
        with rg.enable_grad():
            return rg.autograd.grad(f(a).sum(), a, create_graph=True)[0]

    return fn


case("gelu-slope", "GeluGrad", _slope(R.gelu),
     lambda t, a: t.autograd.grad(t.nn.functional.gelu(a).sum(), a, create_graph=True)[0],
     normal(3, 4, scale=2.0))  # fmt: skip
case("index-add", "IndexAdd", _slope(lambda a: a[_IDX] ** 3),
     lambda t, a: t.autograd.grad((a[_IDX] ** 3).sum(), a, create_graph=True)[0],
     normal(5))  # fmt: skip
_EMB_IDX = np.array([[0, 1, 1], [3, 1, 0]])
case("embedding-slope", "EmbeddingBackward",
     _slope(lambda w: rg.nn.functional.embedding(rg.tensor(_EMB_IDX), w, padding_idx=1) ** 3),
     lambda t, w: t.autograd.grad((t.nn.functional.embedding(
         t.tensor(_EMB_IDX), w, padding_idx=1) ** 3).sum(), w, create_graph=True)[0],
     normal(4, 3))  # fmt: skip


# Transposed and 1-D convolution, resampling (retrograd.ops.conv, retrograd.ops.resample).
for tag, kw in [
    ("plain", {}),
    ("stride-pad-outpad", {"stride": 2, "padding": 1, "output_padding": 1}),
    ("groups-dilation", {"stride": (2, 1), "groups": 2, "dilation": (1, 2)}),
]:
    case(f"conv_transpose2d-{tag}", "ConvTranspose2d",
         lambda x, w, b, kw=kw: _F.conv_transpose2d(x, w, b, **kw),
         lambda t, x, w, b, kw=kw: t.nn.functional.conv_transpose2d(x, w, b, **kw),
         normal(2, 4, 3, 4), normal(4, 3, 3, 2), normal(6 if "groups" in kw else 3))  # fmt: skip
case("conv_transpose1d", "ConvTranspose2d",
     lambda x, w: _F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
     lambda t, x, w: t.nn.functional.conv_transpose1d(x, w, stride=2, padding=1,
                                                      output_padding=1),
     normal(2, 3, 5), normal(3, 2, 3))  # fmt: skip
case("conv1d", "Conv2d", lambda x, w, b: _F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
     lambda t, x, w, b: t.nn.functional.conv1d(x, w, b, stride=2, padding=1, dilation=2),
     normal(2, 3, 9), normal(4, 3, 3), normal(4))  # fmt: skip
for tag, kw, shape in [
    ("nearest", {"scale_factor": 1.5}, (1, 2, 3, 4)),
    ("bilinear", {"size": (5, 3), "mode": "bilinear"}, (1, 2, 3, 4)),
    (
        "bilinear-corners",
        {"scale_factor": 2, "mode": "bilinear", "align_corners": True},
        (1, 2, 3, 4),
    ),
    ("linear", {"size": 7, "mode": "linear"}, (2, 2, 4)),
]:
    case(f"interpolate-{tag}", "GetItem", lambda x, kw=kw: _F.interpolate(x, **kw),
         lambda t, x, kw=kw: t.nn.functional.interpolate(x, **kw), normal(*shape))  # fmt: skip
case("pixel_shuffle", "Permute", lambda x: _F.pixel_unshuffle(_F.pixel_shuffle(x, 2) * x.sum(), 2),
     lambda t, x: t.nn.functional.pixel_unshuffle(t.nn.functional.pixel_shuffle(x, 2) * x.sum(),
                                                  2), normal(1, 8, 2, 3))  # fmt: skip

# ------------------------------------------- reductions, scans, sorting (aggregate, scan,
# sorting): tuple results are compared through their values, which carry the gradient.


def with_zeros(*shape: int, count: int = 1) -> Maker:
    """Distinct values with ``count`` exact zeros: the exact-zero paths of prod/cumprod."""

    def make(rng, dt):
        v = distinct(*shape)(rng, dt).reshape(-1)
        v[rng.choice(v.size, count, replace=False)] = 0.0
        return v.reshape(shape)

    return make


for _dim, _kd in [(None, False), (0, False), (1, True), (-1, False)]:
    case(f"prod-dim{_dim}-kd{int(_kd)}", "Prod",
         lambda a, d=_dim, k=_kd: R.prod(a) if d is None else R.prod(a, d, keepdim=k),
         lambda t, a, d=_dim, k=_kd: t.prod(a) if d is None else t.prod(a, d, keepdim=k),
         normal(3, 4))  # fmt: skip
case("prod-one-zero", "Prod", lambda a: R.prod(a, 1), lambda t, a: t.prod(a, 1),
     with_zeros(3, 4, count=1))  # fmt: skip
case("prod-two-zeros", "Prod", lambda a: R.prod(a), lambda t, a: t.prod(a),
     with_zeros(2, 3, count=2))  # fmt: skip
case("prod-zeros-dim", "Prod", lambda a: R.prod(a, 0), lambda t, a: t.prod(a, 0),
     const([[0.0, 2.0, 0.0], [3.0, 0.0, 0.0], [4.0, 5.0, 2.0]]))  # fmt: skip
_NORMS = [("fro", None, False), (2, 1, False), (1, 0, True), (float("inf"), 1, False),
          (float("-inf"), None, False), (3, (0, 1), True), (0.5, -1, False)]  # fmt: skip
for _p, _dim, _kd in _NORMS:
    case(f"norm-p{_p}-dim{_dim}-kd{int(_kd)}".replace(" ", ""), "VectorNorm",
         lambda a, p=_p, d=_dim, k=_kd: R.norm(a, p, d, k),
         lambda t, a, p=_p, d=_dim, k=_kd: t.norm(a, p, d, k), distinct(3, 4))  # fmt: skip
case("vector_norm-3d", "VectorNorm", lambda a: R.vector_norm(a, 2, (0, 2)),
     lambda t, a: t.linalg.vector_norm(a, 2, (0, 2)), normal(2, 3, 4))  # fmt: skip
case("normalize", ("VectorNorm", "Clip", "Div"), lambda a: R.aggregate.normalize(a),
     lambda t, a: t.nn.functional.normalize(a), normal(3, 4))  # fmt: skip
case("normalize-p1-dim0", ("VectorNorm", "Div"), lambda a: R.aggregate.normalize(a, 1.0, 0),
     lambda t, a: t.nn.functional.normalize(a, 1.0, 0), distinct(3, 4))  # fmt: skip
case("var_mean", ("Mean", "Sum"), lambda a: (lambda r: r[0] + 2 * r[1])(R.var_mean(a, 1)),
     lambda t, a: (lambda r: r[0] + 2 * r[1])(t.var_mean(a, 1)), normal(3, 4))  # fmt: skip
case("std_mean-c0-kd", ("Sqrt", "Mean"),
     lambda a: (lambda r: r[0] * r[1])(R.std_mean(a, 0, correction=0, keepdim=True)),
     lambda t, a: (lambda r: r[0] * r[1])(t.std_mean(a, 0, correction=0, keepdim=True)),
     normal(3, 4))  # fmt: skip

for _d in (0, 1, -1):
    case(f"cumsum-{_d}", "Cumsum", lambda a, d=_d: R.cumsum(a, d),
         lambda t, a, d=_d: t.cumsum(a, d), normal(3, 4))  # fmt: skip
    case(f"cumprod-{_d}", "Cumprod", lambda a, d=_d: R.cumprod(a, d),
         lambda t, a, d=_d: t.cumprod(a, d), normal(3, 4))  # fmt: skip
    case(f"logcumsumexp-{_d}", "LogCumSumExp", lambda a, d=_d: R.logcumsumexp(a, d),
         lambda t, a, d=_d: t.logcumsumexp(a, d), normal(3, 4, scale=3.0))  # fmt: skip
    case(f"cummax-{_d}", "Gather", lambda a, d=_d: R.cummax(a, d).values,
         lambda t, a, d=_d: t.cummax(a, d).values, distinct(3, 4))  # fmt: skip
    case(f"cummin-{_d}", "Gather", lambda a, d=_d: R.cummin(a, d).values,
         lambda t, a, d=_d: t.cummin(a, d).values, distinct(3, 4))  # fmt: skip
case("cumprod-zeros", "Cumprod", lambda a: R.cumprod(a, 1), lambda t, a: t.cumprod(a, 1),
     const([[2.0, 0.0, 3.0, 4.0], [0.0, 1.5, 0.0, 2.0], [1.0, 2.0, 3.0, 0.0]]))  # fmt: skip
case("logcumsumexp-large", "LogCumSumExp", lambda a: R.logcumsumexp(a, 0),
     lambda t, a: t.logcumsumexp(a, 0), const([800.0, -5.0, 801.0, 799.5]))  # fmt: skip
case("cumsum-method", "Cumsum", lambda a: a.cumsum(dim=0), lambda t, a: a.cumsum(dim=0),
     normal(4, 2))  # fmt: skip

for _d, _desc in [(-1, False), (0, True), (1, True)]:
    case(f"sort-{_d}-desc{int(_desc)}", "Gather",
         lambda a, d=_d, s=_desc: R.sort(a, d, s).values,
         lambda t, a, d=_d, s=_desc: t.sort(a, d, s).values, distinct(3, 4))  # fmt: skip
case("sort-method", "Gather", lambda a: a.sort(descending=True)[0],
     lambda t, a: a.sort(descending=True)[0], distinct(5))  # fmt: skip
case("msort", "Gather", R.msort, lambda t, a: t.msort(a), distinct(3, 2))
for _k, _d, _largest in [(2, -1, True), (1, 0, False), (3, 1, False)]:
    case(f"topk-{_k}-{_d}-{int(_largest)}", "Gather",
         lambda a, k=_k, d=_d, lg=_largest: R.topk(a, k, d, lg).values,
         lambda t, a, k=_k, d=_d, lg=_largest: t.topk(a, k, d, lg).values,
         distinct(3, 4))  # fmt: skip
for _k, _d, _kd in [(1, -1, False), (2, 0, True), (4, 1, False)]:
    case(f"kthvalue-{_k}-{_d}-{int(_kd)}", ("Gather", "Reshape") if not _kd else "Gather",
         lambda a, k=_k, d=_d, kd=_kd: R.kthvalue(a, k, d, kd).values,
         lambda t, a, k=_k, d=_d, kd=_kd: t.kthvalue(a, k, d, kd).values,
         distinct(4, 4))  # fmt: skip
case("median-all-even", "Gather", R.median, lambda t, a: t.median(a), distinct(3, 4))
case("median-all-odd", "Gather", R.median, lambda t, a: t.median(a), distinct(5))
case("median-dim", "Gather", lambda a: R.median(a, 1).values,
     lambda t, a: t.median(a, 1).values, distinct(3, 4))  # fmt: skip
case("median-dim0-keepdim", "Gather", lambda a: R.median(a, 0, keepdim=True).values,
     lambda t, a: t.median(a, 0, keepdim=True).values, distinct(5, 2))  # fmt: skip

# ------------------------------------------------------------------------ einsum

for _tag, _eq, _shapes in [
    ("matmul", "ij,jk->ik", [(2, 3), (3, 4)]),
    ("batch", "bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("implicit", "ij,jk", [(2, 3), (3, 4)]),
    ("implicit-transpose", "ba", [(2, 3)]),
    ("trace", "ii->", [(3, 3)]),
    ("diag", "ii->i", [(3, 3)]),
    ("outer", "i,j->ij", [(3,), (4,)]),
    ("sum-all", "ij->", [(3, 4)]),
    ("lone-letter", "ij,k->i", [(2, 3), (4,)]),
    ("ellipsis", "...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),
    ("ellipsis-broadcast", "...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 4)]),
    ("three", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bilinear", "bn,anm,bm->ba", [(2, 3), (4, 3, 2), (2, 2)]),
    ("repeat-diag-mixed", "iij,j->i", [(3, 3, 2), (2,)]),
]:
    case(f"einsum-{_tag}", "Einsum", lambda *a, e=_eq: R.einsum(e, *a),
         lambda t, *a, e=_eq: t.einsum(e, *a), *[normal(*s) for s in _shapes])  # fmt: skip
case("dot", "MatMul", rg.dot, lambda t, a, b: t.dot(a, b), normal(4), normal(4))
case("mm", "MatMul", lambda a, b: a.mm(b), lambda t, a, b: a.mm(b), normal(2, 3), normal(3, 4))
case("bmm", "MatMul", rg.bmm, lambda t, a, b: t.bmm(a, b), normal(2, 2, 3), normal(2, 3, 4))
case("mv", "MatMul", rg.mv, lambda t, a, b: t.mv(a, b), normal(2, 3), normal(3))
case("outer", ("Mul", "Reshape"), rg.outer, lambda t, a, b: t.outer(a, b), normal(3),
     normal(4))  # fmt: skip
case("inner", "Einsum", rg.inner, lambda t, a, b: t.inner(a, b), normal(2, 3), normal(4, 3))
case("trace", ("Diagonal", "Sum"), lambda a: a.trace(), lambda t, a: a.trace(), normal(3, 3))
case("einsum-list", "Einsum", lambda a, b: R.einsum("i,i->", [a, b]),
     lambda t, a, b: t.einsum("i,i->", [a, b]), normal(4), normal(4))  # fmt: skip

# ------------------------------------------------------------- indexing along a dim


def index(high: int, *shape: int) -> Maker:
    return ints(0, high, *shape)


def perm_rows(n: int, rows: int, k: int) -> Maker:
    """(rows, k) distinct indices in [0, n) per row: scatter targets without repeats."""
    return lambda rng, dt: np.stack([rng.permutation(n)[:k] for _ in range(rows)])


case("gather-dim1", "Gather", lambda a, i: R.gather(a, 1, i), lambda t, a, i: t.gather(a, 1, i),
     normal(3, 4), index(4, 3, 5))  # fmt: skip
case("gather-dim0-smaller", "Gather", lambda a, i: R.gather(a, 0, i),
     lambda t, a, i: t.gather(a, 0, i), normal(4, 3), index(4, 2, 2))  # fmt: skip
case("gather-method-neg", "Gather", lambda a, i: a.gather(-1, i),
     lambda t, a, i: a.gather(-1, i), normal(2, 3, 4), index(4, 2, 3, 4))  # fmt: skip
case("take_along_dim", "Gather", lambda a, i: R.take_along_dim(a, i, 1),
     lambda t, a, i: t.take_along_dim(a, i, 1), normal(3, 4), index(4, 3, 2))  # fmt: skip
case("take_along_dim-flat", "Gather", lambda a, i: R.take_along_dim(a, i),
     lambda t, a, i: t.take_along_dim(a, i), normal(3, 4), index(12, 5))  # fmt: skip
case("take_along_dim-broadcast", ("Gather", "Expand"), lambda a, i: R.take_along_dim(a, i, 2),
     lambda t, a, i: t.take_along_dim(a, i, 2), normal(3, 1, 4), index(4, 1, 2, 3))  # fmt: skip
case("scatter-src", "Scatter", lambda a, i, s: R.scatter(a, 1, i, s),
     lambda t, a, i, s: t.scatter(a, 1, i, s), normal(3, 5), perm_rows(5, 3, 2),
     normal(3, 2))  # fmt: skip
case("scatter-value", "Scatter", lambda a, i: R.scatter(a, 1, i, value=1.5),
     lambda t, a, i: t.scatter(a, 1, i, value=1.5), normal(3, 5), perm_rows(5, 3, 2))  # fmt: skip
case("scatter_add-repeats", "ScatterReduce", lambda a, i, s: R.scatter_add(a, 0, i, s),
     lambda t, a, i, s: t.scatter_add(a, 0, i, s), normal(3, 4), index(3, 5, 4),
     normal(5, 4))  # fmt: skip
for _red in ("sum", "prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        case(f"scatter_reduce-{_red}-self{int(_inc)}", "ScatterReduce",
             lambda a, i, s, r=_red, inc=_inc: R.scatter_reduce(a, 1, i, s, r, include_self=inc),
             lambda t, a, i, s, r=_red, inc=_inc: t.scatter_reduce(a, 1, i, s, r,
                                                                    include_self=inc),
             normal(3, 4), index(4, 3, 6), normal(3, 6))  # fmt: skip
case("scatter_reduce-prod-zeros", "ScatterReduce",
     lambda a, i, s: R.scatter_reduce(a, 0, i, s, "prod"),
     lambda t, a, i, s: t.scatter_reduce(a, 0, i, s, "prod"),
     const([0.0, 2.0, 3.0]), const([0, 0, 1, 1, 2, 2]),
     const([1.5, 2.0, 0.0, 4.0, 0.0, 0.0]))  # fmt: skip
case("index_select", "GetItem", lambda a, i: R.index_select(a, 1, i),
     lambda t, a, i: t.index_select(a, 1, i), normal(3, 4), index(4, 6))  # fmt: skip
case("masked_select", "GetItem", lambda a, m: R.masked_select(a, m),
     lambda t, a, m: t.masked_select(a, m), normal(3, 4), mask(3, 4))  # fmt: skip
case("masked_select-broadcast", ("GetItem", "Expand"), lambda a, m: R.masked_select(a, m),
     lambda t, a, m: t.masked_select(a, m), normal(4), mask(3, 4))  # fmt: skip

# ------------------------------------------------------------- movement (movement.py)

case("flip", "GetItem", lambda a: R.flip(a, (0, 2)), lambda t, a: t.flip(a, (0, 2)),
     normal(2, 3, 4))  # fmt: skip
case("fliplr", "GetItem", R.fliplr, lambda t, a: t.fliplr(a), normal(3, 4))
case("roll", "Roll", lambda a: R.roll(a, (1, -2), (0, 1)), lambda t, a: t.roll(a, (1, -2), (0, 1)),
     normal(3, 4))  # fmt: skip
case("roll-flat", "Roll", lambda a: R.roll(a, 5), lambda t, a: t.roll(a, 5), normal(3, 4))
case("repeat", "Repeat", lambda a: a.repeat(2, 1, 3), lambda t, a: a.repeat(2, 1, 3),
     normal(3, 2))  # fmt: skip
case("tile", "Repeat", lambda a: R.tile(a, (2,)), lambda t, a: t.tile(a, (2,)), normal(3, 2))
case("repeat_interleave-int", "GetItem", lambda a: R.repeat_interleave(a, 2, 1),
     lambda t, a: t.repeat_interleave(a, 2, 1), normal(3, 2))  # fmt: skip
case("repeat_interleave-tensor-flat", ("GetItem", "Reshape"),
     lambda a, r: R.repeat_interleave(a, r), lambda t, a, r: t.repeat_interleave(a, r),
     normal(2, 2), const([1, 0, 3, 2]))  # fmt: skip
case("split-size", ("GetItem", "Concatenate"),
     lambda a: R.cat([p * (i + 1) for i, p in enumerate(R.split(a, 2, 1))], 1),
     lambda t, a: t.cat([p * (i + 1) for i, p in enumerate(t.split(a, 2, 1))], 1),
     normal(3, 5))  # fmt: skip
case("split-sections", ("GetItem", "Concatenate"),
     lambda a: R.cat([p * (i + 1) for i, p in enumerate(a.split([1, 3], 0))], 0),
     lambda t, a: t.cat([p * (i + 1) for i, p in enumerate(a.split([1, 3], 0))], 0),
     normal(4, 2))  # fmt: skip
case("chunk", ("GetItem", "Concatenate"),
     lambda a: R.cat([p * (i + 1) for i, p in enumerate(R.chunk(a, 3, -1))], -1),
     lambda t, a: t.cat([p * (i + 1) for i, p in enumerate(t.chunk(a, 3, -1))], -1),
     normal(2, 5))  # fmt: skip
case("unbind", "GetItem", lambda a: (lambda p: p[0] * 2 + p[1] * p[2])(R.unbind(a, 1)),
     lambda t, a: (lambda p: p[0] * 2 + p[1] * p[2])(t.unbind(a, 1)), normal(2, 3))  # fmt: skip
case("unflatten", "Reshape", lambda a: R.unflatten(a, 1, (2, -1)),
     lambda t, a: t.unflatten(a, 1, (2, -1)), normal(3, 6))  # fmt: skip
case("unfold", ("GetItem", "Permute"), lambda a: a.unfold(1, 3, 2),
     lambda t, a: a.unfold(1, 3, 2), normal(2, 7, 2))  # fmt: skip
case("unfold-overlap-last", "GetItem", lambda a: a.unfold(-1, 2, 1),
     lambda t, a: a.unfold(-1, 2, 1), normal(4))  # fmt: skip
case("narrow", "GetItem", lambda a: R.narrow(a, 1, 1, 2), lambda t, a: t.narrow(a, 1, 1, 2),
     normal(3, 4))  # fmt: skip
case("select", "GetItem", lambda a: R.select(a, 1, -1), lambda t, a: t.select(a, 1, -1),
     normal(3, 4))  # fmt: skip
case("movedim", "Permute", lambda a: R.movedim(a, (0, 1), (2, 0)),
     lambda t, a: t.movedim(a, (0, 1), (2, 0)), normal(2, 3, 4))  # fmt: skip
case("swapaxes", "Permute", lambda a: R.swapaxes(a, 0, 2), lambda t, a: t.swapaxes(a, 0, 2),
     normal(2, 3, 4))  # fmt: skip
case("diag-1d", "Diag", R.diag, lambda t, a: t.diag(a), normal(3))
case("diag-1d-offset", "Diag", lambda a: R.diag(a, -2), lambda t, a: t.diag(a, -2), normal(3))
case("diag-2d", "Diagonal", lambda a: R.diag(a, 1), lambda t, a: t.diag(a, 1), normal(3, 4))
case("diagonal", "Diagonal", lambda a: R.diagonal(a, -1, 2, 0),
     lambda t, a: t.diagonal(a, -1, 2, 0), normal(3, 2, 4))  # fmt: skip
case("tril", "Where", R.tril, lambda t, a: t.tril(a), normal(3, 4))
case("triu-batched-offset", "Where", lambda a: R.triu(a, 1), lambda t, a: t.triu(a, 1),
     normal(2, 3, 4))  # fmt: skip
case("tril-negative", "Where", lambda a: a.tril(-1), lambda t, a: a.tril(-1), normal(4, 3))
case("meshgrid-ij", "Expand", lambda a, b: (lambda g: g[0] * g[1])(R.meshgrid(a, b)),
     lambda t, a, b: (lambda g: g[0] * g[1])(t.meshgrid(a, b, indexing="ij")),
     normal(3), normal(4))  # fmt: skip
case("meshgrid-xy", "Expand",
     lambda a, b, c: (lambda g: g[0] * g[1] + g[2])(R.meshgrid(a, b, c, indexing="xy")),
     lambda t, a, b, c: (lambda g: g[0] * g[1] + g[2])(t.meshgrid(a, b, c, indexing="xy")),
     normal(3), normal(4), normal(2))  # fmt: skip

for _mode, _pad, _shape in [
    ("reflect", (2, 1), (2, 3, 5)),
    ("reflect", (1, 2, 2, 0), (1, 2, 4, 3)),
    ("reflect", (1, 1, 1, 2, 2, 1), (1, 1, 3, 4, 3)),
    ("replicate", (3, 1), (2, 2, 4)),
    ("replicate", (0, 2, 3, 1), (1, 2, 3, 3)),
    ("circular", (2, 3), (2, 2, 4)),
    ("circular", (1, 2, 2, 1), (1, 1, 3, 4)),
    ("constant", (-1, 2, 1, -2), (2, 4, 5)),
    ("reflect", (-1, 2), (1, 2, 5)),
    ("replicate", (2, -1, -1, 1), (1, 1, 4, 4)),
    ("circular", (-2, 1), (1, 1, 5)),
]:
    case(f"F.pad-{_mode}-{'_'.join(map(str, _pad))}", "GetItem" if _mode != "constant" else
         ("GetItem", "Pad"), lambda a, p=_pad, m=_mode: R.movement.pad(a, p, m),
         lambda t, a, p=_pad, m=_mode: t.nn.functional.pad(a, p, m),
         normal(*_shape))  # fmt: skip
case("F.pad-constant-value", "Pad", lambda a: R.movement.pad(a, (1, 2, 0, 1), value=-2.0),
     lambda t, a: t.nn.functional.pad(a, (1, 2, 0, 1), value=-2.0), normal(2, 3))  # fmt: skip

# ------------------------------------------------- activations (nn.functional forms)

for _name, _kw in [
    ("silu", {}), ("elu", {}), ("elu", {"alpha": 0.5}), ("celu", {}), ("celu", {"alpha": 2.0}),
    ("selu", {}), ("relu6", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -2.0, "max_val": 0.5}),
    ("hardswish", {}), ("hardsigmoid", {}), ("mish", {}), ("softsign", {}), ("logsigmoid", {}),
]:  # fmt: skip
    _cls = {"silu": "Silu", "elu": "Elu", "celu": "Elu", "selu": "Elu", "relu6": "Hardtanh",
            "hardtanh": "Hardtanh", "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid",
            "mish": "Mish", "softsign": "Softsign", "logsigmoid": "LogSigmoid"}[_name]  # fmt: skip
    _tag = "-".join([_name] + [f"{k}{v}" for k, v in _kw.items()])
    # Values 0.37 apart, scaled to reach past the kinks at 0, +-1, +-3 and 6.
    case(_tag, _cls, lambda a, n=_name, k=_kw: getattr(RF, n)(a, **k),
         lambda t, a, n=_name, k=_kw: getattr(t.nn.functional, n)(a, **k),
         lambda rng, dt: (distinct(4, 6)(rng, dt) * 1.7).astype(dt))  # fmt: skip
case("logsigmoid-extreme", "LogSigmoid", RF.logsigmoid,
     lambda t, a: t.nn.functional.logsigmoid(a), const([-800.0, -30.0, 30.0, 800.0]))  # fmt: skip
case("softmin", ("Neg", "Softmax"), lambda a: RF.softmin(a, dim=1),
     lambda t, a: t.nn.functional.softmin(a, dim=1), normal(3, 4))  # fmt: skip

# --------------------------------------------------------------------------- losses

for _red in ("mean", "sum", "none"):
    case(f"nll_loss-{_red}", "GetItem", lambda x, y, r=_red: RF.nll_loss(x, y, reduction=r),
         lambda t, x, y, r=_red: t.nn.functional.nll_loss(x, y, reduction=r), normal(5, 4),
         const([0, 3, -100, 1, 2]))  # fmt: skip
    case(f"nll_loss-weight-{_red}", "GetItem",
         lambda x, y, r=_red: RF.nll_loss(x, y, weight=_W4, reduction=r),
         lambda t, x, y, r=_red: t.nn.functional.nll_loss(
             x, y, weight=t.tensor(_W4, dtype=x.dtype), reduction=r),
         normal(5, 4), ints(0, 4, 5))  # fmt: skip
    case(f"bce-{_red}", "BinaryCrossEntropy",
         lambda x, y, r=_red: RF.binary_cross_entropy(x, y, reduction=r),
         lambda t, x, y, r=_red: t.nn.functional.binary_cross_entropy(x, y, reduction=r),
         positive(3, 4, low=0.05, high=0.95), uniform01(3, 4))  # fmt: skip
    for _lt in (False, True):
        case(f"kl_div-{_red}-log{int(_lt)}", "Mul",
             lambda x, y, r=_red, lt=_lt: RF.kl_div(x, y, reduction=r, log_target=lt),
             lambda t, x, y, r=_red, lt=_lt: t.nn.functional.kl_div(x, y, reduction=r,
                                                                    log_target=lt),
             normal(3, 4),
             positive(3, 4, low=0.05, high=0.9) if not _lt else normal(3, 4))  # fmt: skip
    case(f"smooth_l1-{_red}", "SmoothL1",
         lambda x, y, r=_red: RF.smooth_l1_loss(x, y, reduction=r),
         lambda t, x, y, r=_red: t.nn.functional.smooth_l1_loss(x, y, reduction=r),
         distinct(3, 4), normal(3, 4, scale=0.01))  # fmt: skip
    case(f"cosine_embedding-{_red}", ("Div", "Sqrt"),
         lambda x, z, y, r=_red: RF.cosine_embedding_loss(x, z, y, margin=0.1, reduction=r),
         lambda t, x, z, y, r=_red: t.nn.functional.cosine_embedding_loss(
             x, z, y, margin=0.1, reduction=r),
         normal(4, 3), normal(4, 3), const([1.0, -1.0, -1.0, 1.0]), nograd=(2,))  # fmt: skip
    case(f"margin_ranking-{_red}", "Clip",
         lambda x, z, y, r=_red: RF.margin_ranking_loss(x, z, y, margin=0.2, reduction=r),
         lambda t, x, z, y, r=_red: t.nn.functional.margin_ranking_loss(
             x, z, y, margin=0.2, reduction=r),
         distinct(5), normal(5, scale=0.01), const([1.0, -1.0, 1.0, -1.0, 1.0]))  # fmt: skip
case("nll_loss-spatial", "GetItem", lambda x, y: RF.nll_loss(x, y),
     lambda t, x, y: t.nn.functional.nll_loss(x, y), normal(2, 3, 4), ints(0, 3, 2, 4))  # fmt: skip
case("nll_loss-unbatched", "GetItem", lambda x, y: RF.nll_loss(x, y),
     lambda t, x, y: t.nn.functional.nll_loss(x, y), normal(4), const(2))  # fmt: skip
case("bce-weight", "BinaryCrossEntropy",
     lambda x, y: RF.binary_cross_entropy(x, y, weight=[1.0, 0.5, 2.0, 1.5]),
     lambda t, x, y: t.nn.functional.binary_cross_entropy(
         x, y, weight=t.tensor([1.0, 0.5, 2.0, 1.5], dtype=x.dtype)),
     positive(3, 4, low=0.05, high=0.95), uniform01(3, 4))  # fmt: skip
case("kl_div-batchmean", "Mul", lambda x, y: RF.kl_div(x, y, reduction="batchmean"),
     lambda t, x, y: t.nn.functional.kl_div(x, y, reduction="batchmean"), normal(3, 4),
     positive(3, 4, low=0.05, high=0.9))  # fmt: skip
case("smooth_l1-beta", "SmoothL1", lambda x, y: RF.smooth_l1_loss(x, y, beta=0.5),
     lambda t, x, y: t.nn.functional.smooth_l1_loss(x, y, beta=0.5), distinct(3, 4),
     normal(3, 4, scale=0.01))  # fmt: skip
case("smooth_l1-beta0", "SmoothL1", lambda x, y: RF.smooth_l1_loss(x, y, beta=0.0),
     lambda t, x, y: t.nn.functional.smooth_l1_loss(x, y, beta=0.0), distinct(3, 4),
     normal(3, 4, scale=0.01))  # fmt: skip
case("cosine_similarity", ("VectorNorm", "Div"), lambda a, b: RF.cosine_similarity(a, b),
     lambda t, a, b: t.nn.functional.cosine_similarity(a, b), normal(3, 4),
     normal(3, 4))  # fmt: skip
case("cosine_similarity-broadcast-dim", ("VectorNorm", "Expand"),
     lambda a, b: RF.cosine_similarity(a, b, dim=-1),
     lambda t, a, b: t.nn.functional.cosine_similarity(a, b, dim=-1), normal(2, 1, 4),
     normal(3, 4))  # fmt: skip
case("cosine_embedding-unbatched", ("Div", "Sqrt"),
     lambda x, z, y: RF.cosine_embedding_loss(x, z, y),
     lambda t, x, z, y: t.nn.functional.cosine_embedding_loss(x, z, y), normal(3), normal(3),
     const(-1.0), nograd=(2,))  # fmt: skip

# 1-D pools and group/instance normalisation (retrograd.ops.pool, retrograd.ops.normalization).
case("max_pool1d", "MaxPool2d", lambda x: _F.max_pool1d(x, 3, 2, 1),
     lambda t, x: t.nn.functional.max_pool1d(x, 3, 2, 1), distinct(2, 3, 9))  # fmt: skip
case("avg_pool1d", "AvgPool2d", lambda x: _F.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
     lambda t, x: t.nn.functional.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
     normal(2, 3, 9))  # fmt: skip
case("adaptive_avg_pool1d", "AdaptiveAvgPool2d", lambda x: _F.adaptive_avg_pool1d(x, 4),
     lambda t, x: t.nn.functional.adaptive_avg_pool1d(x, 4), normal(2, 3, 9))  # fmt: skip
case("group_norm", "LayerNorm", lambda x, w, b: _F.group_norm(x, 2, w, b),
     lambda t, x, w, b: t.nn.functional.group_norm(x, 2, w, b), normal(2, 4, 3, 3), normal(4),
     normal(4))  # fmt: skip
case("instance_norm", "LayerNorm", lambda x, w, b: _F.instance_norm(x, weight=w, bias=b),
     lambda t, x, w, b: t.nn.functional.instance_norm(x, weight=w, bias=b), normal(2, 3, 4, 4),
     normal(3), normal(3))  # fmt: skip


# Special functions and pointwise helpers (retrograd.ops.special), nansum/nanmean.
def _between(lo: float, hi: float, *shape: int) -> Maker:
    return lambda rng, dt: rng.uniform(lo, hi, shape).astype(dt)


case("erfc", "Erfc", R.erfc, lambda t, a: t.erfc(a), normal(3, 4, scale=1.5))
case("erfc-method", "Erfc", lambda a: a.erfc(), lambda t, a: a.erfc(), normal(4))
case("erfinv", "Erfinv", R.erfinv, lambda t, a: t.erfinv(a), _between(-0.95, 0.95, 3, 4))
case("erfinv-method", "Erfinv", lambda a: a.erfinv(), lambda t, a: a.erfinv(),
     _between(-0.5, 0.5, 5))  # fmt: skip
case("lgamma", "Lgamma", R.lgamma, lambda t, a: t.lgamma(a), _between(0.2, 6.0, 3, 4))
case("lgamma-negative", "Lgamma", lambda a: a.lgamma(), lambda t, a: a.lgamma(),
     const([-0.5, -1.3, -2.7, 0.6]))  # fmt: skip
case("digamma", "Digamma", R.digamma, lambda t, a: t.digamma(a), _between(0.2, 8.0, 3, 4))
case("digamma-negative", "Digamma", lambda a: a.digamma(), lambda t, a: a.digamma(),
     const([-0.5, -1.3, -2.7, 0.6, 12.5]))  # fmt: skip
case("xlogy", ("Log", "Mul"), R.xlogy, lambda t, a, b: t.xlogy(a, b), normal(3, 4),
     positive(4))  # fmt: skip
case("xlogy-zeros", ("Log", "Mul"), lambda a, b: a.xlogy(b), lambda t, a, b: a.xlogy(b),
     const([0.0, 1.5, 0.0, -2.0]), positive(4))  # fmt: skip
case("logit", ("Log", "Div"), R.logit, lambda t, a: t.logit(a), _between(0.05, 0.95, 3, 4))
case("logit-eps", ("Log", "Div", "Clip"), lambda a: a.logit(eps=0.1),
     lambda t, a: a.logit(eps=0.1), const([0.01, 0.3, 0.7, 0.97]))  # fmt: skip
case("hypot", "Hypot", R.hypot, lambda t, a, b: t.hypot(a, b), normal(3, 4), normal(4))
case("hypot-method", "Hypot", lambda a, b: a.hypot(b), lambda t, a, b: a.hypot(b),
     normal(2, 1), normal(3))  # fmt: skip
case("fmax", "Where", R.fmax, lambda t, a, b: t.fmax(a, b), distinct(3, 4), normal(4))
case("fmin", "Where", R.fmin, lambda t, a, b: t.fmin(a, b), distinct(3, 4), normal(3, 1))
case("nan_to_num", "Where", lambda a: R.nan_to_num(a, nan=0.5), lambda t, a: t.nan_to_num(a, 0.5),
     normal(3, 4))  # fmt: skip
case("addcmul", ("Add", "Mul"), lambda a, b, c: R.addcmul(a, b, c, value=-0.5),
     lambda t, a, b, c: t.addcmul(a, b, c, value=-0.5), normal(3, 4), normal(4),
     normal(3, 1))  # fmt: skip
case("addcmul-method", ("Add", "Mul"), lambda a, b, c: a.addcmul(b, c),
     lambda t, a, b, c: a.addcmul(b, c), normal(3), normal(3), normal(3))  # fmt: skip
case("addcdiv", ("Add", "Div"), lambda a, b, c: R.addcdiv(a, b, c, value=2.0),
     lambda t, a, b, c: t.addcdiv(a, b, c, value=2.0), normal(3, 4), normal(4),
     positive(3, 1))  # fmt: skip
case("addcdiv-method", ("Add", "Div"), lambda a, b, c: a.addcdiv(b, c),
     lambda t, a, b, c: a.addcdiv(b, c), normal(3), normal(3), positive(3))  # fmt: skip
case("nansum", ("NanToZero", "Sum"), lambda a: R.nansum(a, 1), lambda t, a: t.nansum(a, 1),
     normal(3, 4))  # fmt: skip
case("nansum-method-all", ("NanToZero", "Sum"), lambda a: a.nansum(), lambda t, a: a.nansum(),
     normal(3, 4))  # fmt: skip
case("nanmean", ("NanToZero", "Sum", "Div"), lambda a: R.nanmean(a, 0, keepdim=True),
     lambda t, a: t.nanmean(a, 0, keepdim=True), normal(3, 4))  # fmt: skip
case("nanmean-method", ("NanToZero", "Sum", "Div"), lambda a: a.nanmean(),
     lambda t, a: a.nanmean(), normal(5))  # fmt: skip


# Matrix functions (retrograd.ops.matrix, rg.linalg).
def _well_conditioned(*shape: int) -> Maker:
    def make(rng, dt):
        a = rng.standard_normal(shape) * 0.3
        return (a + np.eye(shape[-1]) * 2.0).astype(dt)

    return make


def _det3(t, a):
    # torch.det's float32 backward fails while torch's default dtype is float64 (the torch
    # fixture sets it): the float32 comparison uses the cofactor expansion instead.
    if a.dtype == t.float64:
        return t.det(a)
    c = [[a[..., i, j] for j in range(3)] for i in range(3)]
    return (
        c[0][0] * (c[1][1] * c[2][2] - c[1][2] * c[2][1])
        - c[0][1] * (c[1][0] * c[2][2] - c[1][2] * c[2][0])
        + c[0][2] * (c[1][0] * c[2][1] - c[1][1] * c[2][0])
    )


case("det", "Det", R.det, _det3, normal(3, 3))
case("det-batched-method", "Det", lambda a: a.det(), _det3, normal(2, 3, 3))
case("inv", "Inv", lambda a: rg.linalg.inv(a), lambda t, a: t.linalg.inv(a),
     _well_conditioned(3, 3))  # fmt: skip
case("inverse-batched-method", "Inv", lambda a: a.inverse(), lambda t, a: a.inverse(),
     _well_conditioned(2, 3, 3))  # fmt: skip
case("solve-vector", "Solve", lambda a, b: rg.linalg.solve(a, b),
     lambda t, a, b: t.linalg.solve(a, b), _well_conditioned(3, 3), normal(3))  # fmt: skip
case("solve-batch-broadcast", "Solve", lambda a, b: rg.linalg.solve(a, b),
     lambda t, a, b: t.linalg.solve(a, b), _well_conditioned(2, 1, 3, 3),
     normal(4, 3, 2))  # fmt: skip
case("solve-right", "Solve", lambda a, b: rg.linalg.solve(a, b, left=False),
     lambda t, a, b: t.linalg.solve(a, b, left=False), _well_conditioned(3, 3),
     normal(2, 3))  # fmt: skip
case("svdvals", "Svdvals", lambda a: rg.linalg.svdvals(a), lambda t, a: t.linalg.svdvals(a),
     distinct(3, 4))  # fmt: skip
case("matrix_norm-nuc", "Svdvals", lambda a: rg.linalg.matrix_norm(a, "nuc"),
     lambda t, a: t.linalg.matrix_norm(a, "nuc"), distinct(2, 3, 4))  # fmt: skip
case("matrix_norm-2-keepdim", "Svdvals", lambda a: rg.linalg.matrix_norm(a, 2, keepdim=True),
     lambda t, a: t.linalg.matrix_norm(a, 2, keepdim=True), distinct(2, 3, 3))  # fmt: skip
case("matrix_norm-fro-dims", "VectorNorm", lambda a: rg.linalg.matrix_norm(a, dim=(0, 2)),
     lambda t, a: t.linalg.matrix_norm(a, dim=(0, 2)), normal(2, 3, 4))  # fmt: skip
for _ord in (1, -1, float("inf"), float("-inf")):
    case(f"matrix_norm-{_ord}", ("Abs", "Sum"),
         lambda a, o=_ord: rg.linalg.matrix_norm(a, o),
         lambda t, a, o=_ord: t.linalg.matrix_norm(a, o), distinct(2, 3, 4))  # fmt: skip
case("linalg_norm-vector-dim", "VectorNorm", lambda a: rg.linalg.norm(a, 3, dim=1),
     lambda t, a: t.linalg.norm(a, 3, dim=1), normal(3, 4))  # fmt: skip
case("linalg_norm-matrix-ord", ("Abs", "Sum"), lambda a: rg.linalg.norm(a, float("inf")),
     lambda t, a: t.linalg.norm(a, float("inf")), distinct(3, 4))  # fmt: skip
case("linalg_norm-all", "VectorNorm", lambda a: rg.linalg.norm(a),
     lambda t, a: t.linalg.norm(a), normal(2, 3, 4))  # fmt: skip
case("linalg_vector_norm", "VectorNorm", lambda a: rg.linalg.vector_norm(a, 1.5, (0, 2)),
     lambda t, a: t.linalg.vector_norm(a, 1.5, (0, 2)), normal(2, 3, 4))  # fmt: skip
case("addmm", ("Add", "MatMul", "Mul"), lambda i, a, b: rg.addmm(i, a, b, beta=0.5, alpha=2),
     lambda t, i, a, b: t.addmm(i, a, b, beta=0.5, alpha=2), normal(4), normal(3, 2),
     normal(2, 4))  # fmt: skip
case("addmm-method", ("Add", "MatMul"), lambda i, a, b: i.addmm(a, b),
     lambda t, i, a, b: i.addmm(a, b), normal(3, 4), normal(3, 2), normal(2, 4))  # fmt: skip
case("tensordot-int", "MatMul", lambda a, b: rg.tensordot(a, b, 2),
     lambda t, a, b: t.tensordot(a, b, 2), normal(2, 3, 4), normal(3, 4, 5))  # fmt: skip
case("tensordot-lists", "MatMul", lambda a, b: rg.tensordot(a, b, ([0, 2], [2, 1])),
     lambda t, a, b: t.tensordot(a, b, ([0, 2], [2, 1])), normal(2, 3, 4),
     normal(5, 4, 2))  # fmt: skip
case("cross-default-dim", ("Mul", "Sub"), lambda a, b: rg.cross(a, b),
     lambda t, a, b: t.cross(a, b, dim=1), normal(2, 3, 4), normal(2, 3, 4))  # fmt: skip
case("linalg_cross-broadcast", ("Mul", "Sub"), lambda a, b: rg.linalg.cross(a, b),
     lambda t, a, b: t.linalg.cross(a, b), normal(4, 3), normal(1, 3))  # fmt: skip
case("cross-method-dim", ("Mul", "Sub"), lambda a, b: a.cross(b, dim=0),
     lambda t, a, b: a.cross(b, dim=0), normal(3, 3), normal(3, 3))  # fmt: skip
case("cdist", "VectorNorm", lambda a, b: rg.cdist(a, b), lambda t, a, b: t.cdist(a, b),
     normal(4, 3), normal(5, 3))  # fmt: skip
case("cdist-p1-batched", "VectorNorm", lambda a, b: rg.cdist(a, b, p=1.0),
     lambda t, a, b: t.cdist(a, b, p=1.0), distinct(2, 3, 2), normal(2, 4, 2))  # fmt: skip
case("cdist-p3", "VectorNorm", lambda a, b: rg.cdist(a, b, p=3.0),
     lambda t, a, b: t.cdist(a, b, p=3.0), normal(3, 2), normal(2, 2))  # fmt: skip

# Stacking, differences, rotation, index_add (retrograd.ops.movement, .indexing).
case("hstack", "Concatenate", lambda a, b: rg.hstack([a, b]),
     lambda t, a, b: t.hstack([a, b]), normal(2, 3), normal(2, 1))  # fmt: skip
case("hstack-1d", "Concatenate", lambda a, b: rg.hstack((a, b)),
     lambda t, a, b: t.hstack((a, b)), normal(3), normal(2))  # fmt: skip
case("vstack", ("Concatenate", "Reshape"), lambda a, b: rg.vstack([a, b]),
     lambda t, a, b: t.vstack([a, b]), normal(3), normal(2, 3))  # fmt: skip
case("diff", "Sub", lambda a: rg.diff(a, 2, dim=0), lambda t, a: t.diff(a, 2, dim=0),
     normal(5, 3))  # fmt: skip
case("diff-prepend-append", ("Sub", "Concatenate"), lambda a, p, q: a.diff(1, -1, p, q),
     lambda t, a, p, q: a.diff(1, -1, p, q), normal(2, 4), normal(2, 1), normal(2, 2))  # fmt: skip
for _k in (1, 2, 3, -1):
    case(f"rot90-{_k}", "GetItem", lambda a, k=_k: rg.rot90(a, k, (0, 2)),
         lambda t, a, k=_k: t.rot90(a, k, (0, 2)), normal(2, 3, 4))  # fmt: skip
case("rot90-method-identity", "Clone", lambda a: a.rot90(4), lambda t, a: a.rot90(4),
     normal(2, 3))  # fmt: skip
case("index_add", "ScatterReduce", lambda a, s: rg.index_add(a, 1, rg.tensor([2, 0, 2]), s),
     lambda t, a, s: t.index_add(a, 1, t.tensor([2, 0, 2]), s), normal(2, 4),
     normal(2, 3))  # fmt: skip
case("index_add-method-alpha", "ScatterReduce",
     lambda a, s: a.index_add(0, rg.tensor([1, 2]), s, alpha=-2.0),
     lambda t, a, s: a.index_add(0, t.tensor([1, 2]), s, alpha=-2.0), normal(3, 2),
     normal(2, 2))  # fmt: skip

IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS), "duplicate case ids"

__all__ = ["CASES", "IDS", "Case", "rg"]
