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
