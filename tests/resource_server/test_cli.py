"""The ``scoped-tools-server`` command: every setting is a flag with its env var, and it serves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import typer
from typer.testing import CliRunner

from scoped_tools_server.cli import app
from scoped_tools_server.settings import Settings
from scoped_tools_server.settings_cli import options_markdown, settings_command


def test_help_lists_every_setting_and_its_env_var() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400", "NO_COLOR": "1"})
    assert result.exit_code == 0
    for name in Settings.model_fields:
        flag = "--" + name.replace("_", "-")
        if name in ("allowed_hosts", "allowed_origins"):
            flag = flag.removesuffix("s")
        if name == "gate_enabled":
            flag = "--no-gate"
        assert flag in result.output, flag
        assert f"SCOPED_TOOLS_{name.upper()}" in result.output, name


def test_the_documented_options_table_is_the_generated_one() -> None:
    docs = Path(__file__).parents[2] / "docs" / "resource-server.md"
    table = options_markdown(Settings)
    assert table in docs.read_text(), f"regenerate the table in {docs.name}:\n{table}"


def test_help_fits_80_columns() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80", "TERM": "dumb"})
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "--gate-enabled / --no-gate" in result.output


def test_flags_reach_the_settings(monkeypatch) -> None:
    seen: list[Settings] = []
    command = typer.Typer()
    command.command()(settings_command(Settings, lambda given: seen.append(Settings(**given))))
    monkeypatch.setenv("SCOPED_TOOLS_CLOCK_LEEWAY_SECONDS", "7")
    result = CliRunner().invoke(
        command, ["--allowed-host", "a:1", "--allowed-host", "b:2", "--no-gate", "--port", "8100"]
    )
    assert result.exit_code == 0, result.output
    [settings] = seen
    assert settings.allowed_hosts == ["a:1", "b:2"] and not settings.gate_enabled
    assert settings.port == 8100 and settings.clock_leeway_seconds == 7


def test_invalid_settings_exit_2_with_a_message() -> None:
    result = CliRunner().invoke(app, ["--resource-url", "http://h/mcp?x=1"])
    assert result.exit_code == 2
    assert "must not have a query" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_command_serves_health_and_prm_before_the_as_exists(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SCOPED_TOOLS_PORT": str(port),
        "SCOPED_TOOLS_RESOURCE_URL": f"http://127.0.0.1:{port}/mcp",
        "SCOPED_TOOLS_AUTH_SERVER": "http://127.0.0.1:9",
        "SCOPED_TOOLS_DATABASE_URL": f"sqlite:///{tmp_path / 'notes.db'}",
        "SCOPED_TOOLS_GATE_ENABLED": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "scoped_tools_server.cli"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx2.get(f"{base}/health", timeout=2)
                break
            except httpx2.TransportError:
                assert process.poll() is None, (
                    process.stdout.read().decode() if process.stdout else ""
                )
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        prm = httpx2.get(f"{base}/.well-known/oauth-protected-resource/mcp", timeout=2)
        # A misbehaving client puts its token in the query string: it must not reach the log.
        httpx2.get(f"{base}/mcp?access_token=SECRET-TOKEN-123", timeout=2)
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert health.status_code == 200
    assert prm.json()["authorization_servers"] == ["http://127.0.0.1:9"]
    assert "WITHOUT ITS AUTH GATE" in output
    # The access log keeps the request line but never the query (no token in logs) nor /health.
    assert "SECRET-TOKEN-123" not in output
    assert "GET /mcp?[query omitted]" in output
    assert "/health" not in output
    assert (tmp_path / "notes.db").exists()
