"""einsum: Einstein summation with PyTorch's equation syntax, as one primitive.

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


__all__ = ["einsum"]
