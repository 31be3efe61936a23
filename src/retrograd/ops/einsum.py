"""einsum: Einstein summation with PyTorch's equation syntax, as one primitive; and the
named products PyTorch spells separately (dot, mm, bmm, mv, outer, inner, trace).

The equation is first brought to an explicit form (ellipsis replaced by letters, operands
broadcast along it, the output spelled out); the VJP of each operand is another einsum of
the output gradient with the other operands, broadcast over letters that only this
operand sums and written onto the diagonal for a repeated letter (``"ii->i"``).
"""

from __future__ import annotations

import string
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import ensure_tensor

_LETTERS = string.ascii_letters


class Einsum(Function):
    replay = "pure"

    def forward(self, *arrays, inputs=(), output=""):
        self.arrays, self.inputs, self.output = arrays, inputs, output
        spec = ",".join(inputs) + "->" + output
        return xp.asarray(xp.einsum(spec, *arrays, optimize=len(arrays) > 2))

    def backward(self, g):
        sizes = {}
        for subs, a in zip(self.inputs, self.arrays):
            sizes.update(zip(subs, a.shape))
        grads = []
        for i, (subs, a) in enumerate(zip(self.inputs, self.arrays)):
            if not self.needs[i]:
                grads.append(None)
                continue
            others = [(s, b) for j, (s, b) in enumerate(zip(self.inputs, self.arrays)) if j != i]
            seen = set(self.output).union(*(set(s) for s, _ in others))
            unique = "".join(dict.fromkeys(subs))
            kept = "".join(c for c in unique if c in seen)
            spec = ",".join([self.output] + [s for s, _ in others]) + "->" + kept
            gk = xp.einsum(spec, g, *(b for _, b in others), optimize=len(others) > 1)
            # Letters summed by this operand alone: the gradient is constant along them.
            gk = gk.reshape([sizes[c] if c in kept else 1 for c in unique])
            gk = xp.broadcast_to(gk, [sizes[c] for c in unique])
            if len(unique) == len(subs):
                grads.append(xp.ascontiguousarray(gk, dtype=g.dtype))
                continue
            # A repeated letter: the gradient lives on that diagonal, zero elsewhere.
            out = xp.zeros(a.shape, dtype=g.dtype)
            view = xp.einsum(subs + "->" + unique, out)  # a writeable view of the diagonal
            view[...] = gk
            grads.append(out)
        return tuple(grads)

    def backward_graph(self, g, out):
        from ._graph import reshape as _reshape
        from ._graph import scatter
        from .shape import Expand

        parents = self.parents
        sizes = {}
        for subs, a in zip(self.inputs, self.arrays):
            sizes.update(zip(subs, a.shape))
        grads = []
        for i, (subs, a) in enumerate(zip(self.inputs, self.arrays)):
            if not self.needs[i]:
                grads.append(None)
                continue
            others = [(s, parents[j]) for j, s in enumerate(self.inputs) if j != i]
            seen = set(self.output).union(*(set(s) for s, _ in others))
            unique = "".join(dict.fromkeys(subs))
            kept = "".join(c for c in unique if c in seen)
            gk = Einsum.apply(
                g, *(t for _, t in others), inputs=(self.output, *(s for s, _ in others)),
                output=kept,
            )  # fmt: skip
            gk = _reshape(gk, [sizes[c] if c in kept else 1 for c in unique])
            full = tuple(sizes[c] for c in unique)
            if gk.shape != full:
                gk = Expand.apply(gk, shape=full)
            if len(unique) == len(subs):
                grads.append(gk)
                continue
            # A repeated letter: the gradient lives on that diagonal (flat positions).
            flat = xp.einsum(subs + "->" + unique, xp.arange(a.size).reshape(a.shape))
            grads.append(_reshape(scatter(gk, (a.size,), flat), a.shape))
        return tuple(grads)


def _parse(equation: str, tensors: list) -> tuple:
    """Explicit (inputs, output, tensors): letters only, operands broadcast over '...'."""
    from .shape import expand

    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(tensors):
        raise ValueError(
            f"einsum: the equation {equation!r} has {len(terms)} operand(s), got "
            f"{len(tensors)} tensor(s)"
        )
    for t in terms + ([rhs] if arrow else []):
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.replace("...", "").count(".") or t.count("...") > 1:
            raise ValueError(
                f"einsum: invalid subscripts {t!r} in {equation!r} (letters and one '...')"
            )
    used = set(eq) & set(_LETTERS)
    free = [c for c in _LETTERS if c not in used]
    ell_shapes = []
    for t, x in zip(terms, tensors):
        n_letters = len(t.replace("...", ""))
        if ("..." not in t and n_letters != x.ndim) or ("..." in t and n_letters > x.ndim):
            raise ValueError(
                f"einsum: subscripts {t!r} do not match operand of shape {x.shape} "
                f"({x.ndim} dimensions)"
            )
        if "..." in t:
            start = t.index("...")
            ell_shapes.append(x.shape[start : start + x.ndim - n_letters])
    try:
        ell = xp.broadcast_shapes(*ell_shapes) if ell_shapes else ()
    except ValueError:
        raise ValueError(
            f"einsum: the dimensions under '...' do not broadcast: {ell_shapes}"
        ) from None
    ell_letters = "".join(free[: len(ell)])
    inputs, ts = [], []
    for t, x in zip(terms, tensors):
        if "..." in t:
            start = t.index("...")
            k = x.ndim - len(t.replace("...", ""))
            mine = ell_letters[len(ell) - k :] if k else ""
            target = x.shape[:start] + tuple(ell[len(ell) - k :]) + x.shape[start + k :]
            if target != x.shape:
                x = expand(x, target)
            t = t.replace("...", mine)
        inputs.append(t)
        ts.append(x)
    sizes: dict = {}
    for t, x in zip(inputs, ts):
        for c, n in zip(t, x.shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum: subscript {c!r} has size {sizes[c]} in one operand and {n} in "
                    f"another (equation {equation!r})"
                )
    if arrow:
        output = rhs.replace("...", ell_letters)
        for c in output:
            if c not in sizes:
                raise ValueError(f"einsum: output subscript {c!r} appears in no operand")
        if len(set(output)) != len(output):
            raise ValueError(f"einsum: output subscripts {rhs!r} repeat a letter")
    else:
        counts: dict = {}
        for t in inputs:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        output = ell_letters + "".join(
            sorted(c for c, n in counts.items() if n == 1 and c not in ell_letters)
        )
    return inputs, output, ts


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, ``torch.einsum``'s syntax (``"bij,bjk->bik"``, ``"...ij->...ji"``).

    Operands may also be passed as one list. Letters repeated in one operand take its
    diagonal; letters missing from the output are summed.

    Example::

        >>> import retrograd as rg
        >>> a = rg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> rg.einsum("ij,j->i", a, rg.tensor([1.0, 1.0])).tolist()
        [3.0, 7.0]
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    ts = [ensure_tensor(t) for t in operands]
    for i, t in enumerate(ts[1:], 1):
        if t.data.dtype != ts[0].data.dtype:
            raise TypeError(
                f"einsum: operands must share one dtype; operand 0 is {ts[0].dtype}, "
                f"operand {i} is {t.dtype}"
            )
    inputs, output, ts = _parse(equation, ts)
    return Einsum.apply(*ts, inputs=tuple(inputs), output=output)


def _need(t: Tensor, ndim: int, fn: str, arg: str) -> None:
    if t.ndim != ndim:
        raise ValueError(f"{fn}: {arg} must be {ndim}-D, got shape {t.shape}")


def _same_dtype(a: Tensor, b: Tensor, fn: str) -> None:
    if a.data.dtype != b.data.dtype:
        raise TypeError(f"{fn}: expected both tensors of one dtype, got {a.dtype} and {b.dtype}")


def _pair(input: Any, other: Any, fn: str, nd: tuple) -> tuple:  # noqa: A002
    a, b = ensure_tensor(input), ensure_tensor(other)
    _need(a, nd[0], fn, "input")
    _need(b, nd[1], fn, "other" if fn != "mv" else "vec")
    _same_dtype(a, b, fn)
    return a, b


def _inner_dims(a: Tensor, b: Tensor, fn: str, i: int, j: int) -> None:
    if a.shape[i] != b.shape[j]:
        raise ValueError(
            f"{fn}: shapes {a.shape} and {b.shape} cannot be multiplied ({a.shape[i]} != "
            f"{b.shape[j]})"
        )


def dot(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Inner product of two 1-D tensors of the same length.

    Example::

        >>> import retrograd as rg
        >>> rg.dot(rg.tensor([1.0, 2.0]), rg.tensor([3.0, 4.0])).item()
        11.0
    """
    from .linalg import matmul

    a, b = _pair(input, other, "dot", (1, 1))
    _inner_dims(a, b, "dot", 0, 0)
    return matmul(a, b)


def mm(input: Any, mat2: Any) -> Tensor:  # noqa: A002
    """Matrix product of two 2-D tensors (no broadcasting).

    Example::

        >>> import retrograd as rg
        >>> rg.mm(rg.ones(2, 3), rg.ones(3, 4)).shape
        (2, 4)
    """
    from .linalg import matmul

    a, b = _pair(input, mat2, "mm", (2, 2))
    _inner_dims(a, b, "mm", 1, 0)
    return matmul(a, b)


def bmm(input: Any, mat2: Any) -> Tensor:  # noqa: A002
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting).

    Example::

        >>> import retrograd as rg
        >>> rg.bmm(rg.ones(5, 2, 3), rg.ones(5, 3, 4)).shape
        (5, 2, 4)
    """
    from .linalg import matmul

    a, b = _pair(input, mat2, "bmm", (3, 3))
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: {a.shape} and {b.shape}")
    _inner_dims(a, b, "bmm", 2, 1)
    return matmul(a, b)


def mv(input: Any, vec: Any) -> Tensor:  # noqa: A002
    """Product of a 2-D matrix and a 1-D vector.

    Example::

        >>> import retrograd as rg
        >>> rg.mv(rg.ones(2, 3), rg.ones(3)).tolist()
        [3.0, 3.0]
    """
    from .linalg import matmul

    a, b = _pair(input, vec, "mv", (2, 1))
    _inner_dims(a, b, "mv", 1, 0)
    return matmul(a, b)


def outer(input: Any, vec2: Any) -> Tensor:  # noqa: A002
    """Outer product of two 1-D tensors (``ger`` in older PyTorch).

    Example::

        >>> import retrograd as rg
        >>> rg.outer(rg.tensor([1.0, 2.0]), rg.tensor([1.0, 0.0, 3.0])).tolist()
        [[1.0, 0.0, 3.0], [2.0, 0.0, 6.0]]
    """
    from .shape import reshape

    a, b = _pair(input, vec2, "outer", (1, 1))
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def inner(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Sum over the last dimension of both (a scalar times a tensor if either is 0-d).

    Example::

        >>> import retrograd as rg
        >>> rg.inner(rg.ones(2, 3), rg.ones(4, 3)).shape
        (2, 4)
    """
    a, b = ensure_tensor(input), ensure_tensor(other)
    _same_dtype(a, b, "inner")
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: last dimensions differ: {a.shape} and {b.shape}")
    la = _LETTERS[: a.ndim - 1]
    lb = _LETTERS[a.ndim - 1 : a.ndim + b.ndim - 2]
    return einsum(f"{la}Z,{lb}Z->{la}{lb}", a, b)


def trace(input: Any) -> Tensor:  # noqa: A002
    """Sum of the main diagonal of a 2-D tensor.

    Example::

        >>> import retrograd as rg
        >>> rg.trace(rg.tensor([[1.0, 2.0], [3.0, 4.0]])).item()
        5.0
    """
    from .movement import diagonal

    x = ensure_tensor(input)
    _need(x, 2, "trace", "input")
    return diagonal(x).sum()


__all__ = ["einsum", "dot", "mm", "bmm", "mv", "outer", "inner", "trace"]
