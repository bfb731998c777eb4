"""What ``recsys tui`` runs: the app in this terminal, or served to a browser through textual-serve."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from recsys_cli.config import Config
from recsys_cli.errors import ConfigError


def load_config(overrides: list[str], params: Path | None) -> Config:
    """The composed, validated config. Model params are not checked against the model registry here: the
    TUI trains nothing (its model comes from the bundle) and importing every model would delay the first
    screen by a second."""
    from recsys_cli import config

    return config.load(overrides, params)


def terminal(cfg: Config) -> None:
    """Open the explorer in this terminal (q quits)."""
    from recsys_cli.tui.app import ExplorerApp

    ExplorerApp(cfg).run()


def web_command(overrides: list[str], params: Path | None) -> str:
    """The command textual-serve starts for each browser tab: this same ``recsys tui``, in a terminal of its own."""
    args = [sys.executable, "-m", "recsys_cli.cli", "tui", *overrides]
    if params is not None:
        args += ["--params", str(Path(params).resolve())]
    return shlex.join(args)


def web(cfg: Config, overrides: list[str], params: Path | None, host: str, port: int) -> None:
    """Serve the explorer at http://host:port until interrupted (every tab gets its own app process)."""
    from textual_serve.server import Server

    from recsys_cli.progress import status

    if not 0 < port < 65536:
        raise ConfigError(f"--port: {port} is not a TCP port (1-65535)")
    url = f"http://{host}:{port}"
    status(f"tui: {cfg.bundle_path} in a browser at {url} (Ctrl+C stops)")
    try:
        Server(web_command(overrides, params), host=host, port=port, title="recsys explorer").serve()
    except OSError as exc:
        raise ConfigError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
