"""The real thing in a real terminal: `recsys tui` in tmux at 80x24, read back with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import child_env, overrides

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")


class Tmux:
    """A tmux server of our own (its own socket), one session running the command."""

    def __init__(self, command: list[str], width: int, height: int, cwd: Path) -> None:
        self.socket = f"recsys-tui-test-{os.getpid()}"
        env = child_env()
        env.pop("TMUX", None)
        self.env = {**env, "TERM": "xterm-256color"}
        self.run("new-session", "-d", "-s", "tui", "-x", str(width), "-y", str(height), "-c", str(cwd),
                 " ".join(command))

    def run(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True,
                              timeout=30)
        if done.returncode:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> list[str]:
        return self.run("capture-pane", "-p", "-t", "tui").splitlines()

    def wait_for(self, text: str, timeout: float = 60.0) -> list[str]:
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = self.screen()
            if any(text in line for line in lines):
                return lines
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on the screen after {timeout}s:\n" + "\n".join(lines))

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "tui", *keys)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "tui"], env=self.env,
                              capture_output=True).returncode == 0

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True)


def test_tui_in_tmux_at_80x24(tui_shop: Path) -> None:
    command = [sys.executable, "-m", "recsys_cli.cli", "tui", *overrides(tui_shop)]
    tmux = Tmux(command, 80, 24, Path.cwd())
    try:
        tmux.wait_for("600 of 600 shoppers")
        lines = tmux.wait_for("q Quit")
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
        assert "600 of 600 shoppers" in "\n".join(lines)
        footer = next(line for line in lines if "q Quit" in line)
        for key in ("1 Shoppers", "2 Catalog", "3 Cold start", "4 Metrics", "5 Experiments", "q Quit"):
            assert key in footer  # every screen reachable by a key the footer shows, at 80 columns
        tmux.wait_for("als · data to")  # the service loaded
        tmux.keys("Down", "Enter")
        lines = tmux.wait_for("personalised")
        assert lines[1].lstrip().startswith("u000001") and "why #1" in "\n".join(lines)
        tmux.keys("n")
        lines = tmux.wait_for("u000002")
        tmux.keys("Escape")  # alone: ESC followed at once by a key is read as Alt+key by a terminal
        tmux.wait_for("600 of 600 shoppers")
        tmux.keys("2")
        tmux.wait_for("300 of 300 products")
        tmux.keys("4")
        tmux.wait_for("ndcg")
        tmux.keys("q")
        deadline = time.monotonic() + 20
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not tmux.alive()  # q quit the app and its session
    finally:
        tmux.kill()
