"""`recsys tui` as a command: help, bad config, bad port — one line and an exit code, never a traceback."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from recsys_cli.cli import app
from recsys_cli.tui.run import web_command

runner = CliRunner()


def test_help_names_the_screens_and_web() -> None:
    result = runner.invoke(app, ["tui", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())  # help is wrapped and boxed
    for word in ("1 shoppers", "2 catalog", "3 cold-start", "4 metrics", "5 experiments", "--web", "--port"):
        assert word in text


def test_a_bad_key_is_exit_2_in_one_line(tmp_path) -> None:
    result = runner.invoke(app, ["tui", "tracking=none", f"paths.root={tmp_path}", "serve.portt=1"])
    assert result.exit_code == 2
    assert "serve.portt: unknown key" in result.output and "Traceback" not in result.output


def test_a_bad_or_busy_port_is_exit_2_in_one_line(tmp_path) -> None:
    result = runner.invoke(app, ["tui", "--web", "--port", "70000", "tracking=none", f"paths.root={tmp_path}"])
    assert result.exit_code == 2 and "--port: 70000 is not a TCP port" in result.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["tui", "--web", "--port", str(port), "tracking=none", f"paths.root={tmp_path}"])
    assert result.exit_code == 2 and f"--port {port}: cannot listen" in result.output
    assert "Traceback" not in result.output


def test_the_web_command_is_this_same_tui(tmp_path) -> None:
    command = web_command(["bundle=/some where/b", "tracking=none"], tmp_path / "params.yaml")
    assert command.endswith(f"-m recsys_cli.cli tui 'bundle=/some where/b' tracking=none --params {tmp_path / 'params.yaml'}")
