"""Where a study is stored: Optuna's journal file (default) or SQLite, under data/tune/.

The journal is written by one tuner at a time: :class:`RunJournal` takes an
exclusive OS lock on the file for the whole run (a second ``recsys tune`` on
the same directory fails at once instead of interleaving), appends each record
through one open handle and flushes it to the OS, so a crashed or killed run
loses nothing it had recorded; it syncs to disk once, at the end of the run.
Optuna's own file backend instead takes a lock file and an fsync per record
(several per trial), which cost more than the rest of the study's bookkeeping
together (bench/tune_overhead.py). The file format is Optuna's, so
``optuna.storages.JournalStorage(JournalFileBackend(path))`` reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend

from recsys_cli.config import TuneConfig
from recsys_cli.errors import StageInputError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
    fcntl = None  # type: ignore[assignment]


def storage_path(tune: TuneConfig, directory: Path) -> Path:
    return directory / ("study.journal" if tune.storage == "journal" else "study.db")


class RunJournal(JournalFileBackend):
    """Optuna's journal file, held by this process for one run (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "ab")  # noqa: SIM115 - closed by close()
        if fcntl is not None:
            try:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._handle.close()
                raise StageInputError(f"tune: {path} is in use by another `recsys tune`; wait for it to finish") from None
        _drop_torn_tail(path)
        super().__init__(str(path))

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        self._handle.write(text.encode("utf-8"))
        self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            os.fsync(self._handle.fileno())
            self._handle.close()  # releases the lock


def _drop_torn_tail(path: Path) -> None:
    """Cut a last record that a kill tore mid-write (no newline yet), so appends start on a fresh line."""
    size = path.stat().st_size
    if not size:
        return
    with open(path, "rb+") as f:
        f.seek(max(size - 65536, 0))
        tail = f.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        f.truncate(size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= 65536 else size))


@contextmanager
def opened(path: Path, kind: str) -> Iterator[optuna.storages.BaseStorage]:
    """The study storage at ``path`` for the duration of a run."""
    if kind == "sqlite":
        path.parent.mkdir(parents=True, exist_ok=True)
        yield optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")
        return
    backend = RunJournal(path)
    try:
        yield optuna.storages.JournalStorage(backend)
    finally:
        backend.close()
