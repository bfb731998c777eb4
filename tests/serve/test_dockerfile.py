"""The Dockerfile's CMD is a command that exists: CI runs that exact command line (no Docker daemon here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.serve.conftest import wait_ready

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def test_the_dockerfile_command_serves_the_bundle(shop: Path, tmp_path: Path) -> None:
    cmd_line = next(line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD "))
    argv = json.loads(cmd_line[4:])
    assert argv[:2] == ["recsys", "serve"]
    port = next(int(a.split("=", 1)[1]) for a in argv if a.startswith("serve.port="))
    workdir = tmp_path / "app"  # the image's WORKDIR: the bundle lives in ./data/bundle
    shutil.copytree(shop / "data" / "bundle", workdir / "data" / "bundle")
    recsys = Path(sys.executable).with_name("recsys")
    proc = subprocess.Popen([str(recsys), *argv[1:]], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"}, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        r = httpx.post(f"http://127.0.0.1:{port}/recommend", json={"user_id": "docker-user", "k": 3})
        assert r.status_code == 200 and len(r.json()["items"]) == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
