"""JSON manifests with a sha256 of every file in a directory, and their check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from recsys_cli.atomic import write_text
from recsys_cli.errors import RecsysError

MANIFEST = "manifest.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` listing ``info`` and the sha256 of every other file."""
    files = {
        str(p.relative_to(directory)): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {**info, "files": files}
    write_text(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest


def read_manifest(directory: Path, verify: bool = True) -> dict[str, Any]:
    """Read a directory's manifest; with ``verify``, every checksum must match."""
    path = directory / MANIFEST
    if not path.is_file():
        raise RecsysError(f"{directory}: no {MANIFEST}; not a recsys artifact (or not finished writing)")
    manifest = json.loads(path.read_text())
    if verify:
        for name, expected in manifest.get("files", {}).items():
            file = directory / name
            if not file.is_file():
                raise RecsysError(f"{file}: listed in {path} but missing")
            actual = sha256_file(file)
            if actual != expected:
                raise RecsysError(f"{file}: checksum mismatch (manifest {expected[:12]}…, file {actual[:12]}…)")
    return manifest
