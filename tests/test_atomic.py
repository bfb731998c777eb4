"""Atomic writes: a reader sees the old target or the new one, never half, never leftovers."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_cli.atomic import atomic_dir, atomic_file, write_text


class Boom(Exception):
    pass


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _tree(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------- atomic_file


def test_atomic_file_writes_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"  # parent created on demand
    with atomic_file(target) as tmp:
        assert tmp != target and tmp.parent == target.parent
        tmp.write_text("new")
        assert not target.exists()  # nothing visible until the body is done
    assert target.read_text() == "new"
    assert _siblings(target) == ["out.txt"]


def test_atomic_file_replaces_an_old_target(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_file(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert _siblings(target) == ["out.txt"]


@pytest.mark.parametrize("existing", [False, True])
def test_atomic_file_leaves_nothing_when_the_body_fails(tmp_path: Path, existing: bool) -> None:
    target = tmp_path / "out.txt"
    if existing:
        target.write_text("old")
    with pytest.raises(Boom), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise Boom
    assert _siblings(target) == (["out.txt"] if existing else [])
    if existing:
        assert target.read_text() == "old"


def test_atomic_file_cleans_up_on_keyboard_interrupt(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert _siblings(target) == ["out.txt"]


def test_write_text(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    write_text(target, "héllo\n")
    write_text(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"
    assert _siblings(target) == ["t.txt"]


# ------------------------------------------------------------------ atomic_dir


def test_atomic_dir_creates_on_success(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out"
    with atomic_dir(target) as tmp:
        assert tmp.is_dir() and not any(tmp.iterdir())
        (tmp / "a.txt").write_text("a")
        (tmp / "nested").mkdir()
        (tmp / "nested" / "b.txt").write_text("b")
        assert not target.exists()
    assert _tree(target) == {"a.txt": "a", "nested/b.txt": "b"}
    assert _siblings(target) == ["out"]


def test_atomic_dir_replaces_an_old_directory_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.txt").write_text("stale")
    (target / "keep.txt").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "keep.txt").write_text("new")
        assert _tree(target) == {"stale.txt": "stale", "keep.txt": "old"}
    assert _tree(target) == {"keep.txt": "new"}  # the old files are gone, not merged
    assert _siblings(target) == ["out"]


@pytest.mark.parametrize("existing", [False, True])
def test_atomic_dir_leaves_nothing_when_the_body_fails(tmp_path: Path, existing: bool) -> None:
    target = tmp_path / "out"
    if existing:
        target.mkdir()
        (target / "f.txt").write_text("old")
    with pytest.raises(Boom), atomic_dir(target) as tmp:
        (tmp / "f.txt").write_text("half")
        raise Boom
    assert _siblings(target) == (["out"] if existing else [])
    if existing:
        assert _tree(target) == {"f.txt": "old"}


def test_atomic_dir_cleans_up_on_keyboard_interrupt(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / "f.txt").write_text("half")
        raise KeyboardInterrupt
    assert _siblings(target) == []


def test_atomic_dir_replaces_a_plain_file_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("x")
    with atomic_dir(target) as tmp:
        (tmp / "f").write_text("y")
    assert (target / "f").read_text() == "y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ------------------------------------------------------------- crash safety


def test_writes_are_fsynced_before_they_are_put_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from recsys_cli import atomic

    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "nested").mkdir()
        (tmp / "nested" / "b.bin").write_bytes(b"b")
        staged = str(tmp)
    assert f"{staged}/nested/b.bin" in synced and f"{staged}/nested" in synced and staged in synced
    assert str(tmp_path) in synced  # the parent, after the swap
    synced.clear()
    write_text(tmp_path / "f.txt", "x")
    assert any(".f.txt.tmp-" in p for p in synced) and synced[-1] == str(tmp_path)


def test_replacing_a_directory_never_leaves_the_path_missing(tmp_path: Path) -> None:
    """A reader polling the path while it is replaced 30 times always finds a complete version."""
    import threading

    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "v").write_text("0")
        (tmp / "done").write_text("ok")
    stop = threading.Event()
    seen: list[str] = []

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.append((target / "v").read_text() + (target / "done").read_text())
            except FileNotFoundError:
                seen.append("MISSING")

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        for i in range(1, 31):
            with atomic_dir(target) as tmp:
                for j in range(20):
                    (tmp / f"pad{j}").write_text("x" * 100)
                (tmp / "v").write_text(str(i))
                (tmp / "done").write_text("ok")
    finally:
        stop.set()
        reader.join()
    assert "MISSING" not in seen and all(s.endswith("ok") for s in seen)
    assert (target / "v").read_text() == "30" and _siblings(target) == ["out"]


def test_a_parked_old_version_is_rolled_back_and_dead_temporaries_removed(tmp_path: Path) -> None:
    """What a writer killed between the fallback's two renames leaves: the next write restores, then proceeds."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    parked = tmp_path / f".out.old-{pid}-abcd1234"
    parked.mkdir()
    (parked / "f.txt").write_text("old")
    stale = tmp_path / f".out.tmp-{pid}-deadbeef"
    stale.mkdir()
    (stale / "f.txt").write_text("half")
    from recsys_cli.atomic import recover

    recover(tmp_path / "out")
    assert _tree(tmp_path / "out") == {"f.txt": "old"} and _siblings(tmp_path / "out") == ["out"]
    stale.mkdir()
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "f.txt").write_text("new")
    assert _tree(tmp_path / "out") == {"f.txt": "new"} and _siblings(tmp_path / "out") == ["out"]


def test_a_live_writers_temporary_is_left_alone(tmp_path: Path) -> None:
    import os

    mine = tmp_path / f".out.tmp-{os.getppid()}-cafebabe"  # the parent (pytest's launcher) is alive
    mine.mkdir()
    write_text(tmp_path / "out", "x")
    assert mine.is_dir()


def test_exchange_swaps_two_directories_atomically_on_linux(tmp_path: Path) -> None:
    import sys

    from recsys_cli.atomic import exchange

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a"), (b / "x").write_text("b")
    swapped = exchange(a, b)
    if sys.platform == "linux":
        assert swapped
    if swapped:
        assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"
