"""`recsys tui --web` opened in headless Chromium: the shoppers screen arrives over the websocket.

The browser is Debian's ``chromium`` (``.ci/run`` installs it with apt),
driven by playwright with ``executable_path`` set to it: playwright never
downloads a browser of its own. The terminal is an xterm.js canvas, so the
checks read the websocket frames (the app's terminal output) and take
screenshots. With ``RECSYS_TUI_SCREENSHOTS=DIR`` the screenshots of every
screen are also written to DIR (how the README's were made):

    RECSYS_TUI_SCREENSHOTS=docs/tui python -m pytest tests/tui/test_browser.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import child_env, chromium, overrides

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium is not installed (.ci/run installs it)")

ANSI = re.compile(r"\x1b(\[[0-9;?$]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-B]|[=>])")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Frames:
    """Everything the server sent over the page's websockets, as plain text (escape codes removed)."""

    def __init__(self) -> None:
        self.raw: list[str] = []

    def add(self, payload: str | bytes) -> None:
        self.raw.append(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))

    def text(self, since: int = 0) -> str:
        return ANSI.sub("", "".join(self.raw[since:]))

    def wait_for(self, page, needle: str, since: int = 0, timeout: float = 60.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text(since):
                return
            page.wait_for_timeout(200)
        raise AssertionError(f"{needle!r} never arrived over the websocket; last text: {self.text(since)[-600:]!r}")


@pytest.fixture()
def web_server(tui_shop: Path):  # noqa: ANN201
    port = free_port()
    log = tui_shop / f"web-{port}.log"
    proc = subprocess.Popen([sys.executable, "-m", "recsys_cli.cli", "tui", "--web", "--port", str(port),
                             *overrides(tui_shop)], stdout=open(log, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            env=child_env())
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"recsys tui --web exited with {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_shoppers_screen_arrives_in_chromium(web_server: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("RECSYS_TUI_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    frames = Frames()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.on("websocket", lambda ws: ws.on("framereceived", frames.add))
            page.goto(web_server)
            frames.wait_for(page, "600 of 600 shoppers")
            frames.wait_for(page, "als · data to")  # the service loaded in the app behind the page
            text = frames.text()
            assert "u000000" in text and "5 Experiments" in text
            page.wait_for_timeout(300)
            page.screenshot(path=str(shots / "shoppers.png"))
            png = (shots / "shoppers.png").read_bytes()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a drawn terminal, not a blank page
            page.locator("#terminal").click(position={"x": 1200, "y": 5})  # the title bar's empty right end: focus only

            def visit(keys: list[str], needle: str, name: str) -> None:
                for key in keys:
                    since = len(frames.raw)
                    page.keyboard.press(key)
                    page.wait_for_timeout(250)  # Escape then a key at once reads as Alt+key
                frames.wait_for(page, needle, since)
                page.wait_for_timeout(400)
                page.screenshot(path=str(shots / f"{name}.png"))

            visit(["Enter"], "why #1", "shopper")
            visit(["m", "ArrowDown", "ArrowDown", "Enter"], "popularity", "shopper_two_models")
            visit(["Escape", "2"], "products", "catalog")
            visit(["Enter"], "content (text similarity)", "product")
            visit(["Escape", "3", "ArrowDown", "Enter", "Tab", "ArrowDown", "Enter"], "cold_start", "playground")
            visit(["4"], "ndcg", "metrics")
            visit(["k"], "metrics at K", "metrics_at_k")
            visit(["g"], "by activity", "metrics_segments")
            visit(["5"], "No online experiment yet", "experiments")
        finally:
            browser.close()
