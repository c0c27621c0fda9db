"""The peer: the official python-sdk ``simple-auth`` example, run from a directory you give.

``--peer-dir`` names ``examples/servers/simple-auth`` of a modelcontextprotocol/python-sdk
checkout (it holds the ``mcp_simple_auth`` package). Nothing of it is copied into this
repository: its AS and RS run as their own processes, from that directory, on this venv's
interpreter and this venv's ``mcp`` (the example's dependencies are all ours too), so both
stacks use the same SDK. Without ``--peer-dir`` every peer figure says "not measured".

The peer's RS as shipped opens a new HTTP client (a new TCP connection) for every
introspection; ``peer_launcher.py`` runs it with one shared, pooled client instead
("pooled introspection"), the fair comparison with our ``--token-check introspect``, which
pools its connections.

One *peer first token* is what a client does there: registration, ``GET /authorize`` (302 to
its login page), ``GET /login``, ``POST /login/callback`` with the demo credentials (302 with
the code) and the code exchange: five requests.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
from loadgen import RequestFailed
from mcp_raw import modern_headers, tool_call_body, tool_result
from oauth_flow import REDIRECT_URI, authorization_query, expect, pkce_pair, register
from stack import Server, free_loopback_port, start_server, wait_healthy

BENCH_DIR = Path(__file__).resolve().parent
PEER_SCOPE = "user"
PEER_TOOL = "get_time"


@dataclass
class PeerStack:
    auth: Server
    rs: Server

    @property
    def all(self) -> list[Server]:
        return [self.auth, self.rs]


def check_peer_dir(peer_dir: Path) -> Path:
    if not (peer_dir / "mcp_simple_auth" / "auth_server.py").is_file():
        raise SystemExit(
            f"--peer-dir {peer_dir}: no mcp_simple_auth/auth_server.py there; point it at "
            "examples/servers/simple-auth of a modelcontextprotocol/python-sdk checkout"
        )
    return peer_dir.resolve()


def start_peer(peer_dir: Path, workdir: Path) -> PeerStack:
    """The peer's AS and its RS (pooled introspection), each on a free port."""
    as_port, rs_port = free_loopback_port(), free_loopback_port()
    env = {**os.environ, "PYTHONPATH": str(peer_dir)}
    launcher = [sys.executable, str(BENCH_DIR / "peer_launcher.py")]
    auth = start_server(
        "peer_as",
        [*launcher, "as", "--port", str(as_port)],
        f"http://localhost:{as_port}",
        workdir,
        env=env,
    )
    rs = start_server(
        "peer_rs",
        [*launcher, "rs-pooled", "--port", str(rs_port), "--auth-server", auth.base_url],
        f"http://localhost:{rs_port}",
        workdir,
        env=env,
    )
    try:
        wait_healthy([auth], path="/.well-known/oauth-authorization-server")
        wait_healthy([rs], path="/.well-known/oauth-protected-resource/mcp")
    except BaseException:
        auth.stop()
        rs.stop()
        raise
    return PeerStack(auth, rs)


def _query(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def peer_token_round_trip(client: httpx2.AsyncClient, issuer: str, resource: str) -> str:
    """The peer's first token for a new client (five requests); returns the access token."""
    client_id = await register(client, issuer, {"scope": PEER_SCOPE})
    verifier, challenge = pkce_pair()
    state = os.urandom(8).hex()
    authorized = await client.get(
        f"{issuer}/authorize",
        params=authorization_query(client_id, PEER_SCOPE, state, challenge, resource),
        follow_redirects=False,
    )
    expect(authorized, 302, "peer authorize")
    login_url = authorized.headers["location"]
    expect(await client.get(login_url), 200, "peer login page")
    logged_in = await client.post(
        f"{issuer}/login/callback",
        data={"username": "demo_user", "password": "demo_password", "state": state},
        follow_redirects=False,
    )
    expect(logged_in, 302, "peer login callback")
    query = _query(logged_in.headers["location"])
    if query.get("state") != state or "code" not in query:
        raise RequestFailed(f"peer authorization response: {query}")
    token = await client.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": client_id,
            "resource": resource,
        },
    )
    expect(token, 200, "peer token")
    return str(token.json()["access_token"])


class PeerIntrospect:
    """Request function: one ``POST /introspect`` at the peer's AS (it asks for no caller auth)."""

    def __init__(self, issuer: str, token: str) -> None:
        self.url = f"{issuer}/introspect"
        self.data = {"token": token}

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        response = await client.post(self.url, data=self.data)
        if response.status_code != 200 or response.json().get("active") is not True:
            raise RequestFailed(f"peer introspect: HTTP {response.status_code}: {response.text}")


class PeerToolCall:
    """Request function: stateless 2026-07-28 ``tools/call get_time`` on the peer's RS."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.body = tool_call_body(PEER_TOOL, {}, modern=True, request_id=1)
        self.headers = modern_headers(token, PEER_TOOL)

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        tool_result(await client.post(self.url, content=self.body, headers=self.headers))
