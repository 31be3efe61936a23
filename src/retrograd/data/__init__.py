"""Data: datasets held as arrays, a fast resumable DataLoader, splits and file loaders.

Example::

    >>> import retrograd as rg
    >>> X, y = rg.data.load_digits()
    >>> X_tr, X_te, y_tr, y_te = rg.data.train_test_split(X, y, test_size=0.2, seed=0)
    >>> loader = rg.data.DataLoader(rg.data.ArrayDataset(X_tr, y_tr), batch_size=32)
    >>> xb, yb = next(iter(loader)); xb.shape, yb.dtype
    ((32, 64), dtype('int64'))
"""

from .dataset import ArrayDataset, Dataset, TensorDataset
from .files import load_csv, load_digits, load_npz
from .idx import load_idx, load_mnist
from .loader import DataLoader
from .split import train_test_split

__all__ = [
    "ArrayDataset", "DataLoader", "Dataset", "TensorDataset", "load_csv", "load_digits",
    "load_idx", "load_mnist", "load_npz", "train_test_split",
]  # fmt: skip
