"""Download a dataset archive, verified by its SHA-256, and unpack it safely.

A download is refused without a checksum; a file that does not match it is
deleted, never left behind. Archives are unpacked into a temporary folder and
renamed into place, and members with absolute paths or ``..`` are rejected.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from recsys_cli.atomic import atomic_dir, atomic_file
from recsys_cli.data.sources.readers import fail, first_line
from recsys_cli.errors import DataError
from recsys_cli.progress import progress_bar

CHUNK = 1 << 20
TIMEOUT_S = 60


def fetch(url: str, sha256: str | None, dest_dir: Path) -> Path:
    """Download ``url`` into ``dest_dir`` (kept if already there with the right hash)."""
    if not sha256:
        raise DataError(
            f"{url}: a sha256 checksum is required to download (set data.sha256); "
            "downloads without verification are refused"
        )
    expected = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise DataError(f"data.sha256: {sha256!r} is not a SHA-256 digest (64 hex characters)")
    name = PurePosixPath(urlparse(url).path).name or "download"
    dest = Path(dest_dir) / name
    if dest.is_file() and file_sha256(dest) == expected:
        return dest
    with atomic_file(dest) as tmp:
        actual = _stream(url, tmp, name)
        if actual != expected:
            raise DataError(
                f"{url}: checksum mismatch: expected sha256 {expected}, got {actual}; "
                "the download was discarded"
            )
    return dest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stream(url: str, target: Path, name: str) -> str:
    """Write ``url`` to ``target`` with a progress bar; return the SHA-256 of what came."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with progress_bar(transient=True) as bar, open(target, "wb") as out:
                task = bar.add_task(f"download {name}", total=total)
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.advance(task, len(chunk))
    except urllib.error.HTTPError as exc:
        raise DataError(f"{url}: download failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataError(f"{url}: download failed: {exc.reason}") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise DataError(f"{url}: download failed: {first_line(exc)}") from None
    return digest.hexdigest()


def extract_zip(zip_path: Path, dest_dir: Path) -> Path:
    """Unpack ``zip_path`` into ``dest_dir``; return the archive's top folder there.

    An archive whose members all sit under one folder becomes that folder;
    otherwise they go into a folder named after the archive.
    """
    zip_path = Path(zip_path)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise fail(zip_path, f"not a readable zip archive ({first_line(exc)})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.filename.startswith("__MACOSX/")]
        parts = [_safe_parts(zip_path, m.filename) for m in members]
        tops = {p[0] for p in parts if p}
        nested = len(tops) == 1 and all(len(p) > 1 or members[i].is_dir() for i, p in enumerate(parts))
        top = tops.pop() if nested else zip_path.stem
        target = Path(dest_dir) / top
        with atomic_dir(target) as tmp:
            root = tmp.resolve()
            for member, member_parts in zip(members, parts, strict=True):
                relative = member_parts[1:] if nested else member_parts
                if not relative:
                    continue
                out = tmp.joinpath(*relative)
                if not out.resolve().is_relative_to(root):
                    raise fail(zip_path, f"unsafe member path {member.filename!r}; refusing to extract")
                if member.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
    return target


def _safe_parts(zip_path: Path, name: str) -> tuple[str, ...]:
    """A member's path parts; absolute paths, drive letters and '..' are refused."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
        raise fail(zip_path, f"unsafe member path {name!r} (absolute or '..'); refusing to extract")
    return tuple(p for p in parts if p not in ("", "."))
