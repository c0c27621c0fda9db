"""`demo-client call` (file store, registration reuse) and the conformance entry's context."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from demo_client.conformance import CONFORMANCE_CLIENT_METADATA_URL, identity_from_context
from demo_client.embedded import EmbeddedStack
from demo_client.manual import parse_arguments


def demo_client(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "demo_client.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_call_keeps_registration_and_tokens_between_runs(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    store = tmp_path / "state.json"
    common = ("--server-url", stack.server_url, "--store", str(store))
    first = demo_client("call", "create_note", "title=hi", "body=there", *common, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "registered once" in first.stdout and "'title': 'hi'" in first.stdout
    assert stat.S_IMODE(store.stat().st_mode) == 0o600  # refresh tokens are secrets
    saved = json.loads(store.read_text())
    # Keyed by (resource, issuer): tokens[resource][issuer].
    assert list(saved["tokens"]) == [stack.server_url]
    assert list(saved["tokens"][stack.server_url]) == [stack.issuer]
    assert "notes:write" in saved["tokens"][stack.server_url][stack.issuer]["scope"]

    second = demo_client("call", "list_notes", *common, cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "registered once" not in second.stdout  # the stored registration was reused
    assert "authorization request" not in second.stdout  # and so was the token
    assert "'title': 'hi'" in second.stdout


def test_call_with_a_partial_consent_reports_insufficient_scope(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    result = demo_client(
        "call",
        "delete_note",
        "note_id=1",
        "--server-url",
        stack.server_url,
        "--store",
        str(tmp_path / "s.json"),
        "--consent",
        "notes:read",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "InsufficientScopeError" in result.stdout
    assert "notes:delete" in result.stdout


def test_help_lists_every_option_with_its_env_var(tmp_path: Path) -> None:
    for command in ("story", "call", "conformance"):
        text = demo_client(command, "--help", cwd=tmp_path).stdout
        options = re.findall(r"^\s+--([\w-]+)", text, re.M)
        assert len(options) >= 2, text
        flat = re.sub(r"\s+", "", text)
        for option in options:
            if option in ("help", "headless"):
                continue
            assert f"DEMO_CLIENT_{option.replace('-', '_').upper()}" in flat, (command, option)


def test_key_value_arguments_parse_json_values() -> None:
    assert parse_arguments(["note_id=3", "title=hello world", "flag=true"]) == {
        "note_id": 3,
        "title": "hello world",
        "flag": True,
    }


def test_conformance_context_gives_pre_registered_credentials() -> None:
    identity = identity_from_context('{"name": "x", "client_id": "id", "client_secret": "s"}', 8765)
    assert (identity.client_id, identity.client_secret) == ("id", "s")
    assert identity.client_metadata_url == CONFORMANCE_CLIENT_METADATA_URL
    assert identity_from_context(None, 8765).client_id is None
    assert identity_from_context(None, 8765).redirect_uri == "http://127.0.0.1:8765/callback"
