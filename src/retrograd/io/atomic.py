"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every file retrograd writes (models, checkpoints, the ``latest`` pointer) goes through
:func:`atomic_write_bytes`: the bytes go to a temporary file in the *same directory*
(``os.replace`` is only atomic within one file system), which is flushed and fsync'ed,
renamed over the target with ``os.replace``, and finally the directory itself is
fsync'ed so the rename survives a power cut. On any error the temporary file is removed
and the old file, if any, is left untouched.

A process killed while writing (``kill -9``, a power cut) cannot remove its temporary
file. Temporary names therefore record who wrote them,
``.<target name>.rg-<host tag>-<pid>-<random>.tmp``, and every write removes the
temporaries in its directory left by processes of this host that no longer run. Files of
any other name, and those of running processes, are never touched.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import tempfile
import zlib
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "remove_stale_temporaries"]

_HOST_TAG = f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"
_TEMP_NAME = re.compile(r"^\..+\.rg-([0-9a-f]{8})-([0-9]+)-[A-Za-z0-9_]+\.tmp$")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process, or unknowable: keep its file
    return True


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Remove temporaries of :func:`atomic_write_bytes` left by dead processes.

    Only files named by this module's scheme, written on this host by a process that no
    longer runs, are removed; returns their paths. Called by every atomic write.

    Example::

        >>> import tempfile, pathlib
        >>> remove_stale_temporaries(tempfile.mkdtemp())
        []
    """
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m is None or m.group(1) != _HOST_TAG:
            continue
        pid = int(m.group(2))
        if pid == os.getpid() or _running(pid):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass  # gone already, or not ours to remove after all
    return removed


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
    remove_stale_temporaries(directory)
    fd, tmp_name = tempfile.mkstemp(
        dir=directory, prefix=f".{path.name}.rg-{_HOST_TAG}-{os.getpid()}-", suffix=".tmp"
    )
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
    except BaseException as e:
        # Also on KeyboardInterrupt: never leave a stray temporary file behind.
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.errno is not None and e.filename is None:
            # "[Errno 28] No space left on device" alone names no file: say which.
            raise type(e)(e.errno, f"{e.strerror} (while writing)", str(path)) from e
        raise
    _fsync_directory(directory)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))
