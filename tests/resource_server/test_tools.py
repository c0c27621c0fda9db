"""The tools do real work on the notes store, each note owned by the token's subject; both
protocol revisions reach them through the gate."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
from harness.mcp_raw import (
    MCP_HEADERS,
    STATELESS_REVISION,
    headers,
    open_session,
    stateless_headers,
    tool_call,
)
from harness.rs_test_rig import FakeAuthorizationServer, RunningRS
from mcp.client import Client
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

ALL_SCOPES = "notes:read notes:write notes:delete"


def call(
    client: httpx2.Client, rs: RunningRS, token: str, session: str, name: str, **arguments: Any
):
    return client.post(
        rs.resource_url, json=tool_call(name, arguments), headers=headers(token, session)
    )


def test_notes_belong_to_the_tokens_subject(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    alice = fake_as.mint(sub="alice", scope=ALL_SCOPES)
    bob = fake_as.mint(sub="bob", scope=ALL_SCOPES)
    with rs.client() as client:
        alice_session = open_session(client, rs.resource_url, alice)
        bob_session = open_session(client, rs.resource_url, bob)
        created = call(client, rs, alice, alice_session, "create_note", title="a", body="alice's")
        note_id = created.json()["result"]["structuredContent"]["id"]
        bob_list = call(client, rs, bob, bob_session, "list_notes")
        bob_read = call(client, rs, bob, bob_session, "read_note", note_id=note_id)
        bob_delete = call(client, rs, bob, bob_session, "delete_note", note_id=note_id)
        alice_read = call(client, rs, alice, alice_session, "read_note", note_id=note_id)
    assert created.json()["result"]["structuredContent"] == {
        "id": note_id,
        "title": "a",
        "body": "alice's",
    }
    assert bob_list.json()["result"]["structuredContent"] == {"result": []}
    for refused in (bob_read, bob_delete):
        result = refused.json()["result"]
        assert result["isError"] is True
        assert result["content"][0]["text"].endswith(f": You have no note {note_id}")
    assert alice_read.json()["result"]["structuredContent"]["body"] == "alice's"


def test_notes_survive_a_restart_of_the_store(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    token = fake_as.mint(scope=ALL_SCOPES)
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        call(client, rs, token, session, "create_note", title="kept", body="on disk")
    store = rs.app.state.store
    store.close()
    store.open()
    assert [note.title for note in store.list_notes(f"{fake_as.issuer} alice")] == ["kept"]


def test_arguments_are_validated(rs: RunningRS, fake_as: FakeAuthorizationServer) -> None:
    token = fake_as.mint(scope=ALL_SCOPES)
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        too_long = call(client, rs, token, session, "create_note", title="t" * 201, body="")
        not_an_id = call(client, rs, token, session, "read_note", note_id="1; DROP TABLE notes")
        listed = call(client, rs, token, session, "list_notes")
    assert too_long.json()["result"]["isError"] is True
    assert not_an_id.json()["result"]["isError"] is True
    assert listed.json()["result"]["structuredContent"] == {"result": []}


def test_whoami_reports_the_presented_token(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    token = fake_as.mint(sub="bob", client_id="cli-7", scope="notes:read offline_access")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        response = call(client, rs, token, session, "whoami")
    assert response.json()["result"]["structuredContent"] == {
        "subject": "bob",
        "client_id": "cli-7",
        "scopes": ["notes:read", "offline_access"],
        "scope": "notes:read offline_access",
        "expires_at": fake_as.minted[token]["exp"],
        "issuer": fake_as.issuer,
    }


def test_2026_requests_are_stateless_and_gated(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    reader = fake_as.mint(scope="notes:read")
    writer = fake_as.mint(scope="notes:read notes:write")
    with rs.client() as client:
        refused = client.post(
            rs.resource_url,
            json=tool_call("create_note", {"title": "t", "body": "b"}, stateless=True),
            headers=stateless_headers(reader, "create_note"),
        )
        created = client.post(
            rs.resource_url,
            json=tool_call("create_note", {"title": "t", "body": "b"}, stateless=True),
            headers=stateless_headers(writer, "create_note"),
        )
        missing_name = client.post(
            rs.resource_url,
            json=tool_call("create_note", {"title": "t", "body": "b"}, stateless=True),
            headers={k: v for k, v in stateless_headers(writer, "x").items() if k != "Mcp-Name"},
        )
    assert refused.status_code == 403
    assert 'scope="notes:write"' in refused.headers["www-authenticate"]
    assert created.status_code == 200
    assert "mcp-session-id" not in created.headers
    assert created.json()["result"]["structuredContent"]["title"] == "t"
    # The SDK enforces the 2026-07-28 rule that Mcp-Name is required for tools/call.
    assert missing_name.status_code == 400
    assert missing_name.json()["error"]["code"] == -32020


def test_official_client_with_a_ready_token_in_both_revisions(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    token = fake_as.mint(scope="notes:read notes:write")

    async def run(mode: str) -> tuple[str | None, list[str], dict[str, Any]]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            streamable_http_client(rs.resource_url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            if mode == STATELESS_REVISION:
                await session.discover()
            else:
                await session.initialize()
            tools = await session.list_tools()
            created = await session.call_tool("create_note", {"title": mode, "body": "x"})
            return (
                session.protocol_version,
                [t.name for t in tools.tools],
                created.structured_content,
            )

    for mode in ("2025-11-25", STATELESS_REVISION):
        version, names, created = anyio.run(run, mode)
        assert version == mode
        assert names == ["whoami", "list_notes", "read_note", "create_note", "delete_note"]
        assert created["title"] == mode


def test_headers_without_token_on_the_2026_path_get_the_entry_challenge(rs: RunningRS) -> None:
    with rs.client() as client:
        response = client.post(
            rs.resource_url,
            json=tool_call("whoami", {}, stateless=True),
            headers={
                **MCP_HEADERS,
                "MCP-Protocol-Version": STATELESS_REVISION,
                "Mcp-Method": "tools/call",
            },
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{rs.prm_url}", scope="notes:read"'
    )


def test_official_client_auto_mode_picks_2026_07_28(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    """``mcp.client.Client(mode="auto")`` probes ``server/discover`` and adopts the modern era."""
    token = fake_as.mint(scope="notes:read")

    async def run() -> tuple[str | None, dict[str, Any] | None]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(
                streamable_http_client(rs.resource_url, http_client=http), mode="auto"
            ) as client,
        ):
            result = await client.call_tool("whoami", {})
            return client.session.protocol_version, result.structured_content

    version, whoami = anyio.run(run)
    assert version == STATELESS_REVISION
    assert whoami is not None and whoami["subject"] == "alice"
