"""The official MCP Python SDK client, on the host, against the compose stack's published ports.

This is what a client developer does after ``docker compose up``: point their own client at
http://127.0.0.1:8000/mcp. The SDK's ``OAuthClientProvider`` discovers the AS from the 401
(RFC 9728), registers (RFC 7591), and steps up on each 403 ``insufficient_scope`` with the union
of what it asked for before and what the challenge names (SEP-2350). The user is played at the
AS's real login and consent forms (``harness.oauth_flow``), from the host, as a browser would.

Then ``demo-as`` is restarted: its signing key lives in the database on the named volume, so a
token issued before the restart must still be accepted by the resource server, even after the
resource server itself restarts and fetches the JWKS afresh.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
import sdk_client
from harness.oauth_flow import REDIRECT_URI, refresh
from harness.sdk_agent import ConsentFormAgent
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult
from sdk_token_storage import MemoryStorage

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
ISSUER = "http://127.0.0.1:9000"
SERVER_URL = "http://127.0.0.1:8000/mcp"
LADDER = ["notes:read", "notes:write", "notes:delete"]


async def refuse_to_authorize(authorization_url: str) -> None:
    raise AssertionError(f"the stored token should have been enough, not {authorization_url}")


async def refuse_callback() -> AuthorizationCodeResult:
    raise AssertionError("no authorization was expected")


def sdk_provider(storage: MemoryStorage, agent: ConsentFormAgent | None) -> OAuthClientProvider:
    return sdk_client.sdk_provider(
        SERVER_URL,
        redirect_uri=REDIRECT_URI,
        client_name="mcp Python SDK (compose walkthrough)",
        storage=storage,
        redirect_handler=agent.redirect_handler if agent else refuse_to_authorize,
        callback_handler=agent.callback_handler if agent else refuse_callback,
    )


async def call(provider: OAuthClientProvider, tool: str, arguments: dict) -> dict:
    """One MCP session: call ``tool`` and return its structured result (must not be an error)."""
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(SERVER_URL, http_client=http)) as client,
    ):
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result
    return result.structured_content or {}


@dataclass
class Ladder:
    storage: MemoryStorage
    agent: ConsentFormAgent
    results: dict[str, dict]


@pytest.fixture(scope="module")
def ladder() -> Ladder:
    """Climb the ladder once with one SDK client: list (401), create (403), delete (403)."""
    storage, agent = MemoryStorage(), ConsentFormAgent(REDIRECT_URI)
    provider = sdk_provider(storage, agent)
    results: dict[str, dict] = {}

    async def climb() -> None:
        async with (
            httpx2.AsyncClient(auth=provider, timeout=30) as http,
            Client(streamable_http_client(SERVER_URL, http_client=http)) as client,
        ):
            for tool, arguments in [
                ("list_notes", {}),
                ("create_note", {"title": "compose", "body": "written from the host"}),
            ]:
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, result
                results[tool] = result.structured_content or {}
            note_id = results["create_note"]["id"]
            result = await client.call_tool("delete_note", {"note_id": note_id})
            assert not result.is_error, result
            results["delete_note"] = result.structured_content or {}
            result = await client.call_tool("whoami", {})
            assert not result.is_error, result
            results["whoami"] = result.structured_content or {}

    anyio.run(climb)
    return Ladder(storage, agent, results)


def test_the_sdk_client_steps_up_one_scope_at_a_time_and_keeps_the_earlier_ones(
    ladder: Ladder,
) -> None:
    # One authorization per rung; each asks for everything before plus the challenged scope.
    asked = [scopes - {"offline_access"} for scopes in ladder.agent.requested_scopes]
    assert asked == [set(LADDER[:1]), set(LADDER[:2]), set(LADDER)]
    assert ladder.results["create_note"]["title"] == "compose"
    assert ladder.results["delete_note"]["deleted"] == ladder.results["create_note"]["id"]
    whoami = ladder.results["whoami"]
    assert whoami["subject"] == "alice"
    assert whoami["issuer"] == ISSUER
    assert set(LADDER) <= set(whoami["scopes"])


def jwks_keys() -> dict[str, dict]:
    keys = httpx2.get(f"{ISSUER}/jwks", timeout=5).json()["keys"]
    return {key["kid"]: key for key in keys}


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} not healthy after {timeout:.0f}s"
        time.sleep(0.5)


def compose_restart(service: str, health_url: str) -> None:
    subprocess.run(["docker", "compose", "restart", service], cwd=REPO, check=True, timeout=120)
    wait_healthy(health_url)


def test_a_token_issued_before_demo_as_restarts_still_works_at_the_resource_server(
    ladder: Ladder,
) -> None:
    tokens = ladder.storage.tokens
    assert tokens is not None and tokens.refresh_token
    keys_before = jwks_keys()

    compose_restart("demo-as", f"{ISSUER}/health")
    assert jwks_keys() == keys_before  # the signing key came back from the named volume
    # A restarted resource server has no cached JWKS: it must fetch it from the restarted AS.
    compose_restart("scoped-tools-server", "http://127.0.0.1:8000/health")

    # A fresh SDK client holding only the stored token; any authorization attempt fails the test.
    stored = MemoryStorage(tokens=tokens, client_info=ladder.storage.client_info)
    whoami = anyio.run(call, sdk_provider(stored, None), "whoami", {})
    assert whoami["subject"] == "alice"
    assert set(LADDER) <= set(whoami["scopes"])

    # The grant survived too: the refresh token issued before the restart still redeems (once).
    assert ladder.storage.client_info is not None
    with httpx2.Client(timeout=10) as http:
        refreshed = refresh(
            http, ISSUER, ladder.storage.client_info.client_id, tokens.refresh_token
        )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens.refresh_token  # rotated
