"""Download + unzip against a real local HTTP server (127.0.0.1, a free port)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys_cli.config import DataConfig
from recsys_cli.data.sources import movielens
from recsys_cli.data.sources.download import extract_zip, fetch
from recsys_cli.errors import DataError

ML100K = {
    "ml-100k/u.data": "1\t10\t4\t881250949\n2\t10\t3\t891717742\n",
    "ml-100k/u.item": "10|Heat (1995)|01-Jan-1995||u|" + "|".join(["0"] * 19) + "\n",
    "ml-100k/u.user": "1|24|M|writer|11111\n2|40|F|other|22222\n",
}


def make_zip(path: Path, members: dict[str, str]) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    srv = Server(root)
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


def test_fetch_verifies_extracts_and_skips_second_time(server: Server, tmp_path: Path) -> None:
    digest = make_zip(server.root / "ml-100k.zip", ML100K)
    dest = tmp_path / "raw"
    path = fetch(server.url("ml-100k.zip"), digest.upper(), dest)
    assert path == dest / "ml-100k.zip" and path.is_file()
    assert sorted(p.name for p in dest.iterdir()) == ["ml-100k.zip"]  # no temporary left
    folder = extract_zip(path, dest)
    assert folder == dest / "ml-100k"
    assert sorted(p.name for p in folder.iterdir()) == ["u.data", "u.item", "u.user"]
    assert fetch(server.url("ml-100k.zip"), digest, dest) == path
    assert len(server.requests) == 1


def test_checksum_mismatch_leaves_nothing(server: Server, tmp_path: Path) -> None:
    make_zip(server.root / "data.zip", ML100K)
    actual = hashlib.sha256((server.root / "data.zip").read_bytes()).hexdigest()
    dest = tmp_path / "raw"
    url = server.url("data.zip")
    with pytest.raises(DataError) as info:
        fetch(url, "0" * 64, dest)
    message = str(info.value)
    assert url in message and "0" * 64 in message and actual in message and "\n" not in message
    assert not dest.exists() or list(dest.iterdir()) == []


def test_checksum_is_required(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="checksum is required"):
        fetch(server.url("x.zip"), None, tmp_path)
    with pytest.raises(DataError, match="not a SHA-256"):
        fetch(server.url("x.zip"), "abc", tmp_path)
    assert server.requests == []


def test_unreachable_and_missing_urls(server: Server, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ml-100k.zip"
    with pytest.raises(DataError) as info:
        fetch(url, "0" * 64, tmp_path / "raw")
    assert str(info.value).startswith(f"{url}: download failed") and "\n" not in str(info.value)
    with pytest.raises(DataError, match="HTTP 404"):
        fetch(server.url("absent.zip"), "0" * 64, tmp_path / "raw")
    assert not (tmp_path / "raw").exists() or list((tmp_path / "raw").iterdir()) == []


@pytest.mark.parametrize("bad", ["../evil.txt", "/abs/evil.txt", "top/../../evil.txt"])
def test_extract_rejects_unsafe_members(tmp_path: Path, bad: str) -> None:
    archive = tmp_path / "bad.zip"
    make_zip(archive, {"top/ok.txt": "ok", bad: "evil"})
    dest = tmp_path / "out"
    with pytest.raises(DataError, match="unsafe member path"):
        extract_zip(archive, dest)
    assert not (tmp_path / "evil.txt").exists()
    assert not dest.exists() or list(dest.iterdir()) == []


def test_extract_flat_archive_goes_into_folder_named_after_it(tmp_path: Path) -> None:
    archive = tmp_path / "flat.zip"
    make_zip(archive, {"a.txt": "a", "sub/b.txt": "b"})
    folder = extract_zip(archive, tmp_path / "out")
    assert folder == tmp_path / "out" / "flat"
    assert (folder / "a.txt").read_text() == "a" and (folder / "sub" / "b.txt").read_text() == "b"


def test_extract_bad_zip(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="broken.zip: not a readable zip archive"):
        extract_zip(archive, tmp_path / "out")


def test_movielens_downloads_when_no_path(server: Server, tmp_path: Path) -> None:
    digest = make_zip(server.root / "ml-100k.zip", ML100K)
    cfg = DataConfig(source="movielens", url=server.url("ml-100k.zip"), sha256=digest)
    raw = movielens.load(cfg, tmp_path / "raw")
    assert raw.description == "ml-100k: 2 users, 1 items, 2 ratings"
    assert (tmp_path / "raw" / "ml-100k" / "u.data").is_file()
    with pytest.raises(DataError, match="checksum is required"):
        movielens.load(DataConfig(source="movielens", url=server.url("ml-100k.zip")), tmp_path / "raw2")
