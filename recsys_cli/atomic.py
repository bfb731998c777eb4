"""Write files and directories so that a reader never sees half of them, even after a crash.

Everything is written to a temporary sibling first, made durable (every file
and directory fsynced), and only then put in place:

- a file by ``os.replace`` (atomic), then an fsync of its directory;
- a directory by an atomic *exchange* with the old one (Linux
  ``renameat2(RENAME_EXCHANGE)``): at every instant the path names either the
  complete old version or the complete new one, never nothing. The old
  version, now under the temporary name, is removed afterwards. Where the
  kernel or file system cannot exchange, the old directory is first renamed to
  a ``.NAME.old-*`` sibling and the new one renamed in; a process killed
  between the two renames leaves that sibling, which the next write (or
  :func:`recover`) renames back before anything else happens.

On an error (or Ctrl-C) the temporary is removed. Temporaries left behind by a
killed process (``.NAME.tmp-<pid>-*``) are removed by the next write of the
same path once their process is gone.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _tmp_sibling(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _siblings(path: Path, kind: str) -> list[tuple[Path, int]]:
    """``.NAME.<kind>-<pid>-<id>`` siblings of ``path`` with the pid that made them."""
    prefix = f".{path.name}.{kind}-"
    out = []
    if not path.parent.is_dir():
        return out
    for entry in path.parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        pid = entry.name[len(prefix):].split("-", 1)[0]
        out.append((entry, int(pid) if pid.isdigit() else 0))
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def recover(path: str | os.PathLike) -> None:
    """Finish or roll back what a killed writer of ``path`` left, and drop its temporaries.

    If ``path`` is missing but an old version was parked beside it (the
    fallback's two renames were interrupted), the old version goes back. Old
    versions and temporaries of dead processes are removed.
    """
    path = Path(path)
    parked = [e for e in _siblings(path, "old") if not _alive(e[1])]  # a live writer finishes its own swap
    if not os.path.lexists(path) and parked:
        parked.sort(key=lambda e: e[0].stat().st_mtime)
        entry, _ = parked.pop()
        os.rename(entry, path)
        fsync_dir(path.parent)
    for entry, pid in parked + _siblings(path, "tmp"):
        if not _alive(pid):
            _remove(entry)


def fsync_dir(directory: str | os.PathLike) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a directory
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file, then every directory bottom-up, under ``root`` (and ``root``)."""
    for current, dirs, files in os.walk(root, topdown=False):
        for name in files:
            full = os.path.join(current, name)
            if not os.path.islink(full):
                fsync_file(full)
        fsync_dir(current)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(_LIBC, "renameat2", None) if _LIBC is not None else None
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success it is fsynced and replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = _tmp_sibling(path)
    try:
        yield tmp
        if tmp.exists():
            fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def replace_dir(tmp: Path, path: Path) -> None:
    """Put the complete directory ``tmp`` at ``path``; the old version is removed. Safe at every instant."""
    fsync_tree(tmp)
    if not os.path.lexists(path):
        os.rename(tmp, path)
    elif path.is_dir() and not path.is_symlink() and exchange(tmp, path):
        pass  # tmp now holds the old version
    else:
        parked = _tmp_sibling(path, "old")
        os.rename(path, parked)  # killed right after this: recover() renames it back
        os.rename(tmp, path)
        tmp = parked
    fsync_dir(path.parent)
    _remove(tmp)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``path`` (see :func:`replace_dir`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = _tmp_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def scratch(path: str | os.PathLike) -> Iterator[Path]:
    """A scratch directory beside ``path`` for work that precedes writing it; removed on exit.

    Named like ``path``'s temporaries, so what a killed process leaves is
    removed by the next write of ``path`` (see :func:`recover`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = _tmp_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
