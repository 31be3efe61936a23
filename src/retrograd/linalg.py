"""``rg.linalg``: PyTorch's ``torch.linalg`` names (det, inv, solve, svdvals, norm,
vector_norm, matrix_norm, cross, matmul), each differentiable (gradchecked in
tests/ops/test_matrix.py and compared with torch).

Example::

    >>> import retrograd as rg
    >>> A = rg.tensor([[3.0, 1.0], [1.0, 2.0]])
    >>> round(rg.linalg.det(A).item(), 4), rg.linalg.solve(A, rg.tensor([4.0, 3.0])).tolist()
    (5.0, [1.0, 1.0])
"""

from __future__ import annotations

import math
from typing import Any

from .autograd.tensor import Tensor
from .errors import ShapeError
from .ops._util import ensure_tensor
from .ops.aggregate import vector_norm
from .ops.linalg import matmul
from .ops.matrix import cross as _cross
from .ops.matrix import det, inv, solve, svdvals


def cross(input: Any, other: Any, *, dim: int = -1) -> Tensor:  # noqa: A002 - torch's name
    """Cross product of 3-vectors along ``dim`` (the last by default).

    Example::

        >>> import retrograd as rg
        >>> rg.linalg.cross(rg.tensor([0.0, 1.0, 0.0]), rg.tensor([0.0, 0.0, 1.0])).tolist()
        [1.0, 0.0, 0.0]
    """
    return _cross(input, other, dim)


def matrix_norm(
    A: Any,  # noqa: N803 - torch's name
    ord: Any = "fro",  # noqa: A002
    dim: tuple = (-2, -1),
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """Matrix norm over the two dimensions ``dim``: ``"fro"``, ``"nuc"`` (sum of the
    singular values), ``2``/``-2`` (largest/smallest singular value), ``1``/``-1``
    (largest/smallest column sum of absolute values), ``inf``/``-inf`` (rows).

    Example::

        >>> import retrograd as rg
        >>> rg.linalg.matrix_norm(rg.tensor([[1.0, -2.0], [3.0, 4.0]]), 1).item()
        6.0
    """
    from .ops.reduce import amax, amin
    from .ops.reduce import sum as _sum
    from .ops.shape import permute

    A = ensure_tensor(A)
    if dtype is not None:
        A = A.astype(dtype)
    if A.ndim < 2:
        raise ShapeError(f"matrix_norm: A must have at least 2 dimensions, got shape {A.shape}")
    try:
        d0, d1 = (int(d) % A.ndim for d in dim)
    except (TypeError, ValueError):
        raise TypeError(f"matrix_norm: dim must be a pair of ints, got {dim!r}") from None
    if d0 == d1:
        raise ValueError(f"matrix_norm: dim {dim!r} names the same dimension twice")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        rest = [d for d in range(A.ndim) if d not in (d0, d1)]
        s = svdvals(permute(A, *rest, d0, d1))
        out = _sum(s, -1) if ord == "nuc" else (amax if ord == 2 else amin)(s, -1)
        if keepdim:
            from .ops.shape import unsqueeze

            for d in sorted((d0, d1)):
                out = unsqueeze(out, d)
        return out
    if ord in (1, -1, math.inf, -math.inf):
        # 1: columns (sum over rows d0, then max over d1); inf: rows.
        over, across = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = _sum(A.abs(), over, keepdim=True)
        pick = amax if ord > 0 else amin
        out = pick(sums, across, keepdim=True)
        return out if keepdim else out.squeeze((d0, d1))
    raise ValueError(
        f"matrix_norm: ord must be 'fro', 'nuc', 2, -2, 1, -1, inf or -inf, got {ord!r}"
    )


def norm(
    A: Any,  # noqa: N803
    ord: Any = None,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """``torch.linalg.norm``: a vector norm when ``dim`` is an int (or ``A`` is 1-D), a
    matrix norm when ``dim`` is a pair (or ``A`` is 2-D and ``ord`` is given); with
    neither ``ord`` nor ``dim``, the 2-norm of all the entries.

    Example::

        >>> import retrograd as rg
        >>> rg.linalg.norm(rg.tensor([[3.0, 0.0], [0.0, 4.0]])).item()
        5.0
    """
    A = ensure_tensor(A)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim == 1:
            return vector_norm(A, ord, None, keepdim, dtype=dtype)
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        raise ValueError(
            f"linalg.norm: with ord and no dim, A must be 1-D or 2-D, got shape {A.shape}"
        )
    if isinstance(dim, int) or (isinstance(dim, (tuple, list)) and len(dim) == 1):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if isinstance(dim, (tuple, list)) and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, tuple(dim), keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: dim must be an int or a pair of ints, got {dim!r}")


__all__ = [
    "det", "inv", "solve", "svdvals", "norm", "vector_norm", "matrix_norm", "cross", "matmul",
]  # fmt: skip
