"""Warnings that point at the user's code, not at retrograd's internals."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Frames of the context-manager plumbing between retrograd's own frames are skipped too.
_CONTEXTLIB = contextlib.__file__


def _internal(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR) or filename == _CONTEXTLIB


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the nearest caller outside the retrograd package.

    A fixed ``stacklevel`` goes stale whenever the internal call chain changes; this walks
    the frames instead, so the warning names the line of the user's program (or of the
    library that called retrograd) that led to it.
    """
    level, frame = 2, sys._getframe(1)
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
