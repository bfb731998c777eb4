"""A real uvicorn server (`recsys serve` as a subprocess) on a free port; the session's tiny shop and its server
are fixtures of tests/conftest.py (the bad-input corpus shares them)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

TOKEN = "test-admin-token-0123456789"
BASE = ["experiment=tiny", "tracking=none", "model.num_threads=1"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s")


class Server:
    def __init__(self, root: Path, *overrides: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"serve-{self.port}.log"
        args = [sys.executable, "-m", "recsys_cli.cli", "serve", *BASE, f"paths.root={root}",
                f"serve.port={self.port}", f"serve.admin_token={TOKEN}", *overrides]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(self.log, "w"),  # noqa: SIM115
                                     env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}, text=True)
        wait_ready(self.url, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def access_log(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.startswith("{")]


@pytest.fixture()
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as c:
        yield c
