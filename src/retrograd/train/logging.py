"""Metric loggers: one record per epoch to a JSON Lines or CSV file, as training runs.

Each record holds ``epoch`` (1-based), every value the loop logged that epoch (``loss``,
metrics such as ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``...) and ``time``
(seconds the epoch took). The file is flushed after every epoch, so ``tail -f`` works and
an interrupted run keeps what it measured. When training resumes from a checkpoint
(``state.epoch > 0`` at the start), records after the resumed epoch are dropped and new
ones appended, so the file reads as one run.

Example::

    >>> import numpy as np, retrograd as rg, tempfile, os, json
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
    >>> X, y = np.eye(4, dtype="float32"), np.array([0, 1, 0, 1])
    >>> _ = rg.manual_seed(0)
    >>> net = rg.nn.Linear(4, 2)
    >>> opt = rg.optim.SGD(net.parameters(), lr=0.1)
    >>> _ = rg.train.fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y), epochs=3, verbose=0,
    ...                  callbacks=[rg.train.JSONLLogger(path)])
    >>> [json.loads(line)["epoch"] for line in open(path)]
    [1, 2, 3]
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any

from .callbacks import Callback

__all__ = ["JSONLLogger", "CSVLogger", "epoch_record", "read_records"]


def epoch_record(epoch: int, logs: dict) -> dict:
    """The record a logger writes for one epoch: ``epoch``, the logs, ``time`` last.

    Example::

        >>> epoch_record(3, {"loss": 0.5, "epoch_time": 0.25, "lr": 0.1})
        {'epoch': 3, 'loss': 0.5, 'lr': 0.1, 'time': 0.25}
    """
    rec: dict = {"epoch": int(epoch)}
    for k, v in logs.items():
        if k == "epoch_time":
            continue
        rec[k] = _plain(v)
    rec["time"] = _plain(logs.get("epoch_time"))
    return rec


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, int):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


class _FileLogger(Callback):
    suffix = ""

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = os.fspath(path)
        self.append = bool(append)
        self._fh: Any = None

    # Subclasses: read the existing records (resume) and write one record.
    def _read(self) -> list:
        raise NotImplementedError

    def _write(self, rec: dict) -> None:
        raise NotImplementedError

    def on_train_begin(self, state: Any) -> None:
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        resumed = int(getattr(state, "epoch", 0))
        keep: list = []
        if (self.append or resumed) and os.path.isfile(self.path):
            keep = self._read()
            if resumed:
                keep = [r for r in keep if _epoch_of(r) <= resumed]
        self._records = list(keep)
        self._fh = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._start()
        for rec in keep:
            self._write(rec)
        self._fh.flush()

    def _start(self) -> None:
        pass

    def on_epoch_end(self, state: Any, logs: dict) -> None:
        rec = epoch_record(state.epoch, logs)
        self._records.append(rec)
        self._write(rec)
        self._fh.flush()

    def on_train_end(self, state: Any) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    @property
    def records(self) -> list:
        """The records written so far (dicts), in order."""
        return list(getattr(self, "_records", []))


def _epoch_of(rec: dict) -> int:
    try:
        return int(float(rec.get("epoch", 0)))
    except (TypeError, ValueError):
        return 0


class JSONLLogger(_FileLogger):
    """Write one JSON object per epoch to ``path`` (JSON Lines).

    Non-finite numbers are written as ``null`` (strict JSON has no NaN), so every line
    parses with any JSON reader. ``append=True`` keeps the records already in the file.

    Example::

        >>> from retrograd.train import JSONLLogger
        >>> JSONLLogger("metrics.jsonl").path
        'metrics.jsonl'
    """

    def _read(self) -> list:
        out = []
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue  # a line cut short by a crash: drop it
        return out

    def _write(self, rec: dict) -> None:
        clean = {k: (None if _nonfinite(v) else v) for k, v in rec.items()}
        self._fh.write(json.dumps(clean) + "\n")


class CSVLogger(_FileLogger):
    """Write one CSV row per epoch to ``path``, with a header row.

    The columns are those of the first epoch's record (``epoch``, ``loss``, metrics,
    ``val_*``, ``lr``, ``time``); a value first logged in a later epoch is left out, a
    missing one is left empty.

    Example::

        >>> from retrograd.train import CSVLogger
        >>> CSVLogger("metrics.csv").path
        'metrics.csv'
    """

    def _read(self) -> list:
        with open(self.path, newline="", encoding="utf-8") as fh:
            return [dict(r) for r in csv.DictReader(fh)]

    def _start(self) -> None:
        self._writer: Any = None
        self._fields: list | None = None

    def _write(self, rec: dict) -> None:
        if self._writer is None:
            self._fields = list(rec)
            self._writer = csv.DictWriter(
                self._fh, fieldnames=self._fields, extrasaction="ignore", lineterminator="\n"
            )
            self._writer.writeheader()
        self._writer.writerow({k: _csv_cell(rec.get(k)) for k in self._fields})


def _nonfinite(v: Any) -> bool:
    return isinstance(v, float) and not math.isfinite(v)


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def read_records(path: str | os.PathLike) -> list:
    """The records of a JSONL or CSV metrics file as dicts (numbers parsed back).

    Example::

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "m.csv")
        >>> _ = open(p, "w").write("epoch,loss\\n1,0.5\\n")
        >>> read_records(p)
        [{'epoch': 1, 'loss': 0.5}]
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8", newline="") as fh:
        text = fh.read()
    if path.endswith(".csv"):
        rows = list(csv.DictReader(io.StringIO(text)))
        return [{k: _parse_cell(v) for k, v in r.items()} for r in rows]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _parse_cell(v: str) -> Any:
    if v == "":
        return None
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f
