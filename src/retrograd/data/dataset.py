"""Datasets held as whole arrays, so a batch is one fancy-index per array, not a loop."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import resolve_dtype
from ..autograd.tensor import Tensor


class Dataset:
    """Base class: anything with ``__len__`` and ``__getitem__(i)`` returning a tuple.

    The :class:`DataLoader` batches such a dataset sample by sample (a Python loop), which
    is fine for custom data. :class:`ArrayDataset` and :class:`TensorDataset` instead
    expose ``arrays``, so a batch is taken with one index array per array.
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not implement __len__")

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement __getitem__")


def _as_ndarray(a: Any, what: str) -> Any:
    if isinstance(a, Tensor):
        return a.data
    if isinstance(a, xp.ndarray):
        return a
    if hasattr(a, "detach") and hasattr(a, "numpy"):  # a torch.Tensor, without importing torch
        return a.detach().cpu().numpy()
    try:
        arr = xp.asarray(a)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{what}: cannot convert {type(a).__name__} to an array ({exc})") from None
    if arr.dtype.kind == "O":
        raise TypeError(f"{what}: ragged or non-numeric data ({type(a).__name__}) is not an array")
    return arr


def check_finite(arr: Any, what: str) -> None:
    """Raise a ValueError naming ``what`` when a float array holds NaN or Inf."""
    if arr.dtype.kind in "fc" and not bool(xp.isfinite(arr).all()):
        bad = ~xp.isfinite(arr)
        n_bad = int(bad.sum())
        first = tuple(int(i) for i in xp.argwhere(bad)[0])
        kind = "NaN" if bool(xp.isnan(arr[first])) else "Inf"
        raise ValueError(
            f"{what} contains {n_bad} non-finite value(s) (first: {kind} at index {first}); "
            "clean or impute the data before training"
        )


def _check_arrays(arrays: tuple, names: tuple, owner: str) -> None:
    if not arrays:
        raise ValueError(f"{owner}: at least one array is required")
    n = None
    for arr, name in zip(arrays, names):
        if arr.ndim == 0:
            raise ValueError(f"{owner}: {name} is a scalar, expected an array with a sample axis")
        if n is None:
            n = arr.shape[0]
        elif arr.shape[0] != n:
            lens = ", ".join(f"{nm}={a.shape[0]}" for a, nm in zip(arrays, names))
            raise ValueError(
                f"{owner}: arrays must have the same number of samples (first axis), got {lens}"
            )
    if n == 0:
        raise ValueError(f"{owner}: the dataset is empty ({names[0]} has 0 samples)")


class TensorDataset(Dataset):
    """Arrays or Tensors sharing their first (sample) axis; item ``i`` is a tuple of rows.

    Dtypes are kept as given (PyTorch's ``TensorDataset``); use :class:`ArrayDataset` to
    get float features and int64 labels from any input.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> ds = rg.data.TensorDataset(np.zeros((4, 3), "float32"), np.arange(4))
        >>> len(ds), int(ds[1][1])
        (4, 1)
    """

    def __init__(self, *tensors: Any, name: str = "TensorDataset") -> None:
        names = tuple(f"tensors[{i}]" for i in range(len(tensors)))
        arrays = tuple(_as_ndarray(t, f"{name}: {nm}") for t, nm in zip(tensors, names))
        _check_arrays(arrays, names, name)
        for arr, nm in zip(arrays, names):
            check_finite(arr, f"{name}: {nm}")
        self.arrays = arrays
        self.name = name

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: Any) -> tuple:
        return tuple(a[index] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape}:{a.dtype}" for a in self.arrays)
        return f"{type(self).__name__}({shapes})"


class ArrayDataset(TensorDataset):
    """Features ``X`` (and optional targets ``y``) ready for training.

    ``X`` becomes ``dtype`` (default: retrograd's default float dtype, float32), whatever it
    was (uint8 pixels, float64 NumPy data). Integer or bool ``y`` (class labels) becomes
    int64; float ``y`` (regression targets) becomes ``dtype``. NaN or Inf in ``X`` or a
    float ``y`` raises a ValueError naming the argument, as do empty data and mismatched
    lengths.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> ds = rg.data.ArrayDataset(np.ones((5, 2)), np.array([0, 1, 0, 1, 1]))
        >>> ds.arrays[0].dtype, ds.arrays[1].dtype
        (dtype('float32'), dtype('int64'))
    """

    def __init__(
        self, X: Any, y: Any = None, dtype: Any = None, name: str = "ArrayDataset"
    ) -> None:
        dt = resolve_dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"{name}: dtype must be a float dtype, got {dt}")
        Xa = _as_ndarray(X, f"{name}: X")
        if Xa.dtype.kind not in "biuf":
            raise TypeError(f"{name}: X must be numeric, got dtype {Xa.dtype}")
        arrays = [Xa]
        names = ["X"]
        if y is not None:
            ya = _as_ndarray(y, f"{name}: y")
            if ya.dtype.kind not in "biuf":
                raise TypeError(
                    f"{name}: y must be numeric (encode string labels as integers), "
                    f"got dtype {ya.dtype}"
                )
            arrays.append(ya)
            names.append("y")
        _check_arrays(tuple(arrays), tuple(names), name)
        # Check before casting: a float64 1e300 would silently become float32 inf.
        for arr, nm in zip(arrays, names):
            check_finite(arr, f"{name}: {nm}")
        with xp.errstate(over="ignore"):  # overflow is reported just below, by name
            Xa = Xa.astype(dt, copy=False)
        check_finite(Xa, f"{name}: X (after conversion to {dt})")
        out = [Xa]
        if y is not None:
            ya = arrays[1]
            ya = (
                ya.astype(xp.int64, copy=False)
                if ya.dtype.kind in "biu"
                else ya.astype(dt, copy=False)
            )
            out.append(ya)
        self.arrays = tuple(out)
        self.name = name

    @property
    def X(self) -> Any:  # noqa: N802
        return self.arrays[0]

    @property
    def y(self) -> Any:
        return self.arrays[1] if len(self.arrays) > 1 else None
