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

import sys
from dataclasses import dataclass
from pathlib import Path

import httpx2
from loadgen import RequestFailed
from stack import wait_ready

from tests.harness.http_steps import Call, Steps, drive_async, expect_status
from tests.harness.oauth_flow import REDIRECT_URI, AuthorizationRequest, code_from, register_steps
from tests.harness.subprocess_servers import ServerProcess, free_loopback_port

BENCH_DIR = Path(__file__).resolve().parent
PEER_SCOPE = "user"
PEER_TOOL = "get_time"


@dataclass
class PeerStack:
    auth: ServerProcess
    rs: ServerProcess

    @property
    def all(self) -> list[ServerProcess]:
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
    env = {"PYTHONPATH": str(peer_dir)}
    launcher = [sys.executable, str(BENCH_DIR / "peer_launcher.py")]
    auth = ServerProcess(
        [*launcher, "as", "--port", str(as_port)],
        f"http://localhost:{as_port}",
        workdir / "peer_as.log",
        workdir,
        env,
    ).spawn()
    rs = ServerProcess(
        [*launcher, "rs-pooled", "--port", str(rs_port), "--auth-server", auth.base_url],
        f"http://localhost:{rs_port}",
        workdir / "peer_rs.log",
        workdir,
        env,
    ).spawn()
    try:
        wait_ready([auth], path="/.well-known/oauth-authorization-server")
        wait_ready([rs], path="/.well-known/oauth-protected-resource/mcp")
    except BaseException:
        auth.stop()
        rs.stop()
        raise
    return PeerStack(auth, rs)


def peer_first_token_steps(issuer: str, resource: str) -> Steps:
    client = yield from register_steps(issuer, None, scope=PEER_SCOPE, client_name="bench")
    request = AuthorizationRequest(client["client_id"], REDIRECT_URI, resource, PEER_SCOPE)
    authorized = yield Call(
        "GET", f"{issuer}/authorize", {"params": request.params(), "follow_redirects": False}
    )
    expect_status(authorized, 302, "peer authorize")
    expect_status((yield Call("GET", authorized.headers["location"])), 200, "peer login page")
    credentials = {"username": "demo_user", "password": "demo_password", "state": request.state}
    logged_in = yield Call(
        "POST", f"{issuer}/login/callback", {"data": credentials, "follow_redirects": False}
    )
    expect_status(logged_in, 302, "peer login callback")
    code = code_from(logged_in, request)
    token = yield Call("POST", f"{issuer}/token", {"data": request.token_request(code)})
    expect_status(token, 200, "peer token")
    return str(token.json()["access_token"])


async def peer_token_round_trip(client: httpx2.AsyncClient, issuer: str, resource: str) -> str:
    """The peer's first token for a new client (five requests); returns the access token."""
    return await drive_async(client, peer_first_token_steps(issuer, resource))


class PeerIntrospect:
    """Request function: one ``POST /introspect`` at the peer's AS (it asks for no caller auth)."""

    def __init__(self, issuer: str, token: str) -> None:
        self.url = f"{issuer}/introspect"
        self.data = {"token": token}

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        response = await client.post(self.url, data=self.data)
        if response.status_code != 200 or response.json().get("active") is not True:
            raise RequestFailed(f"peer introspect: HTTP {response.status_code}: {response.text}")
