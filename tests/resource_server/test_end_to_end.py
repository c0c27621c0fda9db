"""End to end: the real ``demo_as`` (auto-approve) + this resource server + the official MCP SDK
client (``OAuthClientProvider`` on ``httpx2.AsyncClient``, ``streamable_http_client``,
``ClientSession``), in both protocol revisions. No test doubles.

The SDK client steps up by itself: each 403 ``insufficient_scope`` names the tool's scope, and the
SDK requests the union of what it asked before and the new scope (SEP-2350).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from mcp.shared.auth import (
    AuthorizationCodeResult,
)
from sdk_client import sdk_session
from sdk_token_storage import MemoryStorage
from serving import bind_loopback_socket, serve_app, serve_on_socket, socket_base_url

from demo_as.app import create_app as create_as_app
from demo_as.settings import Settings as ASSettings
from scoped_tools_server.app import create_app as create_rs_app
from scoped_tools_server.settings import Settings as RSSettings

REDIRECT_URI = "http://127.0.0.1:47913/callback"


@dataclass
class Stack:
    issuer: str
    resource_url: str


INTROSPECTION_SECRET = "e2e-introspection-secret"


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start the real demo_as (auto-approve) and this RS; keyword arguments go to the RS."""
    with contextlib.ExitStack() as exits:

        def start(**rs_overrides: Any) -> Stack:
            rs_sock = bind_loopback_socket()
            resource_url = f"{socket_base_url(rs_sock)}/mcp"
            issuer = exits.enter_context(
                serve_app(
                    lambda base: create_as_app(
                        ASSettings(
                            issuer=base,
                            auto_approve=True,
                            resources=[resource_url],
                            data_dir=tmp_path,
                            database_url=f"sqlite:///{tmp_path / 'demo_as.db'}",
                            introspection_secret=INTROSPECTION_SECRET,
                        )
                    )
                )
            )
            rs_settings = RSSettings(
                resource_url=resource_url,
                auth_server=issuer,
                database_url=f"sqlite:///{tmp_path / 'notes.db'}",
                **rs_overrides,
            )
            exits.enter_context(serve_on_socket(create_rs_app(rs_settings), rs_sock))
            return Stack(issuer=issuer, resource_url=resource_url)

        yield start


@pytest.fixture
def stack(start_stack: Callable[..., Stack]) -> Stack:
    return start_stack()


@dataclass
class HeadlessBrowser:
    """Plays the user agent: fetches the authorize URL without following redirects (the AS
    auto-approves) and hands code/state/iss from the ``Location`` to the SDK's callback."""

    requested_scopes: list[set[str]] = field(default_factory=list)
    pending: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        query = parse_qs(urlsplit(authorization_url).query)
        self.requested_scopes.append(set(query.get("scope", [""])[0].split()))
        async with httpx2.AsyncClient(follow_redirects=False) as client:
            response = await client.get(authorization_url)
        assert response.status_code in (302, 303), response.text
        location = response.headers["location"]
        assert location.startswith(REDIRECT_URI), location
        params = parse_qs(urlsplit(location).query)
        assert "error" not in params, params
        self.pending = AuthorizationCodeResult(
            code=params["code"][0], state=params["state"][0], iss=params.get("iss", [None])[0]
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.pending is not None
        result, self.pending = self.pending, None
        return result


async def step_up_story(
    stack: Stack, mode: str, storage: MemoryStorage | None = None
) -> tuple[HeadlessBrowser, dict[str, Any]]:
    browser = HeadlessBrowser()
    seen: dict[str, Any] = {}
    async with sdk_session(
        stack.resource_url,
        mode=mode,
        client_name=f"sdk e2e ({mode})",
        redirect_uri=REDIRECT_URI,
        storage=storage or MemoryStorage(),
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    ) as session:
        seen["protocol_version"] = session.protocol_version
        tools = await session.list_tools()
        seen["tools"] = {tool.name: tool for tool in tools.tools}
        seen["list_notes"] = await session.call_tool("list_notes", {})
        created = await session.call_tool("create_note", {"title": "groceries", "body": "milk"})
        seen["create_note"] = created
        note_id = created.structured_content["id"]
        seen["delete_note"] = await session.call_tool("delete_note", {"note_id": note_id})
        seen["after"] = await session.call_tool("list_notes", {})
        seen["whoami"] = await session.call_tool("whoami", {})
    return browser, seen


@pytest.mark.parametrize("mode", ["2025-11-25", "2026-07-28"])
def test_official_sdk_client_steps_up_through_all_three_scopes(stack: Stack, mode: str) -> None:
    browser, seen = anyio.run(step_up_story, stack, mode)

    assert seen["protocol_version"] == mode
    assert set(seen["tools"]) == {"whoami", "list_notes", "read_note", "create_note", "delete_note"}
    assert seen["tools"]["delete_note"].meta == {
        "scoped-tools-server/requiredScopes": ["notes:delete"]
    }
    for step in ("list_notes", "create_note", "delete_note", "after", "whoami"):
        assert not seen[step].is_error, (step, seen[step])
    assert seen["list_notes"].structured_content == {"result": []}
    created = seen["create_note"].structured_content
    assert created == {"id": created["id"], "title": "groceries", "body": "milk"}
    assert seen["delete_note"].structured_content == {"deleted": created["id"]}
    assert seen["after"].structured_content == {"result": []}

    ignoring_offline = [scopes - {"offline_access"} for scopes in browser.requested_scopes]
    assert ignoring_offline == [
        {"notes:read"},
        {"notes:read", "notes:write"},
        {"notes:read", "notes:write", "notes:delete"},
    ]
    whoami = seen["whoami"].structured_content
    assert whoami["issuer"] == stack.issuer
    assert {"notes:read", "notes:write", "notes:delete"} <= set(whoami["scopes"])


def revoke(stack: Stack, storage: MemoryStorage) -> str:
    """Revoke the client's current access token at the AS (RFC 7009); returns that token."""
    assert storage.tokens is not None and storage.client_info is not None
    token = storage.tokens.access_token
    response = httpx2.post(
        f"{stack.issuer}/revoke",
        data={"token": token, "client_id": storage.client_info.client_id},
    )
    assert response.status_code == 200, response.text
    return token


def whoami_with(stack: Stack, token: str) -> httpx2.Response:
    """A stateless 2026-07-28 whoami call with ``token``."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "whoami",
            "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "whoami",
    }
    return httpx2.post(stack.resource_url, json=body, headers=headers)


def test_introspection_mode_against_the_real_as_and_immediate_revocation(
    start_stack: Callable[..., Stack],
) -> None:
    stack = start_stack(token_check="introspect", introspection_secret=INTROSPECTION_SECRET)
    storage = MemoryStorage()
    browser, seen = anyio.run(step_up_story, stack, "2025-11-25", storage)
    assert not seen["delete_note"].is_error
    assert len(browser.requested_scopes) == 3

    token = revoke(stack, storage)
    refused = whoami_with(stack, token)
    assert refused.status_code == 401
    assert (
        'error_description="The authorization server says the access token is not active"'
        in (refused.headers["www-authenticate"])
    )


def test_jwt_mode_keeps_accepting_a_revoked_token_until_it_expires(stack: Stack) -> None:
    """The documented trade-off of local verification: revocation waits for ``exp``."""
    storage = MemoryStorage()
    anyio.run(step_up_story, stack, "2026-07-28", storage)
    token = revoke(stack, storage)
    response = whoami_with(stack, token)
    assert response.status_code == 200
    assert response.json()["result"]["structuredContent"]["subject"] == "alice"
