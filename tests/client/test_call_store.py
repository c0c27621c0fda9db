"""`demo-client call` when the world behind its store changed: the AS lost its database (same
issuer, the stored client_id unknown), or the server now names another authorization server.

Real demo_as and scoped_tools_server on loopback sockets; the AS is restarted on the same port
with a fresh database, as `docker compose down -v` or moving from `uv run demo-as` to compose do.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from serving import bind_loopback_socket, serve_on_socket, socket_base_url

from demo_as.app import create_app as create_as
from demo_as.settings import Settings as ASSettings
from scoped_tools_server.app import create_app as create_rs
from scoped_tools_server.settings import Settings as RSSettings


def call(store: Path, server_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo_client.cli", "call", *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "COLUMNS": "200",
            "DEMO_CLIENT_SERVER_URL": server_url,
            "DEMO_CLIENT_STORE": str(store),
        },
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def authorization_server(port: int, data_dir: Path, resource: str) -> Iterator[str]:
    sock = bind_loopback_socket(port)
    issuer = socket_base_url(sock)
    app = create_as(ASSettings(issuer=issuer, data_dir=data_dir, resources=[resource]))
    with serve_on_socket(app, sock):
        yield issuer


@contextlib.contextmanager
def resource_server(port: int, issuer: str, data_dir: Path) -> Iterator[str]:
    sock = bind_loopback_socket(port)
    resource = f"{socket_base_url(sock)}/mcp"
    settings = RSSettings(
        port=sock.getsockname()[1],
        resource_url=resource,
        auth_server=issuer,
        database_url=f"sqlite:///{data_dir / 'notes.db'}",
    )
    with serve_on_socket(create_rs(settings), sock):
        yield resource


def free_port() -> int:
    sock = bind_loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


def stored(store: Path) -> dict:
    return json.loads(store.read_text())


def call_with_a_fresh_as(
    store: Path, as_port: int, rs_port: int, data_dir: Path, resource: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """`call list_notes` against an AS on `as_port` with a database of its own in `data_dir`;
    returns the run and the client_id the store then holds for that AS."""
    with authorization_server(as_port, data_dir, resource) as issuer:
        with resource_server(rs_port, issuer, data_dir.parent) as server_url:
            result = call(store, server_url, "list_notes")
    assert result.returncode == 0, result.stdout + result.stderr
    return result, stored(store)["registrations"][issuer]["client_id"]


def test_call_registers_again_when_the_as_no_longer_knows_its_client(tmp_path: Path) -> None:
    store = tmp_path / "state.json"
    as_port, rs_port = free_port(), free_port()
    resource = f"http://127.0.0.1:{rs_port}/mcp"
    _, first_client = call_with_a_fresh_as(store, as_port, rs_port, tmp_path / "as-1", resource)

    # The AS comes back at the same issuer with an empty database: the stored refresh token is
    # refused with invalid_client, so the client registers again instead of failing.
    second, second_client = call_with_a_fresh_as(
        store, as_port, rs_port, tmp_path / "as-2", resource
    )
    assert f"no longer accepts the stored client_id {first_client}" in second.stdout
    assert "registering again" in second.stdout
    assert second_client != first_client

    # Again, now with no stored tokens: the authorization endpoint's "Unknown client" page is
    # the signal. Its text is quoted, never its HTML or CSS.
    data = stored(store)
    data["tokens"] = {}
    store.write_text(json.dumps(data))
    third, _ = call_with_a_fresh_as(store, as_port, rs_port, tmp_path / "as-3", resource)
    assert f"no longer accepts the stored client_id {second_client}" in third.stdout
    assert "Unknown client" in third.stdout
    assert ":root" not in third.stdout and "<" not in third.stdout


def test_call_never_sends_a_token_from_another_issuer(tmp_path: Path) -> None:
    """Tokens are keyed by (resource, issuer): when the server names another AS, the stored
    token is not sent (the first request goes without one) and a new one is obtained."""
    store = tmp_path / "state.json"
    rs_port = free_port()
    resource = f"http://127.0.0.1:{rs_port}/mcp"
    with authorization_server(free_port(), tmp_path / "as-a", resource) as issuer_a:
        with resource_server(rs_port, issuer_a, tmp_path) as server_url:
            first = call(store, server_url, "list_notes")
            assert first.returncode == 0, first.stdout + first.stderr
        with authorization_server(free_port(), tmp_path / "as-b", resource) as issuer_b:
            with resource_server(rs_port, issuer_b, tmp_path) as server_url:
                second = call(store, server_url, "list_notes")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"were issued by {issuer_a}, but the server now names {issuer_b}" in second.stdout
    assert "error=invalid_token" not in second.stdout  # the old token never reached the RS
    assert set(stored(store)["tokens"][resource]) == {issuer_a, issuer_b}
