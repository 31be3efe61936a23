"""Tensor constructors with PyTorch's signatures: tensor, zeros, ones, empty, full, arange,
linspace, eye, rand, randn, randint, normal, from_numpy, as_tensor, randperm,
multinomial, bernoulli and the ``*_like`` forms."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import resolve_dtype
from ..autograd.tensor import DTypeLike, Tensor, TensorLike, _to_array, get_default_dtype
from ..random import default_generator


def _shape(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, xp.integer)) or s < 0:
            raise ValueError(f"shape must hold non-negative ints, got {shape}")
    return tuple(int(s) for s in shape)


def tensor(
    data: TensorLike, requires_grad: bool = False, dtype: DTypeLike = None, *, device: Any = None
) -> Tensor:
    """Create a tensor from a number, a (nested) list or an ndarray (always a copy of it).

    Python floats become float32 (the default dtype); NumPy arrays keep their dtype.
    Strings, objects and complex numbers are refused. ``device`` may only be ``"cpu"``.

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([1.0, 2.0]).dtype
        dtype('float32')
    """
    if device is not None and str(getattr(device, "type", device)).split(":")[0] != "cpu":
        raise ValueError(f"tensor: device {device!r} is not available: retrograd uses the CPU")
    if isinstance(data, Tensor):
        data = data.data.copy()
    elif isinstance(data, xp.ndarray):
        data = data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of zeros; ``dtype`` defaults to float32.

    Example::

        >>> import retrograd as rg
        >>> rg.zeros(2, 3).shape
        (2, 3)
    """
    return Tensor(xp.zeros(_shape(shape), dtype=resolve_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of ones; ``dtype`` defaults to float32.

    Example::

        >>> import retrograd as rg
        >>> rg.ones(2).tolist()
        [1.0, 1.0]
    """
    return Tensor(xp.ones(_shape(shape), dtype=resolve_dtype(dtype)), requires_grad=requires_grad)


def full(
    size: Any, fill_value: Any, *, dtype: DTypeLike = None, requires_grad: bool = False
) -> Tensor:
    """Tensor of ``size`` filled with ``fill_value``; the dtype follows the value as in
    PyTorch (a float: the default dtype; an int: int64; a bool: bool).

    Example::

        >>> import retrograd as rg
        >>> rg.full((2,), 7.0).tolist(), rg.full((2,), 7).dtype
        ([7.0, 7.0], dtype('int64'))
    """
    shape = _shape(size if isinstance(size, (tuple, list)) else (size,))
    dt = _fill_dtype(fill_value) if dtype is None else xp.dtype(dtype)
    return Tensor(xp.full(shape, fill_value, dtype=dt), requires_grad=requires_grad)


def _fill_dtype(value: Any) -> Any:
    if isinstance(value, Tensor):
        value = value.item()
    return _to_array(value).dtype


def empty(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Tensor of ``size`` whose values are not set (here: zeros, so nothing is read uninitialised).

    Example::

        >>> import retrograd as rg
        >>> rg.empty(2, 3).shape
        (2, 3)
    """
    return Tensor(xp.zeros(_shape(size), dtype=resolve_dtype(dtype)), requires_grad=requires_grad)


def from_numpy(array: Any) -> Tensor:
    """A tensor sharing memory with the ndarray ``array`` (writes show in both), as in PyTorch.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> a = np.zeros(2); t = rg.from_numpy(a); a[0] = 5.0
        >>> t.tolist()
        [5.0, 0.0]
    """
    if not isinstance(array, xp.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    return Tensor(array)


def _like_arr(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


def full_like(
    x: TensorLike, fill_value: Any, *, dtype: DTypeLike = None, requires_grad: bool = False
) -> Tensor:
    """``fill_value`` with ``x``'s shape and dtype (unless ``dtype`` is given).

    Example::

        >>> import retrograd as rg
        >>> rg.full_like(rg.zeros(2), 3.0).tolist()
        [3.0, 3.0]
    """
    arr = _like_arr(x)
    return Tensor(xp.full_like(arr, fill_value, dtype=dtype), requires_grad=requires_grad)


def empty_like(x: TensorLike, *, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """A tensor shaped like ``x`` whose values are not set (here: zeros).

    Example::

        >>> import retrograd as rg
        >>> rg.empty_like(rg.ones(2, 2)).shape
        (2, 2)
    """
    return zeros_like(x, dtype=dtype, requires_grad=requires_grad)


def rand_like(x: TensorLike, *, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples shaped like ``x`` (its dtype unless ``dtype`` is given).

    Example::

        >>> import retrograd as rg
        >>> rg.rand_like(rg.zeros(3)).shape
        (3,)
    """
    arr = _like_arr(x)
    return rand(arr.shape, dtype=dtype or arr.dtype, requires_grad=requires_grad)


def randn_like(x: TensorLike, *, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples shaped like ``x`` (its dtype unless ``dtype`` is given).

    Example::

        >>> import retrograd as rg
        >>> rg.randn_like(rg.zeros(3)).shape
        (3,)
    """
    arr = _like_arr(x)
    return randn(arr.shape, dtype=dtype or arr.dtype, requires_grad=requires_grad)


def randint_like(x: TensorLike, low: int = 0, high: int | None = None, *,
                 dtype: DTypeLike = None) -> Tensor:  # fmt: skip
    """Random integers in [low, high) shaped like ``x``; ``randint_like(x, high)`` as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.randint_like(rg.zeros(3), 5).shape
        (3,)
    """
    arr = _like_arr(x)
    if high is None:
        low, high = 0, low
    return randint(low, high, arr.shape, dtype=dtype or arr.dtype)


def randint(*args: Any, size: Any = None, dtype: DTypeLike = None,
            generator: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Random integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``.

    int64 by default, as in PyTorch; drawn from the global generator (or ``generator``, a
    NumPy Generator).

    Example::

        >>> import retrograd as rg
        >>> _ = rg.manual_seed(0); x = rg.randint(0, 10, (2, 3))
        >>> x.shape, x.dtype, bool(((x.data >= 0) & (x.data < 10)).all())
        ((2, 3), dtype('int64'), True)
    """
    if size is not None:
        args = args + (size,)
    if len(args) == 2:
        low, high, shape = 0, args[0], args[1]
    elif len(args) == 3:
        low, high, shape = args
    else:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    low, high = int(low), int(high)
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    shape = _shape(shape if isinstance(shape, (tuple, list)) else (shape,))
    gen = default_generator() if generator is None else generator
    dt = xp.dtype(xp.int64) if dtype is None else xp.dtype(dtype)
    arr = gen.integers(low, high, shape).astype(dt, copy=False)
    return Tensor(arr, requires_grad=requires_grad)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, dtype: DTypeLike = None,
           generator: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Normal samples: ``normal(mean, std, size)`` with floats, or elementwise means and
    standard deviations given as tensors (broadcast together), as ``torch.normal``.

    Example::

        >>> import retrograd as rg
        >>> _ = rg.manual_seed(0); rg.normal(2.0, 0.5, (3,)).shape
        (3,)
        >>> rg.normal(rg.zeros(2, 2), 1.0).shape
        (2, 2)
    """
    m = mean.data if isinstance(mean, Tensor) else mean
    s = std.data if isinstance(std, Tensor) else std
    tensors = [a for a in (m, s) if isinstance(a, xp.ndarray)]
    if size is None:
        if not tensors:
            raise TypeError("normal: give size= when mean and std are numbers")
        shape = xp.broadcast_shapes(*(a.shape for a in tensors))
    else:
        shape = _shape(size if isinstance(size, (tuple, list)) else (size,))
    if xp.any(xp.asarray(s) < 0):
        raise ValueError(f"normal: std must be >= 0, got {std!r}")
    if dtype is not None:
        dt = xp.dtype(dtype)
    elif tensors:
        dt = xp.result_type(*(a.dtype for a in tensors))
        dt = dt if dt.kind == "f" else get_default_dtype()
    else:
        dt = get_default_dtype()
    gen = default_generator() if generator is None else generator
    z = gen.standard_normal(shape, dtype=xp.float64)
    return Tensor((z * s + m).astype(dt), requires_grad=requires_grad)


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``x``'s shape and dtype (unless ``dtype`` is given).

    Example::

        >>> import retrograd as rg
        >>> rg.zeros_like(rg.ones(2, 2)).shape
        (2, 2)
    """
    arr = x.data if isinstance(x, Tensor) else xp.asarray(x)
    return Tensor(xp.zeros_like(arr, dtype=dtype), requires_grad=requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``x``'s shape and dtype (unless ``dtype`` is given).

    Example::

        >>> import retrograd as rg
        >>> rg.ones_like(rg.zeros(3)).tolist()
        [1.0, 1.0, 1.0]
    """
    arr = x.data if isinstance(x, Tensor) else xp.asarray(x)
    return Tensor(xp.ones_like(arr, dtype=dtype), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator (see :func:`manual_seed`).

    Example::

        >>> import retrograd as rg
        >>> _ = rg.manual_seed(0); rg.randn(2, 3).dtype
        dtype('float32')
    """
    d = resolve_dtype(dtype)
    arr = default_generator().standard_normal(_shape(shape), dtype=d)
    return Tensor(arr, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from the global generator."""
    d = resolve_dtype(dtype)
    arr = default_generator().random(_shape(shape), dtype=d)
    return Tensor(arr, requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, *,
           dtype: DTypeLike = None, requires_grad: bool = False, stop: float | None = None,
           ) -> Tensor:  # fmt: skip
    """Evenly spaced values in [start, end): ``arange(end)`` or ``arange(start, end, step)``.

    Integer arguments give int64, any float the default dtype (PyTorch's rule); ``stop`` is
    NumPy's name for ``end``.

    Example::

        >>> import retrograd as rg
        >>> rg.arange(3).tolist(), rg.arange(0, 1, 0.5).tolist()
        ([0, 1, 2], [0.0, 0.5])
    """
    if stop is not None:
        if end is not None:
            raise TypeError("arange: got both end and stop; pass one of them")
        end = stop
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must not be 0")
    arr = xp.arange(start, end, step)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f":
        arr = arr.astype(get_default_dtype())
    return Tensor(arr, requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: DTypeLike = None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (default dtype).

    Example::

        >>> import retrograd as rg
        >>> rg.linspace(0, 1, 3).tolist()
        [0.0, 0.5, 1.0]
    """
    if not isinstance(steps, (int, xp.integer)) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    arr = xp.linspace(start, end, int(steps)).astype(resolve_dtype(dtype))
    return Tensor(arr, requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None) -> Tensor:
    """Identity matrix (``n`` x ``m``), float32 by default.

    Example::

        >>> import retrograd as rg
        >>> rg.eye(2).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    return Tensor(xp.eye(n, m, dtype=resolve_dtype(dtype)))


def as_tensor(data: Any, dtype: DTypeLike = None, device: Any = None) -> Tensor:
    """A tensor sharing memory with ``data`` where it can, as torch: a Tensor of the same
    dtype is returned as it is, an ndarray of the same dtype is wrapped without a copy
    (writes show through both ways); anything else is converted as by :func:`tensor`.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> a = np.zeros(2, dtype=np.float32)
        >>> t = rg.as_tensor(a); t.data[0] = 5.0
        >>> float(a[0])
        5.0
    """
    if device not in (None, "cpu"):
        raise ValueError(f"as_tensor: only the CPU is available, got device={device!r}")
    if isinstance(data, Tensor):
        if dtype is None or xp.dtype(resolve_dtype(dtype)) == data.dtype:
            return data
        return data.astype(resolve_dtype(dtype))
    if isinstance(data, xp.ndarray) and data.dtype.kind in "biuf":
        if dtype is None or xp.dtype(resolve_dtype(dtype)) == data.dtype:
            return Tensor._wrap(data, False, None)
    return Tensor(data, dtype=None if dtype is None else resolve_dtype(dtype))


def randperm(
    n: int,
    *,
    generator: Any = None,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 by default), from the global generator
    (or ``generator``, a NumPy Generator).

    Example::

        >>> import retrograd as rg
        >>> sorted(rg.randperm(4).tolist())
        [0, 1, 2, 3]
    """
    if not isinstance(n, (int, xp.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    gen = default_generator() if generator is None else generator
    dt = xp.dtype(xp.int64) if dtype is None else xp.dtype(resolve_dtype(dtype))
    return Tensor(gen.permutation(int(n)).astype(dt), requires_grad=requires_grad)


def multinomial(
    input: Any,  # noqa: A002 - PyTorch's name
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Any = None,
) -> Tensor:
    """Draw ``num_samples`` category indices from each row of non-negative weights
    ``input`` (1-D or 2-D, not necessarily normalized); without ``replacement`` each row
    gives distinct indices, as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.multinomial(rg.tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
        [1, 1]
    """
    w = (input if isinstance(input, Tensor) else Tensor(input)).data
    if w.ndim not in (1, 2) or w.dtype.kind != "f":
        raise ValueError(
            f"multinomial: input must be a 1-D or 2-D float tensor, got dtype {w.dtype} and "
            f"shape {w.shape}"
        )
    if not xp.all(xp.isfinite(w)) or (w.size and w.min() < 0):
        raise ValueError("multinomial: probabilities must be finite and non-negative")
    rows = w.reshape(1, -1) if w.ndim == 1 else w
    k = int(num_samples)
    if k <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    if not replacement and k > rows.shape[1]:
        raise ValueError(
            f"multinomial: cannot draw {k} samples without replacement from {rows.shape[1]} "
            "categories"
        )
    gen = default_generator() if generator is None else generator
    out = xp.empty((rows.shape[0], k), dtype=xp.int64)
    for i, r in enumerate(rows.astype(xp.float64)):
        total = r.sum()
        if total <= 0:
            raise ValueError(f"multinomial: row {i} of the probabilities sums to 0")
        if not replacement and xp.count_nonzero(r) < k:
            raise ValueError(
                f"multinomial: row {i} has fewer than {k} non-zero probabilities, needed "
                "without replacement"
            )
        out[i] = gen.choice(r.size, size=k, replace=replacement, p=r / total)
    return Tensor(out.reshape(-1) if w.ndim == 1 else out)


def bernoulli(input: Any, p: float | None = None, *, generator: Any = None) -> Tensor:  # noqa: A002
    """0/1 draws (in ``input``'s dtype), 1 with probability ``input`` elementwise (or
    ``p`` for every element). Not differentiable, as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.bernoulli(rg.tensor([0.0, 1.0])).tolist()
        [0.0, 1.0]
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    prob = x.data if p is None else xp.full(x.shape, p, dtype=xp.float64)
    if prob.size and (not xp.all((prob >= 0) & (prob <= 1))):
        raise ValueError("bernoulli: probabilities must be in [0, 1]")
    gen = default_generator() if generator is None else generator
    draws = gen.random(x.shape) < prob
    return Tensor(draws.astype(x.dtype if x.dtype.kind == "f" else get_default_dtype()))


__all__ = [
    "tensor", "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like",
    "empty_like", "rand_like", "randn_like", "randint_like", "randn", "rand", "randint",
    "normal", "arange", "linspace", "eye", "from_numpy", "as_tensor", "randperm",
    "multinomial", "bernoulli",
]  # fmt: skip
