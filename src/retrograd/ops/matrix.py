"""Matrix functions with PyTorch's names: det, inv, solve, svdvals (the primitives behind
``rg.linalg``), and the composites addmm, tensordot, cross and cdist.

The primitives batch over leading dimensions as ``torch.linalg`` does. Gradients:
``det``: ``g * adj(A)^T`` with the adjugate from the SVD, so a singular matrix gets the
right (nonzero) gradient too, as in torch; ``inv``: ``-A^-T g A^-T``; ``solve``
(``X = A^-1 B``): ``gB = A^-T g``, ``gA = -gB X^T``; ``svdvals``: ``U diag(g) V^T``.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.function import Function, unbroadcast
from ..autograd.tensor import Tensor
from ..errors import ShapeError
from ._graph import sum_to
from ._util import ensure_tensor


def _square(t: Tensor, fn: str, arg: str = "A") -> Tensor:
    t = ensure_tensor(t)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ShapeError(
            f"{fn}: {arg} must be a batch of square matrices (..., n, n), got shape {t.shape}"
        )
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: {arg} must be a floating-point tensor, got dtype {t.dtype}")
    return t


def _mT(a: Any) -> Any:
    return xp.swapaxes(a, -1, -2)


def _adjugate(a: Any) -> Any:
    """adj(A) for a batch of square matrices, singular ones included (through the SVD)."""
    n = a.shape[-1]
    if n == 0:
        return a.copy()
    u, s, vh = xp.linalg.svd(a)
    # prod of the other singular values, by prefix and suffix products (no division by 0)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    pre = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    suf = xp.cumprod(xp.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = pre * suf
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    # adj(U S V^T) = det(U) det(V) V adj(S) U^T
    return sign[..., None, None] * (_mT(vh) * others[..., None, :]) @ _mT(u)


class Det(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.asarray(xp.linalg.det(a))

    def backward(self, g):
        return (xp.asarray(g)[..., None, None] * _mT(_adjugate(self.a)),)

    def backward_graph(self, g, out):
        # Where A is invertible, adj(A) = det(A) inv(A), both differentiable here.
        from .shape import Reshape

        a = self.parents[0]
        s = g.shape + (1, 1)
        return (Reshape.apply(g * out, shape=s) * _transpose(Inv.apply(a)),)


def _transpose(t: Tensor) -> Tensor:
    from .shape import Permute

    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return Permute.apply(t, axes=tuple(axes))


class Inv(Function):
    replay = "pure"

    def forward(self, a):
        self.out = xp.linalg.inv(a)
        return self.out

    def backward(self, g):
        it = _mT(self.out)
        return (-(it @ g @ it),)

    def backward_graph(self, g, out):
        from .linalg import MatMul

        it = _transpose(out)
        return (-MatMul.apply(MatMul.apply(it, g), it),)


class Solve(Function):
    """``X = A^-1 B`` for B of shape (..., n, k), batch dimensions broadcast."""

    replay = "pure"

    def forward(self, a, b):
        self.a, self.shapes = a, (a.shape, b.shape)
        self.out = xp.linalg.solve(a, b)
        return self.out

    def backward(self, g):
        na, nb = self.needs
        gb = xp.linalg.solve(_mT(self.a), g)
        return (
            unbroadcast(-(gb @ _mT(self.out)), self.shapes[0]) if na else None,
            unbroadcast(gb, self.shapes[1]) if nb else None,
        )

    def backward_graph(self, g, out):
        from .linalg import MatMul

        (a, b), (na, nb) = self.parents, self.needs
        gb = Solve.apply(_transpose(a), g)
        return (
            sum_to(-MatMul.apply(gb, _transpose(out)), a.shape) if na else None,
            sum_to(gb, b.shape) if nb else None,
        )


class Svdvals(Function):
    replay = "pure"
    second_order = False
    second_order_reason = "the derivative of the singular vectors is not provided"

    def forward(self, a):
        self.u, s, self.vh = xp.linalg.svd(a, full_matrices=False)
        return s

    def backward(self, g):
        return ((self.u * g[..., None, :]) @ self.vh,)


# ------------------------------------------------------------------ public functions


def det(A: Any) -> Tensor:  # noqa: N803 - PyTorch's name
    """Determinant of a (batch of) square matrices.

    Example::

        >>> import retrograd as rg
        >>> rg.det(rg.tensor([[2.0, 0.0], [0.0, 3.0]])).item()
        6.0
    """
    return Det.apply(_square(A, "det"))


def inv(A: Any) -> Tensor:  # noqa: N803
    """Inverse of a (batch of) square matrices; a singular matrix raises a ValueError.

    Example::

        >>> import retrograd as rg
        >>> rg.linalg.inv(rg.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
        [[0.5, 0.0], [0.0, 0.25]]
    """
    A = _square(A, "inv")
    try:
        return Inv.apply(A)
    except xp.linalg.LinAlgError as e:
        raise ValueError(f"linalg.inv: the matrix is singular ({e})") from None


def solve(A: Any, B: Any, *, left: bool = True) -> Tensor:  # noqa: N803
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``). ``B`` is a
    batch of vectors when it has one dimension fewer than ``A`` (torch's rule), else of
    matrices; batch dimensions broadcast.

    Example::

        >>> import retrograd as rg
        >>> rg.linalg.solve(rg.tensor([[2.0, 0.0], [0.0, 4.0]]), rg.tensor([2.0, 2.0])).tolist()
        [1.0, 0.5]
    """
    from .shape import reshape

    A = _square(A, "solve")
    B = ensure_tensor(B)
    if B.dtype != A.dtype:
        dt = xp.promote_types(A.dtype, B.dtype)
        A, B = A.astype(dt), B.astype(dt)
    if not left:
        return _transpose(solve(_transpose(A), _transpose(B)))
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    Bm = reshape(B, B.shape + (1,)) if vector else B
    if Bm.ndim < 2 or Bm.shape[-2] != A.shape[-1]:
        raise ShapeError(
            f"linalg.solve: B of shape {B.shape} does not fit A of shape {A.shape} "
            f"(expected (..., {A.shape[-1]}) or (..., {A.shape[-1]}, k))"
        )
    try:
        X = Solve.apply(A, Bm)
    except xp.linalg.LinAlgError as e:
        raise ValueError(f"linalg.solve: the matrix is singular ({e})") from None
    except ValueError as e:
        raise ShapeError(
            f"linalg.solve: batch shapes of A {A.shape} and B {B.shape}: {e}"
        ) from None
    return reshape(X, X.shape[:-1]) if vector else X


def svdvals(A: Any) -> Tensor:  # noqa: N803
    """Singular values of a (batch of) matrices, in descending order.

    Example::

        >>> import retrograd as rg
        >>> rg.linalg.svdvals(rg.tensor([[3.0, 0.0], [0.0, -4.0]])).tolist()
        [4.0, 3.0]
    """
    A = ensure_tensor(A)
    if A.ndim < 2:
        raise ShapeError(f"svdvals: A must have at least 2 dimensions, got shape {A.shape}")
    return Svdvals.apply(A)


def addmm(
    input: Any,  # noqa: A002
    mat1: Any,
    mat2: Any,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` (``input`` is ignored when beta is 0,
    nan included, as torch).

    Example::

        >>> import retrograd as rg
        >>> rg.addmm(rg.ones(2, 2), rg.eye(2), rg.eye(2), beta=0.5).tolist()
        [[1.5, 0.5], [0.5, 1.5]]
    """
    from .linalg import matmul

    m1, m2 = ensure_tensor(mat1), ensure_tensor(mat2)
    if m1.ndim != 2 or m2.ndim != 2:
        raise ShapeError(
            f"addmm: mat1 and mat2 must be matrices, got shapes {m1.shape} and {m2.shape}"
        )
    prod = matmul(m1, m2)
    if alpha != 1:
        prod = prod * alpha
    inp = ensure_tensor(input)
    try:
        xp.broadcast_shapes(inp.shape, prod.shape)
    except ValueError:
        raise ShapeError(
            f"addmm: input of shape {inp.shape} does not broadcast to the product's shape "
            f"{prod.shape}"
        ) from None
    if beta == 0:
        return prod if inp.shape == prod.shape else prod + xp.zeros(inp.shape, prod.dtype)
    return (inp if beta == 1 else inp * beta) + prod


def tensordot(a: Any, b: Any, dims: Any = 2) -> Tensor:
    """Sum over the last ``dims`` dimensions of ``a`` and the first ``dims`` of ``b`` (or
    over the dimension lists ``dims = (dims_a, dims_b)``).

    Example::

        >>> import retrograd as rg
        >>> rg.tensordot(rg.ones(2, 3), rg.ones(3, 4), dims=1).shape
        (2, 4)
    """
    from .linalg import matmul
    from .shape import permute, reshape

    a, b = ensure_tensor(a), ensure_tensor(b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0 or dims > min(a.ndim, b.ndim):
            raise ValueError(
                f"tensordot: dims must be between 0 and {min(a.ndim, b.ndim)}, got {dims}"
            )
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        try:
            da, db = ([dims_] if isinstance(dims_, int) else list(dims_) for dims_ in dims)
        except (TypeError, ValueError):
            raise TypeError(
                f"tensordot: dims must be an int or a pair of dimension lists, got {dims!r}"
            ) from None
        if len(da) != len(db):
            raise ValueError(f"tensordot: dims {dims!r} pair lists of different lengths")
        da, db = [d % a.ndim for d in da], [d % b.ndim for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(
                f"tensordot: contracted dimension {i} of a (size {a.shape[i]}) does not match "
                f"dimension {j} of b (size {b.shape[j]})"
            )
    ka = [d for d in range(a.ndim) if d not in da]
    kb = [d for d in range(b.ndim) if d not in db]
    n = 1
    for d in da:
        n *= a.shape[d]
    a2 = reshape(permute(a, *ka, *da), (-1, n))
    b2 = reshape(permute(b, *db, *kb), (n, -1))
    return reshape(matmul(a2, b2), tuple(a.shape[d] for d in ka) + tuple(b.shape[d] for d in kb))


def cross(input: Any, other: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    """Cross product of 3-vectors along ``dim`` (torch.cross: without ``dim``, the first
    dimension of size 3; ``rg.linalg.cross`` defaults to the last). Batch dimensions
    broadcast.

    Example::

        >>> import retrograd as rg
        >>> rg.cross(rg.tensor([1.0, 0.0, 0.0]), rg.tensor([0.0, 1.0, 0.0])).tolist()
        [0.0, 0.0, 1.0]
    """
    from .indexing import dim_arg
    from .movement import select
    from .shape import expand, stack

    a, b = ensure_tensor(input), ensure_tensor(other)
    try:
        shape = xp.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"cross: shapes {a.shape} and {b.shape} do not broadcast") from None
    if dim is None:
        if 3 not in shape:
            raise ValueError(f"cross: no dimension of size 3 in shape {shape}")
        d = shape.index(3)
    else:
        d = dim_arg(dim, len(shape), "cross")
        if shape[d] != 3:
            raise ValueError(f"cross: dimension {dim} must have size 3, got {shape[d]}")
    a = expand(a, shape) if a.shape != shape else a
    b = expand(b, shape) if b.shape != shape else b
    a1, a2, a3 = (select(a, d, i) for i in range(3))
    b1, b2, b3 = (select(b, d, i) for i in range(3))
    return stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], d)


def cdist(x1: Any, x2: Any, p: float = 2.0, compute_mode: Any = None) -> Tensor:
    """The p-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M): shape (..., P, R). The gradient at a zero distance is 0, as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.cdist(rg.tensor([[0.0, 0.0]]), rg.tensor([[3.0, 4.0], [0.0, 1.0]])).tolist()
        [[5.0, 1.0]]
    """
    from .aggregate import vector_norm
    from .shape import unsqueeze

    a, b = ensure_tensor(x1), ensure_tensor(x2)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise ShapeError(
            f"cdist: x1 (..., P, M) and x2 (..., R, M) must share M, got shapes {a.shape} "
            f"and {b.shape}"
        )
    if p < 0:
        raise ValueError(f"cdist: p must be >= 0, got {p}")
    diff = unsqueeze(a, -2) - unsqueeze(b, -3)
    return vector_norm(diff, p, -1)


__all__ = ["det", "addmm", "tensordot", "cross", "cdist"]
