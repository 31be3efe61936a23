"""The (values, indices) results of sort, topk, kthvalue, median, mode, cummax and cummin.

Named tuples as ``torch.return_types``: unpack them (``values, indices = x.sort()``) or
read ``.values`` / ``.indices``. ``values`` carries the gradient; ``indices`` is int64.
"""

from __future__ import annotations

from typing import NamedTuple

from ..autograd.tensor import Tensor


class sort(NamedTuple):  # noqa: N801 - PyTorch's name
    values: Tensor
    indices: Tensor


class topk(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class kthvalue(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class median(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class mode(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class cummax(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class cummin(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


__all__ = ["sort", "topk", "kthvalue", "median", "mode", "cummax", "cummin"]
