"""Atomic writes: a crash at any point leaves the old file intact and no temp files."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

import retrograd as rg
from retrograd.io import atomic
from retrograd.io.atomic import atomic_write_bytes


def _listing(d):
    return sorted(p.name for p in d.iterdir())


def test_write_replace_and_permissions(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"one")
    assert p.read_bytes() == b"one"
    if os.name == "posix":  # as a plain open() would create it, not mkstemp's 0o600
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~_umask()
    os.chmod(p, 0o640)
    atomic_write_bytes(p, bytearray(b"two"))
    assert p.read_bytes() == b"two"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640  # an existing file keeps its mode
    assert _listing(tmp_path) == ["f.bin"]


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write_bytes(tmp_path / "nope" / "f.bin", b"x")


class _Boom(RuntimeError):
    pass


def _crash(*args, **kwargs):
    raise _Boom("simulated crash")


@pytest.mark.parametrize("where", ["replace", "fsync", "write", "chmod"])
def test_crash_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch, where):
    target = tmp_path / "model.safetensors"
    net = rg.nn.Linear(3, 2)
    rg.save(net, target)
    before = target.read_bytes()
    if where == "replace":
        monkeypatch.setattr(atomic.os, "replace", _crash)
    elif where == "fsync":
        monkeypatch.setattr(atomic.os, "fsync", _crash)
    elif where == "chmod":
        monkeypatch.setattr(atomic.os, "chmod", _crash)
    else:
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, fd, mode):
                self.f = real_fdopen(fd, mode)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(bytes(data[: len(data) // 2]))  # half the bytes reach the disk
                raise _Boom("disk full")

            def flush(self):
                self.f.flush()

            def fileno(self):
                return self.f.fileno()

        monkeypatch.setattr(atomic.os, "fdopen", HalfWriter)
    with pytest.raises(_Boom):
        rg.save(rg.nn.Linear(3, 2), target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert _listing(tmp_path) == ["model.safetensors"]
    np.testing.assert_array_equal(rg.load(target).weight.data, net.weight.data)


def test_crash_during_checkpoint_keeps_previous_checkpoint(tmp_path, monkeypatch):
    net = rg.nn.Linear(2, 2)
    mgr = rg.io.CheckpointManager(tmp_path, keep_last=2)
    mgr.save(1, model=net, state={"epoch": 1})
    monkeypatch.setattr(atomic.os, "replace", _crash)
    with pytest.raises(_Boom):
        mgr.save(2, model=net, state={"epoch": 2})
    monkeypatch.undo()
    assert _listing(tmp_path) == ["ckpt-1.safetensors", "latest"]
    assert mgr.restore(model=net) == {"epoch": 1}


def test_keyboard_interrupt_also_cleans_up(tmp_path, monkeypatch):
    def interrupt(*a):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "x", b"data")
    assert _listing(tmp_path) == []


def test_directory_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    calls = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(
        atomic.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))
    )
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd)))
    atomic_write_bytes(tmp_path / "x", b"data")
    expected = ["fsync", "replace", "fsync"] if os.name == "posix" else ["fsync", "replace"]
    assert calls == expected
