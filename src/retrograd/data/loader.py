"""DataLoader: online, mini-batch and full-batch iteration with an exactly resumable order."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from .._backend import xp
from ..autograd.tensor import Tensor
from ..random import default_generator
from .dataset import Dataset, TensorDataset


def _wrap(arr: Any) -> Tensor:
    # Batches are leaves: no conversion, no validation (the dataset validated once).
    return Tensor._wrap(arr, False, None)


class DataLoader:
    """Iterate over a dataset in batches of Tensors.

    - ``batch_size=1``: online learning (one sample per step, as in the 1986 paper's
      "update after each pattern");
    - ``batch_size=k``: mini-batches (the last one smaller unless ``drop_last``);
    - ``batch_size=None``: full batch, the whole data set as one matrix per epoch (no copy;
      ``shuffle`` is then irrelevant and ignored).

    Batches are tuples of Tensors, one per dataset array (``(x, y)`` for an
    :class:`ArrayDataset` with labels). For array-backed datasets a batch costs one
    fancy-index per array, with a fresh permutation each epoch when ``shuffle=True``.

    The loader owns a ``numpy.random.Generator`` (seeded by ``seed``, or drawn from
    retrograd's global generator when ``seed`` is None, so :func:`rg.manual_seed`
    makes it reproducible). :meth:`state_dict` captures it, together with the position
    inside an unfinished epoch, so a resumed loader yields exactly the batches the
    uninterrupted one would have.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> ds = rg.data.ArrayDataset(np.arange(10).reshape(5, 2), np.arange(5))
        >>> [xb.shape for xb, yb in rg.data.DataLoader(ds, batch_size=2)]
        [(2, 2), (2, 2), (1, 2)]
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
    ) -> None:
        if isinstance(dataset, DataLoader):
            raise TypeError("DataLoader: dataset is already a DataLoader")
        if isinstance(dataset, (tuple, list)):
            dataset = TensorDataset(*dataset, name="DataLoader dataset")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must be a Dataset (len and indexing), got "
                f"{type(dataset).__name__}"
            )
        n = len(dataset)
        if n == 0:
            raise ValueError("DataLoader: the dataset is empty (0 samples)")
        if batch_size is not None:
            if (
                not isinstance(batch_size, (int, xp.integer))
                or isinstance(batch_size, bool)
                or batch_size <= 0
            ):
                raise ValueError(
                    f"DataLoader: batch_size must be a positive int or None (full batch), "
                    f"got {batch_size!r}"
                )
            batch_size = int(batch_size)
        if seed is not None and (not isinstance(seed, (int, xp.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
        if drop_last and batch_size is not None and batch_size > n:
            raise ValueError(
                f"DataLoader: drop_last=True with batch_size={batch_size} > {n} samples "
                "would yield no batch at all"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if seed is None:
            seed = int(default_generator().integers(0, 2**63 - 1))
        self.seed = int(seed)
        self.generator = xp.random.default_rng(self.seed)
        self._arrays = getattr(dataset, "arrays", None)
        self._n = n
        # Resume bookkeeping: generator state before the current epoch's permutation,
        # batches already yielded in it (None when no epoch is under way).
        self._epoch_state: dict | None = None
        self._position: int | None = None
        self._resume: tuple | None = None  # set only by load_state_dict
        self._full: tuple | None = None

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self.batch_size is None:
            return 1
        if self.drop_last:
            return self._n // self.batch_size
        return -(-self._n // self.batch_size)

    @property
    def num_samples(self) -> int:
        return self._n

    # -------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[tuple]:
        if self.batch_size is None:
            return self._iter_full()
        return self._iter_batches()

    def _iter_full(self) -> Iterator[tuple]:
        if self._full is None:
            if self._arrays is not None:
                self._full = tuple(_wrap(a) for a in self._arrays)
            else:
                self._full = self._collate(xp.arange(self._n))
        self._position = 0
        yield self._full
        self._position = None

    def _iter_batches(self) -> Iterator[tuple]:
        n, bs = self._n, self.batch_size
        skip = 0
        if self._resume is not None:
            # Resuming inside an epoch: redraw the same permutation, skip what was done.
            self._epoch_state, skip = self._resume
            self._resume = None
            self.generator.bit_generator.state = copy.deepcopy(self._epoch_state)
        else:
            self._epoch_state = copy.deepcopy(self.generator.bit_generator.state)
        order = self.generator.permutation(n) if self.shuffle else None
        stop = n - n % bs if self.drop_last else n
        arrays = self._arrays
        self._position = skip
        for start in range(skip * bs, stop, bs):
            end = min(start + bs, stop)
            if order is None:
                if arrays is not None:  # contiguous slices are views: no copy at all
                    batch = tuple(_wrap(a[start:end]) for a in arrays)
                else:
                    batch = self._collate(xp.arange(start, end))
            else:
                idx = order[start:end]
                if arrays is not None:
                    batch = tuple(_wrap(a[idx]) for a in arrays)
                else:
                    batch = self._collate(idx)
            self._position += 1
            yield batch
        self._position = None

    def _collate(self, idx: Any) -> tuple:
        # Generic datasets: one __getitem__ per sample, stacked per field.
        items = [self.dataset[int(i)] for i in idx]
        if not isinstance(items[0], (tuple, list)):
            items = [(it,) for it in items]
        fields = []
        for column in zip(*items):
            arr = xp.stack([c.data if isinstance(c, Tensor) else xp.asarray(c) for c in column])
            fields.append(_wrap(arr))
        return tuple(fields)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """JSON-able state: the generator and the position inside an unfinished epoch."""
        return {
            "seed": self.seed,
            "generator": copy.deepcopy(self.generator.bit_generator.state),
            "epoch_generator": copy.deepcopy(self._epoch_state),
            "position": self._position,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; the next iteration continues the same order."""
        try:
            gen_state = state["generator"]
            bg = getattr(xp.random, gen_state["bit_generator"])()
            bg.state = copy.deepcopy(gen_state)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"DataLoader.load_state_dict: malformed state ({exc!r})") from None
        self.generator = xp.random.Generator(bg)
        self.seed = int(state.get("seed", self.seed))
        pos = state.get("position")
        epoch_state = state.get("epoch_generator")
        self._resume = None
        if pos is not None and epoch_state is not None and self.batch_size is not None:
            self._resume = (copy.deepcopy(epoch_state), int(pos))

    def __repr__(self) -> str:
        return (
            f"DataLoader(n={self._n}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, seed={self.seed})"
        )


__all__ = ["DataLoader", "Dataset"]
