"""Attacks on the resource server's HTTP surface with *valid* tokens: DNS rebinding, session
hijacking, object access across users, request smuggling between the scope gate and the MCP SDK,
privilege escalation past the scope gate, oversized bodies.

Rules: MCP transports §Security Warning (Origin/Host), MCP security best practices §Session
Hijacking, MCP authorization §Runtime Insufficient Scope Errors / RFC 6750 §3.1, MCP 2026-07-28
transports §Server Validation (SEP-2243 header/body agreement), JSON-RPC 2.0 §5.1.
"""

from __future__ import annotations

import httpx2
import pytest
import sqlalchemy
from harness.db_rows import unchanged
from harness.mcp_raw import call_tool, headers, open_session, tool_call, tool_result
from harness.oauth_flow import issue_tokens


class User:
    """One user with her own browser, token and MCP session."""

    def __init__(self, stack, name: str, scope: str) -> None:
        with httpx2.Client(timeout=15.0) as browser:
            _client, _request, tokens = issue_tokens(
                browser, stack.as_url, stack.resource, scope=scope, user=name
            )
        self.token = tokens["access_token"]
        self.http = httpx2.Client(timeout=15.0)
        self.session = open_session(self.http, stack.resource, self.token)
        self.resource = stack.resource

    def call(self, name: str, arguments: dict | None = None) -> httpx2.Response:
        return call_tool(self.http, self.resource, self.token, self.session, name, arguments)


@pytest.fixture
def alice(stack):
    user = User(stack, "alice", "notes:read notes:write notes:delete")
    yield user
    user.http.close()


@pytest.fixture
def bob(stack):
    user = User(stack, "bob", "notes:read notes:write notes:delete")
    yield user
    user.http.close()


def alice_note(alice: User) -> int:
    result = tool_result(alice.call("create_note", {"title": "secret", "body": "alice only"}))
    return result["structuredContent"]["id"]


def note_count(stack) -> int:
    with stack.notes_engine.connect() as conn:
        return conn.execute(sqlalchemy.text("SELECT count(*) FROM notes")).scalar_one()


def jsonrpc_error(response: httpx2.Response, status: int, code: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] == code, body
    return body


def test_rs_refuses_foreign_origin(stack, alice) -> None:
    """MCP transports §Security Warning: "If the Origin header is present and invalid, servers
    MUST respond with HTTP 403 Forbidden" (DNS rebinding from a web page)."""
    with unchanged(stack.notes_engine):
        response = alice.http.post(
            stack.resource,
            json=tool_call("create_note", {"title": "rebinding", "body": "x"}),
            headers=headers(alice.token, alice.session, Origin="http://evil.example"),
        )
    assert response.status_code == 403, response.text


def test_rs_refuses_null_origin(stack, alice) -> None:
    """MCP transports §Security Warning: ``Origin: null`` (sandboxed iframe, file://) is not a
    trusted origin."""
    with unchanged(stack.notes_engine):
        response = alice.http.post(
            stack.resource,
            json=tool_call("create_note", {"title": "null origin", "body": "x"}),
            headers=headers(alice.token, alice.session, Origin="null"),
        )
    assert response.status_code == 403, response.text


def test_rs_refuses_foreign_host(stack, alice) -> None:
    """MCP conformance ``dns-rebinding-protection`` / RFC 9110 §7.4: a ``Host`` that is not this
    server (a rebinding page's own name) is refused with 421 Misdirected Request."""
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost.evil.example:80"):
        with unchanged(stack.notes_engine):
            response = alice.http.post(
                stack.resource,
                json=tool_call("create_note", {"title": "rebinding", "body": "x"}),
                headers=headers(alice.token, alice.session, Host=host),
            )
        assert response.status_code == 421, (host, response.text)


def test_rs_refuses_session_hijack_across_subjects(stack, alice, bob) -> None:
    """MCP security best practices §Session Hijacking: "MUST NOT use sessions for
    authentication"; a session opened by alice, presented with bob's valid token, is answered
    like an unknown session (404) and reveals nothing of alice's."""
    alice_note(alice)
    with unchanged(stack.notes_engine):
        response = bob.http.post(
            stack.resource,
            json=tool_call("list_notes"),
            headers=headers(bob.token, alice.session),
        )
    assert response.status_code == 404, response.text
    assert "alice only" not in response.text


def test_rs_does_not_hand_one_users_note_to_another(stack, alice, bob) -> None:
    """MCP authorization §Token Handling (the token's subject is the caller): bob, with every
    scope, cannot read or delete alice's note by guessing its id (no IDOR)."""
    note_id = alice_note(alice)
    read = tool_result(bob.call("read_note", {"note_id": note_id}))
    assert read.get("isError") is True and "alice only" not in str(read)
    with unchanged(stack.notes_engine):
        deleted = tool_result(bob.call("delete_note", {"note_id": note_id}))
    assert deleted.get("isError") is True
    assert tool_result(alice.call("read_note", {"note_id": note_id}))["structuredContent"]["id"]


def test_rs_refuses_header_body_disagreement_on_tool_name(stack, alice) -> None:
    """SEP-2243 (MCP 2026-07-28 transports §Server Validation): ``Mcp-Name`` must match the body's
    tool name (-32020 HeaderMismatch). A proxy or gate routing on the header (``whoami``, no scope)
    while the SDK executes the body (``delete_note``) would be a scope bypass."""
    note_id = alice_note(alice)
    with unchanged(stack.notes_engine):
        response = alice.http.post(
            stack.resource,
            json=tool_call("delete_note", {"note_id": note_id}),
            headers=headers(alice.token, alice.session, **{"Mcp-Name": "whoami"}),
        )
    jsonrpc_error(response, 400, -32020)


def test_rs_refuses_header_body_disagreement_on_method(stack, alice) -> None:
    """SEP-2243: ``Mcp-Method`` must match the body's method (-32020)."""
    with unchanged(stack.notes_engine):
        response = alice.http.post(
            stack.resource,
            json=tool_call("create_note", {"title": "smuggled", "body": "x"}),
            headers=headers(alice.token, alice.session, **{"Mcp-Method": "tools/list"}),
        )
    jsonrpc_error(response, 400, -32020)


def test_rs_refuses_jsonrpc_batches(stack, alice) -> None:
    """MCP 2025-06-18+ removed JSON-RPC batching; a batch could also hide a second, unchecked
    ``tools/call`` behind a harmless first one. Refused as -32600 Invalid Request."""
    batch = [
        tool_call("whoami", request_id=1),
        tool_call("create_note", {"title": "batched", "body": "x"}, request_id=2),
    ]
    with unchanged(stack.notes_engine):
        response = alice.http.post(
            stack.resource, json=batch, headers=headers(alice.token, alice.session)
        )
    jsonrpc_error(response, 400, -32600)


def test_rs_refuses_non_string_tool_names(stack) -> None:
    """JSON-RPC 2.0 §5.1 -32602: ``params.name`` must be a string; an array or object could be
    read differently by the gate and by the SDK. Checked with a read-only token so a name that
    slipped through as ``create_note`` would have been a scope bypass."""
    reader = User(stack, "alice", "notes:read")
    try:
        for name in (["create_note"], {"name": "create_note"}, 5, None):
            with unchanged(stack.notes_engine):
                response = reader.http.post(
                    stack.resource,
                    json=tool_call(name, {"title": "typed", "body": "x"}),
                    headers=headers(reader.token, reader.session),
                )
            jsonrpc_error(response, 400, -32602)
    finally:
        reader.http.close()


def test_rs_refuses_duplicate_json_keys(stack) -> None:
    """RFC 8259 §4: duplicate member names are read first-wins by some parsers and last-wins by
    others; ``{"name": "whoami", "name": "create_note"}`` must not reach the tool."""
    reader = User(stack, "alice", "notes:read")
    body = (
        b'{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "whoami", '
        b'"name": "create_note", "arguments": {"title": "dup", "body": "x"}}}'
    )
    try:
        with unchanged(stack.notes_engine):
            response = reader.http.post(
                stack.resource, content=body, headers=headers(reader.token, reader.session)
            )
        jsonrpc_error(response, 400, -32700)
    finally:
        reader.http.close()


def test_rs_refuses_oversized_body(stack, alice) -> None:
    """RFC 9110 §15.5.14 413: a body beyond the limit is refused before it is parsed."""
    huge = tool_call("create_note", {"title": "huge", "body": "x" * 1_000_000})
    with unchanged(stack.notes_engine):
        response = alice.http.post(
            stack.resource, json=huge, headers=headers(alice.token, alice.session)
        )
    assert response.status_code == 413, response.text[:300]


def test_rs_refuses_tool_without_its_scope(stack) -> None:
    """MCP authorization §Runtime Insufficient Scope Errors / RFC 6750 §3.1: a ``notes:read``
    token calling ``create_note`` gets 403 ``insufficient_scope`` naming ``notes:write``, and no
    note is written."""
    reader = User(stack, "alice", "notes:read")
    try:
        before = note_count(stack)
        response = reader.call("create_note", {"title": "escalation", "body": "x"})
        assert response.status_code == 403
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and "notes:write" in challenge
        assert "offline_access" not in challenge, "SEP-2207: never challenge offline_access"
        assert note_count(stack) == before
    finally:
        reader.http.close()


def test_rs_refuses_delete_with_write_scope_only(stack) -> None:
    """MCP authorization §Runtime Insufficient Scope Errors: ``notes:write`` does not imply
    ``notes:delete``; the note survives and the challenge names ``notes:delete``."""
    writer = User(stack, "alice", "notes:read notes:write")
    try:
        note_id = alice_note(writer)
        with unchanged(stack.notes_engine):
            response = writer.call("delete_note", {"note_id": note_id})
        assert response.status_code == 403
        assert "notes:delete" in response.headers["www-authenticate"]
    finally:
        writer.http.close()


def test_rs_refuses_two_authorization_headers(stack, alice) -> None:
    """OAuth 2.1 §5.1 / RFC 6750 §3.1 ``invalid_request``: more than one way of presenting a
    token; which one would be checked and which one used?"""
    request_headers = [
        *headers(alice.token, alice.session).items(),
        ("Authorization", "Bearer another-token"),
    ]
    with unchanged(stack.notes_engine):
        response = alice.http.post(
            stack.resource,
            json=tool_call("create_note", {"title": "two headers", "body": "x"}),
            headers=request_headers,
        )
    assert response.status_code == 400, response.text
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def test_session_binding_survives_a_flood_of_new_sessions() -> None:
    """MCP security best practices §Session Hijacking: the binding of a session to its principal
    must not be forgettable by an attacker. The RS keeps owners in a bounded table; if evicting
    alice's entry made her (still live) session id usable by anyone, opening enough sessions of
    one's own would be a hijack. A session whose owner is not known must be refused (fail closed).
    """
    from scoped_tools_server.transport_security import SessionOwners

    owners = SessionOwners(max_sessions=3)
    alice_principal = ("http://127.0.0.1:9000", "alice", "client-a")
    bob_principal = ("http://127.0.0.1:9000", "bob", "client-b")
    owners.record("alice-session", alice_principal)
    for i in range(3):
        owners.record(f"bob-session-{i}", bob_principal)
    assert owners.may_use("alice-session", bob_principal) is False
