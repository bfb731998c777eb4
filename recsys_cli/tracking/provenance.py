"""Tags that say where a run's inputs came from: git commit, dataset hash, split hash."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from recsys_cli.layout import Layout

if TYPE_CHECKING:
    from recsys_cli.config import Config

def git_commit(cwd: Path | None = None) -> str:
    """``git rev-parse HEAD`` of the working directory, or "unknown"."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{7,64}", commit) else "unknown"


_hash_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hash_cache:
        from recsys_cli.manifest import sha256_file

        _hash_cache[key] = sha256_file(path)
    return _hash_cache[key]


def data_tags(cfg: Config) -> dict[str, str]:
    """``dataset.hash`` (sha256 of the ingested events) and ``split.hash`` (of the split's window fingerprints)."""
    tags: dict[str, str] = {}
    events = file_sha256(Layout.of(cfg).events)
    fingerprints = None
    report = Layout.of(cfg).split_report
    try:
        if report.is_file():
            fingerprints = json.loads(report.read_text()).get("fingerprints")
    except (OSError, ValueError, AttributeError):
        fingerprints = None
    split_hash = (
        hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest() if fingerprints else None
    )
    if events or split_hash:
        tags["dataset.hash"] = events or split_hash  # type: ignore[assignment]
    if split_hash:
        tags["split.hash"] = split_hash
    return tags


