"""IDX parsing and the MNIST download, on small files the tests write (no network)."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct

import numpy as np
import pytest

from retrograd.data import idx as idx_mod
from retrograd.data import load_idx, load_mnist


def _idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(dt).tobytes()


@pytest.mark.parametrize(
    "code,dtype",
    [
        (0x08, np.uint8),
        (0x09, np.int8),
        (0x0B, np.int16),
        (0x0C, np.int32),
        (0x0D, np.float32),
        (0x0E, np.float64),
    ],
)
def test_roundtrip_all_types(tmp_path, code, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if code == 0x08:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "a.idx"
    p.write_bytes(_idx_bytes(arr, code))
    out = load_idx(p)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert np.array_equal(out, arr)


def test_gzip_detected_by_content(tmp_path):
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    p = tmp_path / "no-extension"
    p.write_bytes(gzip.compress(_idx_bytes(arr)))
    assert np.array_equal(load_idx(p), arr)


@pytest.mark.parametrize(
    "data,msg",
    [
        (b"\x01\x00\x08\x01", "not an IDX file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02", "truncated: header needs 12 bytes"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "has 2 data bytes.*needs 3.*truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "trailing bytes"),
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
    ],
)
def test_malformed_files(tmp_path, data, msg):
    p = tmp_path / "bad"
    p.write_bytes(data)
    with pytest.raises(ValueError, match=msg):
        load_idx(p)


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "bad.gz"
    p.write_bytes(gzip.compress(_idx_bytes(np.zeros(10, np.uint8)))[:-6])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        load_idx(p)


def _fake_mnist():
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 5).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3).astype(np.uint8),
    }
    blobs = {k: gzip.compress(_idx_bytes(v)) for k, v in files.items()}
    return files, blobs


class _Opener:
    def __init__(self, blobs, fail_mirror=None):
        self.blobs, self.calls, self.fail_mirror = blobs, [], fail_mirror

    def __call__(self, url, timeout=None):
        self.calls.append(url)
        if self.fail_mirror and url.startswith(self.fail_mirror):
            raise OSError("mirror down")
        return io.BytesIO(self.blobs[url.rsplit("/", 1)[1]])


def test_load_mnist_downloads_verifies_and_caches(tmp_path, monkeypatch):
    files, blobs = _fake_mnist()
    digests = {k: hashlib.sha256(b).hexdigest() for k, b in blobs.items()}
    monkeypatch.setattr(idx_mod, "MNIST_FILES", digests)
    opener = _Opener(blobs, fail_mirror="https://first/")
    monkeypatch.setattr(idx_mod, "_urlopen", opener)
    mirrors = ("https://first/", "https://second/")
    X_tr, y_tr, X_te, y_te = load_mnist(tmp_path, mirrors=mirrors)
    assert np.array_equal(X_tr, files["train-images-idx3-ubyte.gz"])
    assert y_tr.dtype == np.int64 and X_te.shape == (3, 28, 28) and y_te.shape == (3,)
    assert len(opener.calls) == 8  # each file: first mirror failed, second served it
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(blobs)  # no .part left
    opener.calls.clear()
    X_tr2, *_ = load_mnist(tmp_path, mirrors=mirrors, flatten=True, normalize=True)
    assert opener.calls == []  # served from the cache
    assert X_tr2.shape == (5, 784) and X_tr2.dtype == np.float32 and X_tr2.max() <= 1.0


def test_load_mnist_rejects_bad_checksum_and_leaves_nothing(tmp_path, monkeypatch):
    _, blobs = _fake_mnist()
    monkeypatch.setattr(idx_mod, "_urlopen", _Opener(blobs))
    with pytest.raises(OSError, match="SHA-256 mismatch"):
        load_mnist(tmp_path, mirrors=("https://m/",))  # real digests, fake data
    assert list(tmp_path.iterdir()) == []


def test_load_mnist_corrupt_cache_and_no_download(tmp_path, monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("network touched")

    monkeypatch.setattr(idx_mod, "_urlopen", no_network)
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_mnist(tmp_path, download=False)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt or not the original"):
        load_mnist(tmp_path, download=False)


def test_real_digests_are_pinned():
    assert idx_mod.MNIST_FILES["train-images-idx3-ubyte.gz"].startswith("440fcabf73cc546f")
    assert all(len(d) == 64 for d in idx_mod.MNIST_FILES.values())
