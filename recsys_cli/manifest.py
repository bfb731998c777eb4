"""JSON manifests with a sha256 of every file in a directory, and their check.

A manifest covers every file under its directory, nested manifests included
(a model's own ``manifest.json`` inside a bundle is listed and hashed like any
other file). Verifying refuses, with one line naming the file, a file that is
missing, altered, or present but not listed, and any listed name that could
escape the directory (absolute, ``..``, backslashes).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from recsys_cli.atomic import write_text
from recsys_cli.errors import RecsysError

MANIFEST = "manifest.json"


class ManifestError(RecsysError):
    """An artifact that does not match its manifest (exit code 1)."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def listed_files(directory: Path) -> list[str]:
    """Every file under ``directory`` but its own manifest, as sorted POSIX relative paths."""
    directory = Path(directory)
    out = []
    for p in directory.rglob("*"):
        if p.is_symlink():
            raise ManifestError(f"{p}: a symbolic link; artifacts hold plain files only")
        if p.is_file() and p != directory / MANIFEST:
            out.append(p.relative_to(directory).as_posix())
    return sorted(out)


def safe_relative(name: str, where: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside its root; refused otherwise."""
    path = PurePosixPath(name)
    if not name or "\\" in name or "\x00" in name or path.is_absolute() or ".." in path.parts or name.startswith("~"):
        raise ManifestError(f"{where}: {name!r} is not a plain relative path inside the artifact (refused)")
    return path


def within(root: Path, name: str, where: str) -> Path:
    """A path a client named (an admin's bundle): absolute as given, relative under ``root`` and never out of it.

    Whatever it names is still only used once its manifest verifies.
    """
    if "\x00" in name:
        raise ManifestError(f"{where}: {name!r} holds a NUL character (refused)")
    path = Path(name)
    if path.is_absolute():
        return path
    base = Path(root).resolve()
    if not (base / path).resolve().is_relative_to(base):
        raise ManifestError(f"{where}: {name!r} leads out of paths.root ({base}); give an absolute path or one "
                            "inside it (refused)")
    return Path(root) / path


def write_manifest(directory: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` listing ``info`` and the sha256 of every other file (nested manifests too)."""
    directory = Path(directory)
    files = {name: sha256_file(directory / name) for name in listed_files(directory)}
    manifest = {**info, "files": files}
    write_text(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest


def load_manifest_json(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc.__class__.__name__}); the artifact is damaged") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise ManifestError(f"{path}: not a recsys manifest (expected an object with a 'files' object)")
    return manifest


def read_manifest(directory: Path, verify: bool = True) -> dict[str, Any]:
    """Read a directory's manifest; with ``verify``, the files on disk must be exactly the ones listed."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{directory}: no {MANIFEST}; not a recsys artifact (or not finished writing)")
    manifest = load_manifest_json(path)
    files: dict[str, Any] = manifest.get("files", {})
    for name in files:
        safe_relative(name, f"{path} files")
    if not verify:
        return manifest
    for name, expected in files.items():
        file = directory / name
        if not file.is_file():
            raise ManifestError(f"{file}: listed in {path} but missing")
        actual = sha256_file(file)
        if actual != expected:
            raise ManifestError(f"{file}: checksum mismatch (manifest {str(expected)[:12]}…, file {actual[:12]}…); "
                                "the file was altered after it was written")
    extra = sorted(set(listed_files(directory)) - set(files))
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise ManifestError(f"{directory / extra[0]}: not listed in {path}{more}; refusing an artifact with unknown files")
    return manifest
