"""Checkpoints: everything an exact resume needs, in one atomically written file.

A checkpoint is a safetensors file holding the model's parameters and buffers (tensors
``model.<state_dict name>``), the optimizer's and scheduler's ``state_dict()``, retrograd's
global RNG state and a free-form ``state`` dict (epoch, step, data-loader RNG, callback
state, history...). Nested state is stored exactly and without pickle (see
:mod:`retrograd.io.nested`): arrays become tensors, everything else JSON.

:class:`CheckpointManager` names files ``ckpt-<step>.safetensors`` in a directory, keeps
the last N and the best one, and maintains a ``latest`` pointer file.
"""

from __future__ import annotations

import copy
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError
from ._common import assign_state, check_state, make_metadata, parse_metadata
from .atomic import atomic_write_text
from .nested import decode_nested, encode_nested
from .registry import module_to_config
from .safetensors_format import (
    encode_safetensors,
    read_safetensors,
    read_safetensors_header,
    strict_json_loads,
)

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointManager",
    "latest_checkpoint",
    "MODEL_PREFIX",
]

MODEL_PREFIX = "model."
_SECTIONS = ("optimizer", "scheduler", "state", "rng")
_PREFIXES = tuple(f"{s}." for s in _SECTIONS)
LATEST_POINTER = "latest"


def _opt_name(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _opt_int(v: Any) -> bool:
    return v is None or (isinstance(v, int) and not isinstance(v, bool))


def _score_ok(v: Any) -> bool:
    if v is None:
        return True
    return (
        isinstance(v, dict)
        and set(v) == {"monitor", "mode", "value"}
        and isinstance(v["monitor"], str)
        and v["mode"] in ("min", "max")
        and (v["value"] is None or isinstance(v["value"], (int, float)))
        and not isinstance(v["value"], bool)
    )


_REQUIRED = {
    "architecture": None,  # informative only: load_checkpoint is given the model
    "optimizer": None,
    "optimizer_type": _opt_name,
    "scheduler": None,
    "scheduler_type": _opt_name,
    "state": None,
    "rng": None,
    "step": _opt_int,
    "score": _score_ok,
}


def _validate_keep_best(keep_best: Any) -> tuple[str, str] | None:
    if keep_best is None:
        return None
    if (
        not isinstance(keep_best, (tuple, list))
        or len(keep_best) != 2
        or not isinstance(keep_best[0], str)
        or keep_best[1] not in ("min", "max")
    ):
        raise ValueError(
            f"keep_best must be None or (monitor, 'min'|'max'), e.g. ('val_loss', 'min'), "
            f"got {keep_best!r}"
        )
    return keep_best[0], keep_best[1]


def _validate_keep_last(keep_last: Any) -> int | None:
    if keep_last is None:
        return None
    if not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 1:
        raise ValueError(f"keep_last must be None or an int >= 1, got {keep_last!r}")
    return keep_last


def _score_value(v: Any, monitor: str) -> float | None:
    try:
        value = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"keep_best: {monitor!r} must be a number, got {v!r}") from None
    return value


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    state: dict | None = None,
    keep_last: int | None = None,
    keep_best: tuple[str, str] | None = None,
    step: int | None = None,
) -> Path:
    """Write a checkpoint for an exact resume, atomically; returns its path.

    Stores ``model.state_dict()``, ``optimizer.state_dict()``, ``scheduler.state_dict()``,
    the global RNG state (``rg.get_rng_state()``) and ``state`` (any nesting of dicts
    with str/int keys, lists, tuples, None/bool/int/float/str, NumPy arrays and scalars).
    With ``keep_last`` and/or ``keep_best=(monitor, "min"|"max")`` the file joins the
    rotation of :class:`CheckpointManager` in its directory: the ``latest`` pointer is
    updated and older ``ckpt-<step>.safetensors`` files beyond the last ``keep_last`` (and
    the best by ``state[monitor]``) are deleted.

    Example::

        >>> import tempfile, pathlib, retrograd as rg
        >>> net = rg.nn.Linear(2, 1)
        >>> opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "ckpt-3.safetensors"
        >>> _ = rg.save_checkpoint(path, model=net, optimizer=opt, state={"epoch": 3})
        >>> rg.load_checkpoint(path, model=net, optimizer=opt)
        {'epoch': 3}
    """
    path = Path(os.fspath(path))
    keep_last = _validate_keep_last(keep_last)
    keep_best = _validate_keep_best(keep_best)
    if step is None:
        step = _step_of(path.name, "ckpt")
    score = None
    if keep_best is not None:
        if not isinstance(state, dict) or keep_best[0] not in state:
            raise ValueError(
                f"save_checkpoint: keep_best monitors {keep_best[0]!r}, which must be "
                f"a key of state"
            )
        score = _score_value(state[keep_best[0]], keep_best[0])
    _write_checkpoint(path, model, optimizer, scheduler, state, step, keep_best, score)
    if keep_last is not None or keep_best is not None:
        CheckpointManager(path.parent, keep_last=keep_last, keep_best=keep_best)._commit(path)
    return path


def _write_checkpoint(
    path: Path,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: Any,
    step: int | None,
    keep_best: tuple[str, str] | None,
    score: float | None,
) -> None:
    from ..nn.module import Module
    from ..random import get_rng_state

    if not isinstance(model, Module):
        raise TypeError(f"save_checkpoint: model must be a Module, got {type(model).__name__}")
    if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
        raise TypeError(f"save_checkpoint: step must be an int, got {step!r}")
    tensors = {MODEL_PREFIX + k: v for k, v in model.state_dict().items()}
    try:
        architecture = module_to_config(model)
    except (TypeError, ValueError):
        architecture = None  # unregistered models can still be checkpointed
    body: dict[str, Any] = {"architecture": architecture}
    for section, obj in (
        ("optimizer", None if optimizer is None else optimizer.state_dict()),
        ("scheduler", None if scheduler is None else scheduler.state_dict()),
        ("state", state),
        ("rng", get_rng_state()),
    ):
        encoded, arrays = encode_nested(obj, f"{section}.", section)
        body[section] = encoded
        tensors.update(arrays)
    body["optimizer_type"] = None if optimizer is None else type(optimizer).__name__
    body["scheduler_type"] = None if scheduler is None else type(scheduler).__name__
    body["step"] = step
    if keep_best is None:
        body["score"] = None
    else:
        value = None if score is None or math.isnan(score) else score
        if value is not None and math.isinf(value):
            value = None  # JSON has no infinity; an infinite score is never the best anyway
        body["score"] = {"monitor": keep_best[0], "mode": keep_best[1], "value": value}
    blob = encode_safetensors(tensors, make_metadata("checkpoint", body))
    from .atomic import atomic_write_bytes

    atomic_write_bytes(path, blob)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    restore_rng: bool = True,
) -> Any:
    """Restore a checkpoint into ``model`` (and ``optimizer``/``scheduler``); return ``state``.

    The file is validated completely and the model's names and shapes are checked before
    anything is changed. Weights are copied into the model's existing parameters (in the
    model's dtype, as PyTorch does). With ``restore_rng`` (default) retrograd's global RNG
    is put back where it was, so dropout and initialisation continue identically. Passing
    an optimizer or scheduler requires the checkpoint to hold its state (and to come from
    the same class). Raises :class:`retrograd.ModelFileError` on any problem.

    Example::

        >>> import tempfile, pathlib, retrograd as rg
        >>> net = rg.nn.Linear(2, 1)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "c.safetensors"
        >>> _ = rg.save_checkpoint(path, model=net, state={"step": 10})
        >>> rg.load_checkpoint(path, model=rg.nn.Linear(2, 1))["step"]
        10
    """
    path = Path(os.fspath(path))
    what = f"checkpoint {str(path)!r}"
    tensors, metadata = read_safetensors(path)
    meta = parse_metadata(metadata, "checkpoint", _REQUIRED, what)
    weights = {k[len(MODEL_PREFIX) :]: v for k, v in tensors.items() if k.startswith(MODEL_PREFIX)}
    decoded = {}
    claimed = len(weights)
    for section in _SECTIONS:
        prefix = f"{section}."
        arrays = {k: v for k, v in tensors.items() if k.startswith(prefix)}
        claimed += len(arrays)
        decoded[section] = decode_nested(meta[section], arrays, what, section)
    if claimed != len(tensors):
        stray = [k for k in tensors if not k.startswith((MODEL_PREFIX, *_PREFIXES))][:5]
        raise ModelFileError(f"{what}: tensors {stray} belong to no section")
    targets = check_state(model, weights, what)
    for obj, section in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is None:
            continue
        if meta[section] is None:
            raise ModelFileError(
                f"{what}: a {section} was passed but the checkpoint holds no {section} state"
            )
        saved_type = meta[f"{section}_type"]
        if saved_type != type(obj).__name__:
            raise ModelFileError(
                f"{what}: the {section} state is from {saved_type}, not {type(obj).__name__}"
            )
    rng_state = decoded["rng"] if restore_rng else None
    if rng_state is not None:
        try:  # validate on a scratch generator so a bad state fails before any change
            np.random.PCG64().state = copy.deepcopy(rng_state)
        except Exception as e:  # NumPy's state setter raises various types
            raise ModelFileError(f"{what}: invalid RNG state: {e}") from None
    # Optimizer first: if its state does not fit, the model has not been touched yet.
    for obj, section in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is None:
            continue
        try:
            obj.load_state_dict(decoded[section])
        except Exception as e:  # whatever a hostile state makes load_state_dict raise
            raise ModelFileError(
                f"{what}: the {section} state does not fit {type(obj).__name__}: {e}"
            ) from None
    assign_state(targets, weights, keep_file_dtype=False)
    if rng_state is not None:
        from ..random import set_rng_state

        set_rng_state(rng_state)
    return decoded["state"]


# ------------------------------------------------------------------ rotation
def _step_of(name: str, prefix: str) -> int | None:
    m = re.fullmatch(re.escape(prefix) + r"-(\d{1,18})\.safetensors", name)
    return int(m.group(1)) if m else None


def _read_score(path: Path) -> tuple[str, str, float] | None:
    """``(monitor, mode, value)`` from a checkpoint's header, or None if unreadable."""
    try:
        _, metadata = read_safetensors_header(path)
        meta = strict_json_loads(metadata.get("retrograd", "null"), "checkpoint metadata")
        score = meta.get("score") if isinstance(meta, dict) else None
        if _score_ok(score) and score is not None and score["value"] is not None:
            return score["monitor"], score["mode"], float(score["value"])
    except (OSError, ModelFileError):
        pass
    return None


class CheckpointManager:
    """Rotating checkpoints ``<dir>/ckpt-<step>.safetensors`` with a ``latest`` pointer.

    ``keep_last`` newest checkpoints (by step) are kept, plus the best one by
    ``keep_best=(monitor, "min"|"max")`` (the monitored value comes from ``metrics`` or
    ``state`` at :meth:`save`); others are deleted. ``keep_last=None`` keeps everything.
    The checkpoint just written is never deleted. The ``latest`` pointer (a one-line text
    file naming the newest checkpoint) is written atomically after the checkpoint itself,
    so a crash at any moment leaves a loadable latest checkpoint.

    Example::

        >>> import tempfile, retrograd as rg
        >>> from retrograd.io import CheckpointManager
        >>> net = rg.nn.Linear(2, 1)
        >>> mgr = CheckpointManager(tempfile.mkdtemp(), keep_last=2)
        >>> for step in (10, 20, 30):
        ...     _ = mgr.save(step, model=net, state={"step": step})
        >>> [p.name for p in mgr.checkpoints()]
        ['ckpt-20.safetensors', 'ckpt-30.safetensors']
        >>> mgr.restore(model=net)["step"]
        30
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        keep_last: int | None = 3,
        keep_best: tuple[str, str] | None = None,
        prefix: str = "ckpt",
    ) -> None:
        self.directory = Path(os.fspath(directory))
        self.keep_last = _validate_keep_last(keep_last)
        self.keep_best = _validate_keep_best(keep_best)
        if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", prefix):
            raise ValueError(
                f"CheckpointManager: prefix must be a plain file-name stem, got {prefix!r}"
            )
        self.prefix = prefix

    def path_for(self, step: int) -> Path:
        """The file name used for ``step``."""
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < 10**18:
            raise ValueError(f"CheckpointManager: step must be an int in [0, 1e18), got {step!r}")
        return self.directory / f"{self.prefix}-{step}.safetensors"

    def save(
        self,
        step: int,
        *,
        model: Any,
        optimizer: Any = None,
        scheduler: Any = None,
        state: dict | None = None,
        metrics: dict | None = None,
    ) -> Path:
        """Write ``ckpt-<step>.safetensors``, update ``latest``, delete what is not kept."""
        path = self.path_for(step)
        self.directory.mkdir(parents=True, exist_ok=True)
        score = None
        if self.keep_best is not None:
            monitor = self.keep_best[0]
            source = metrics if metrics is not None and monitor in metrics else state
            if not isinstance(source, dict) or monitor not in source:
                raise ValueError(
                    f"CheckpointManager.save: keep_best monitors {monitor!r}; pass "
                    f"it in metrics or state"
                )
            score = _score_value(source[monitor], monitor)
        _write_checkpoint(path, model, optimizer, scheduler, state, step, self.keep_best, score)
        self._commit(path)
        return path

    def _commit(self, path: Path) -> None:
        atomic_write_text(self.directory / LATEST_POINTER, path.name + "\n")
        self.prune(protect=path)

    def checkpoints(self) -> list[Path]:
        """The rotation's checkpoint files, oldest step first."""
        if not self.directory.is_dir():
            return []
        found = []
        for p in self.directory.iterdir():
            step = _step_of(p.name, self.prefix)
            if step is not None and p.is_file():
                found.append((step, p))
        return [p for _, p in sorted(found)]

    def best(self) -> Path | None:
        """The kept checkpoint with the best monitored value (earliest on ties), or None."""
        if self.keep_best is None:
            return None
        monitor, mode = self.keep_best
        best_path, best_value = None, None
        for p in self.checkpoints():
            score = _read_score(p)
            if score is None or score[0] != monitor or math.isnan(score[2]):
                continue
            value = score[2]
            better = best_value is None or (
                value < best_value if mode == "min" else value > best_value
            )
            if better:
                best_path, best_value = p, value
        return best_path

    def prune(self, protect: Path | None = None) -> list[Path]:
        """Delete checkpoints outside the last ``keep_last`` and the best; return them."""
        if self.keep_last is None:
            return []
        files = self.checkpoints()
        keep = set(files[-self.keep_last :])
        best = self.best()
        if best is not None:
            keep.add(best)
        if protect is not None:
            keep.add(protect)
        latest = self.latest()
        if latest is not None:
            keep.add(latest)
        removed = []
        for p in files:
            if p not in keep:
                try:
                    p.unlink()
                    removed.append(p)
                except FileNotFoundError:
                    pass
        return removed

    def latest(self) -> Path | None:
        """The newest checkpoint (see :func:`latest_checkpoint`)."""
        return latest_checkpoint(self.directory, prefix=self.prefix)

    def restore(
        self,
        *,
        model: Any,
        optimizer: Any = None,
        scheduler: Any = None,
        restore_rng: bool = True,
    ) -> Any:
        """Load the latest checkpoint and return its ``state``; None if there is none.

        If the latest file cannot be read (a disk error, a truncated copy), older
        checkpoints are tried, newest first, with a warning naming each skipped file.
        """
        candidates = []
        latest = self.latest()
        if latest is not None:
            candidates.append(latest)
        candidates += [p for p in reversed(self.checkpoints()) if p != latest]
        if not candidates:
            return None
        errors = []
        for p in candidates:
            try:
                return load_checkpoint(
                    p,
                    model=model,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    restore_rng=restore_rng,
                )
            except ModelFileError as e:
                errors.append(str(e))
                warnings.warn(f"skipping unreadable checkpoint: {e}", stacklevel=2)
        raise ModelFileError(
            f"no readable checkpoint in {str(self.directory)!r}: "
            + " | ".join(errors[:3])
            + "; if the model, optimizer or scheduler changed since these checkpoints were "
            "written, start afresh: train without resuming (resume=False, no --resume), or "
            "with a new checkpoint directory (or delete the old one)"
        )


def latest_checkpoint(directory: str | os.PathLike, *, prefix: str = "ckpt") -> Path | None:
    """The newest checkpoint in ``directory``, or None if there is none.

    Follows the ``latest`` pointer when it names an existing file in the directory;
    otherwise (no pointer, or a crash between writing a checkpoint and its pointer)
    returns the ``<prefix>-<step>.safetensors`` file with the highest step.

    Example::

        >>> import tempfile, retrograd as rg
        >>> from retrograd.io import latest_checkpoint
        >>> latest_checkpoint(tempfile.mkdtemp()) is None
        True
    """
    directory = Path(os.fspath(directory))
    pointer = directory / LATEST_POINTER
    try:
        name = pointer.read_text(encoding="utf-8", errors="strict").strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    # The pointer may only name a plain file inside the directory (no path tricks).
    if (
        name
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
        and (directory / name).is_file()
    ):
        return directory / name
    best: tuple[int, Path] | None = None
    if directory.is_dir():
        for p in directory.iterdir():
            step = _step_of(p.name, prefix)
            if step is not None and p.is_file() and (best is None or step > best[0]):
                best = (step, p)
    return None if best is None else best[1]
