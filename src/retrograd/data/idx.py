"""The IDX file format (MNIST and friends) and a verified MNIST download."""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import tempfile
import urllib.request
import zlib
from typing import Any

from .._backend import xp

# IDX type codes -> big-endian NumPy dtypes (http://yann.lecun.com/exdb/mnist/, bottom).
_IDX_TYPES = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def _open(path: str) -> Any:
    """A binary reader of the file, decompressing gzip (detected by content)."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":  # gzip magic, whatever the file is called
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read(fh: Any, n: int, path: str) -> bytes:
    """Up to ``n`` bytes, in chunks: memory grows with the bytes that exist, not with
    what a header claims."""
    chunks, left = [], n
    try:
        while left > 0:
            chunk = fh.read(min(left, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(
            f"load_idx: {path!r} is a corrupt or truncated gzip file ({exc})"
        ) from None
    return b"".join(chunks)


def load_idx(path: str | os.PathLike) -> Any:
    """Read an IDX file (plain or gzip-compressed) into an ndarray of native byte order.

    The header is checked: two zero bytes, a known type code, the number of dimensions,
    then each dimension; the data must have exactly the size the header announces. The
    data is read only up to that size (a header cannot make it allocate more than the
    file holds).

    Example::

        >>> import numpy as np, retrograd as rg, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
        >>> _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
        >>> rg.data.load_idx(p)
        array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_idx: no such file: {path!r}")
    with _open(path) as fh:
        raw = _read(fh, 4, path)
        if len(raw) < 4:
            raise ValueError(
                f"load_idx: {path!r} is too short ({len(raw)} bytes) for an IDX header"
            )
        if raw[0] != 0 or raw[1] != 0:
            raise ValueError(
                f"load_idx: {path!r} is not an IDX file (magic starts with bytes "
                f"{raw[0]:#04x} {raw[1]:#04x}, expected 0x00 0x00)"
            )
        code, ndim = raw[2], raw[3]
        if code not in _IDX_TYPES:
            raise ValueError(
                f"load_idx: {path!r} has unknown IDX type code {code:#04x}; expected one of "
                f"{[hex(c) for c in _IDX_TYPES]}"
            )
        if ndim == 0:
            raise ValueError(f"load_idx: {path!r} declares 0 dimensions")
        header = 4 + 4 * ndim
        dims = _read(fh, 4 * ndim, path)
        if len(dims) < 4 * ndim:
            raise ValueError(
                f"load_idx: {path!r} is truncated: header needs {header} bytes for {ndim} "
                f"dimensions, the file has {4 + len(dims)}"
            )
        shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
        dtype = xp.dtype(_IDX_TYPES[code])
        # Python integers: the product of up to 255 dimensions of 2**32 never wraps.
        expected = math.prod(shape) * dtype.itemsize
        if math.prod(d for d in shape if d) > 2**62:
            # NumPy refuses such a shape even with a zero dimension (no data at all).
            raise ValueError(
                f"load_idx: {path!r}: header dimensions {shape} are too large for an array "
                "(product beyond 2**62)"
            )
        data = _read(fh, expected + 1, path)
    got = len(data)
    if got != expected:
        has = f"more than {expected}" if got > expected else str(got)
        raise ValueError(
            f"load_idx: {path!r} has {has} data bytes, but its header {shape} of "
            f"{dtype.name} needs {expected} ({'truncated' if got < expected else 'trailing bytes'})"
        )
    arr = xp.frombuffer(data, dtype=dtype).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


# ------------------------------------------------------------------------------- MNIST
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# SHA-256 of the original gzipped files (the digests TFDS and Keras publish).
_TRAIN = "train-{}-idx{}-ubyte.gz"
_TEST = "t10k-{}-idx{}-ubyte.gz"
MNIST_FILES = {
    _TRAIN.format("images", 3): "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    _TRAIN.format("labels", 1): "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    _TEST.format("images", 3): "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    _TEST.format("labels", 1): "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# Indirection so tests can substitute a fake opener (they never touch the network).
_urlopen = urllib.request.urlopen


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: str, sha256: str, timeout: float) -> None:
    """Fetch ``url`` to a temporary file next to ``dest``, verify, then rename atomically."""
    d = os.path.dirname(dest)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=d)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        digest = h.hexdigest()
        if digest != sha256:
            raise ValueError(f"SHA-256 mismatch for {url}: got {digest}, expected {sha256}")
        os.replace(tmp, dest)  # atomic: a reader never sees a half-written file
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _default_root() -> str:
    base = os.environ.get("RETROGRAD_DATA") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "retrograd",
    )
    return os.path.join(base, "mnist")


def load_mnist(
    root: str | os.PathLike | None = None,
    download: bool = True,
    flatten: bool = False,
    normalize: bool = False,
    timeout: float = 60.0,
    mirrors: Any = None,
) -> tuple:
    """MNIST as ``(X_train, y_train, X_test, y_test)``, downloaded once and verified.

    The four gzipped IDX files are looked for in ``root`` (default
    ``$RETROGRAD_DATA/mnist`` or ``~/.cache/retrograd/mnist``). Missing ones are
    downloaded from the mirrors when ``download=True``, checked against their published
    SHA-256 and moved into place atomically; a file already there is verified too, so a
    corrupt cache raises instead of training on garbage. ``X`` is uint8 (N, 28, 28) by
    default; ``flatten`` gives (N, 784), ``normalize`` float32 in [0, 1]. ``y`` is int64.

    Example::

        X_train, y_train, X_test, y_test = rg.data.load_mnist(flatten=True, normalize=True)
    """
    root = _default_root() if root is None else os.fspath(root)
    mirrors = tuple(mirrors) if mirrors is not None else MNIST_MIRRORS
    os.makedirs(root, exist_ok=True)
    paths = {}
    for name, digest in MNIST_FILES.items():
        dest = os.path.join(root, name)
        if not os.path.exists(dest):
            if not download:
                raise FileNotFoundError(
                    f"load_mnist: {dest!r} is missing and download=False; pass download=True "
                    f"or place the file there (SHA-256 {digest})"
                )
            errors = []
            for mirror in mirrors:
                try:
                    _download(mirror + name, dest, digest, timeout)
                    break
                except Exception as exc:  # noqa: BLE001 - try the next mirror, report all
                    errors.append(f"{mirror}{name}: {exc}")
            else:
                raise OSError(
                    "load_mnist: could not download " + name + ":\n  " + "\n  ".join(errors)
                )
        else:
            got = _sha256(dest)
            if got != digest:
                raise ValueError(
                    f"load_mnist: {dest!r} is corrupt or not the original file (SHA-256 {got}, "
                    f"expected {digest}); delete it to download it again"
                )
        paths[name] = dest
    X_tr = load_idx(paths["train-images-idx3-ubyte.gz"])
    y_tr = load_idx(paths["train-labels-idx1-ubyte.gz"]).astype(xp.int64)
    X_te = load_idx(paths["t10k-images-idx3-ubyte.gz"])
    y_te = load_idx(paths["t10k-labels-idx1-ubyte.gz"]).astype(xp.int64)
    for X, y, part in ((X_tr, y_tr, "train"), (X_te, y_te, "test")):
        if X.ndim != 3 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"load_mnist: {part} images {X.shape} and labels {y.shape} do not match"
            )
    if flatten:
        X_tr, X_te = X_tr.reshape(len(X_tr), -1), X_te.reshape(len(X_te), -1)
    if normalize:
        X_tr = X_tr.astype(xp.float32) / xp.float32(255)
        X_te = X_te.astype(xp.float32) / xp.float32(255)
    return X_tr, y_tr, X_te, y_te
