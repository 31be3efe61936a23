"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every file retrograd writes (models, checkpoints, the ``latest`` pointer) goes through
:func:`atomic_write_bytes`: the bytes go to a temporary file in the *same directory*
(``os.replace`` is only atomic within one file system), which is flushed and fsync'ed,
renamed over the target with ``os.replace``, and finally the directory itself is
fsync'ed so the rename survives a power cut. On any error the temporary file is removed
and the old file, if any, is left untouched.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text"]


def _default_mode() -> int:
    """The mode a plain ``open(path, 'w')`` would give: 0o666 minus the umask.

    ``mkstemp`` creates files with mode 0o600; without this, every saved model would be
    unreadable by other users. The umask is read from /proc where possible because
    ``os.umask`` can only be read by setting it, which races with other threads.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644


def _fsync_directory(directory: Path) -> None:
    # Directories cannot be opened on Windows; there the rename is as durable as it gets.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically and durably; returns the path.

    The parent directory must exist. An existing file keeps its permission bits.

    Example::

        >>> import tempfile, pathlib
        >>> from retrograd.io import atomic_write_bytes
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> p = atomic_write_bytes(d / "hello.bin", b"hi")
        >>> p.read_bytes()
        b'hi'
    """
    path = Path(os.fspath(path))
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"atomic_write_bytes: directory {str(directory)!r} does not exist")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = _default_mode()
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            view = memoryview(data)
            f.write(view)
            f.flush()
            os.fsync(f.fileno())
        if os.name == "posix":
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a stray temporary file behind.
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))
