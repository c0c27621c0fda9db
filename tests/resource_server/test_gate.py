"""The scope gate over real HTTP: every refusal shape, with exact header strings."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from harness.mcp_raw import (
    MCP_HEADERS,
    headers,
    initialize_message,
    jsonrpc,
    open_session,
    tool_call,
)
from harness.rs_test_rig import (
    INTROSPECTION_SECRET,
    FakeAuthorizationServer,
    RunningRS,
)


def test_no_token_gets_the_entry_challenge(rs: RunningRS) -> None:
    with rs.client() as client:
        response = client.post(rs.resource_url, json=initialize_message(), headers=MCP_HEADERS)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{rs.prm_url}", scope="notes:read"'
    )
    assert rs.prm_url == f"{rs.base_url}/.well-known/oauth-protected-resource/mcp"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_every_method_needs_a_token(rs: RunningRS, method: str) -> None:
    with rs.client() as client:
        response = client.request(method, rs.resource_url, headers=MCP_HEADERS)
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


def test_non_bearer_scheme_is_no_credentials(rs: RunningRS) -> None:
    with rs.client() as client:
        response = client.post(
            rs.resource_url,
            json=initialize_message(),
            headers={**MCP_HEADERS, "Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="},
        )
    assert response.status_code == 401
    assert "error=" not in response.headers["www-authenticate"]


def invalid_token_header(rs: RunningRS, description: str) -> str:
    return (
        f'Bearer error="invalid_token", error_description="{description}", '
        f'resource_metadata="{rs.prm_url}", scope="notes:read"'
    )


def post_initialize(rs: RunningRS, token: str | None, **extra_headers: str):
    """An ``initialize`` POST with bearer ``token`` (``None``: none) and ``extra_headers``."""
    with rs.client() as client:
        return client.post(
            rs.resource_url, json=initialize_message(), headers=headers(token, **extra_headers)
        )


def test_a_rejected_token_is_401_invalid_token_with_its_reason(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    """RFC 6750 §3.1: any token the verifier rejects is answered 401 ``invalid_token`` with the
    verifier's reason, in the challenge and in the JSON body. Which tokens are rejected, and each
    reason's wording, is test_token_verification.py's (one rejection here stands for all)."""
    response = post_initialize(rs, fake_as.mint(exp=int(time.time()) - 60))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == invalid_token_header(
        rs, "The access token expired"
    )
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "The access token expired",
    }


def test_garbage_bearer_value(rs: RunningRS) -> None:
    response = post_initialize(rs, "not a token")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == invalid_token_header(
        rs, "The Authorization header does not carry a bearer token"
    )


def test_token_in_query_string_is_refused(rs: RunningRS, fake_as: FakeAuthorizationServer) -> None:
    token = fake_as.mint()
    with rs.client() as client:
        only_query = client.post(
            f"{rs.resource_url}?access_token={token}",
            json=initialize_message(),
            headers=MCP_HEADERS,
        )
        both = client.post(
            f"{rs.resource_url}?access_token={token}",
            json=initialize_message(),
            headers=headers(token),
        )
    for response in (only_query, both):
        assert response.status_code == 400
        assert response.headers["www-authenticate"] == (
            'Bearer error="invalid_request", error_description="Access tokens are accepted only '
            'in the Authorization header, never in the query string (OAuth 2.1 section 5.1)", '
            f'resource_metadata="{rs.prm_url}"'
        )
        assert response.json()["error"] == "invalid_request"


def test_two_authorization_headers_are_refused(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    token = fake_as.mint()
    with rs.client() as client:
        response = client.post(
            rs.resource_url,
            content=json.dumps(initialize_message()),
            headers=[
                *MCP_HEADERS.items(),
                ("Authorization", f"Bearer {token}"),
                ("Authorization", f"Bearer {token}"),
            ],
        )
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("tool", "arguments", "scope"),
    [
        ("create_note", {"title": "t", "body": "b"}, "notes:write"),
        ("delete_note", {"note_id": 1}, "notes:delete"),
    ],
)
def test_insufficient_scope_names_the_tools_scope(
    rs: RunningRS, fake_as: FakeAuthorizationServer, tool: str, arguments: dict, scope: str
) -> None:
    """MCP authorization §Runtime Insufficient Scope Errors / RFC 6750 §3.1: 403 naming the
    tool's scope (never ``offline_access``, SEP-2207), and the tool does not run."""
    token = fake_as.mint(scope="notes:read offline_access")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        with rs.notes_unchanged():
            response = client.post(
                rs.resource_url, json=tool_call(tool, arguments), headers=headers(token, session)
            )
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}", resource_metadata="{rs.prm_url}", '
        f'error_description="{tool} requires {scope}"'
    )
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": f"{tool} requires {scope}",
        "scope": scope,
        "resource_metadata": rs.prm_url,
    }


def test_cumulative_challenge(
    start_rs: Callable[..., RunningRS], fake_as: FakeAuthorizationServer
) -> None:
    """``notes:write`` does not imply ``notes:delete``: the note survives; the cumulative
    challenge asks for what was granted plus the tool's scope."""
    rs = start_rs(challenge_scope="cumulative")
    token = fake_as.mint(scope="notes:read notes:write offline_access")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        created = client.post(
            rs.resource_url,
            json=tool_call("create_note", {"title": "kept", "body": "x"}),
            headers=headers(token, session),
        )
        note_id = created.json()["result"]["structuredContent"]["id"]
        with rs.notes_unchanged():
            response = client.post(
                rs.resource_url,
                json=tool_call("delete_note", {"note_id": note_id}),
                headers=headers(token, session),
            )
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="notes:delete notes:read notes:write", '
        f'resource_metadata="{rs.prm_url}", error_description="delete_note requires notes:delete"'
    )


def test_scope_granted_passes_and_tools_list_needs_only_a_valid_token(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    token = fake_as.mint(scope="")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        listed = client.post(
            rs.resource_url,
            json=jsonrpc("tools/list", request_id=5),
            headers=headers(token, session),
        )
        whoami = client.post(
            rs.resource_url, json=tool_call("whoami"), headers=headers(token, session)
        )
        listing = client.post(
            rs.resource_url, json=tool_call("list_notes"), headers=headers(token, session)
        )
    assert listed.status_code == 200
    tools = {tool["name"]: tool for tool in listed.json()["result"]["tools"]}
    assert tools["create_note"]["_meta"] == {"scoped-tools-server/requiredScopes": ["notes:write"]}
    assert "Requires scope: notes:write." in tools["create_note"]["description"]
    assert whoami.status_code == 200
    assert whoami.json()["result"]["structuredContent"]["subject"] == "alice"
    assert listing.status_code == 403


def test_unknown_tool_goes_to_the_sdk_error(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    token = fake_as.mint()
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        response = client.post(
            rs.resource_url,
            json=tool_call("launch_missiles"),
            headers=headers(token, session),
        )
    assert response.status_code == 200
    result = response.json()
    assert "error" in result or result["result"]["isError"] is True
    assert "launch_missiles" in json.dumps(result)


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "localhost.evil.example:80"]
)
def test_foreign_host_is_misdirected(
    rs: RunningRS, fake_as: FakeAuthorizationServer, host: str
) -> None:
    """MCP transports §Security Warning (DNS rebinding) / RFC 9110 §15.5.20: a ``Host`` that is
    not this server (a rebinding page's own name) is 421 Misdirected Request."""
    response = post_initialize(rs, fake_as.mint(), Host=host)
    assert response.status_code == 421
    assert response.json()["error"]["message"] == "Host header does not name this server"


def test_extra_allowed_host(
    start_rs: Callable[..., RunningRS], fake_as: FakeAuthorizationServer
) -> None:
    rs = start_rs(allowed_hosts=["notes.internal:8000"])
    token = fake_as.mint()
    assert post_initialize(rs, token, Host="notes.internal:8000").status_code == 200
    assert post_initialize(rs, token, Host="notes.internal:9999").status_code == 421


def test_foreign_origin_is_forbidden(rs: RunningRS, fake_as: FakeAuthorizationServer) -> None:
    """MCP transports §Security Warning: an Origin present and not allowed is 403."""
    token = fake_as.mint()
    for origin in ("http://evil.example", "null"):  # "null": a sandboxed iframe, file://
        refused = post_initialize(rs, token, Origin=origin)
        assert refused.status_code == 403
        assert refused.json() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32600, "message": "Origin is not allowed"},
        }
    assert post_initialize(rs, token, Origin="http://localhost:6274").status_code == 200


def test_foreign_origin_is_refused_before_the_token_is_looked_at(rs: RunningRS) -> None:
    assert post_initialize(rs, None, Origin="http://evil.example").status_code == 403


def test_hijacked_session_is_not_found(rs: RunningRS, fake_as: FakeAuthorizationServer) -> None:
    alice = fake_as.mint(sub="alice", scope="notes:read notes:write")
    bob = fake_as.mint(sub="bob", scope="notes:read notes:write")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, alice)
        created = client.post(
            rs.resource_url,
            json=tool_call("create_note", {"title": "secret", "body": "alice's"}),
            headers=headers(alice, session),
        )
        hijack = client.post(
            rs.resource_url, json=tool_call("list_notes"), headers=headers(bob, session)
        )
        hijack_delete = client.delete(rs.resource_url, headers=headers(bob, session))
        still_alices = client.post(
            rs.resource_url, json=tool_call("list_notes"), headers=headers(alice, session)
        )
    assert created.status_code == 200
    assert hijack.status_code == 404
    assert hijack.json()["error"]["message"] == "Session not found"
    assert "secret" not in hijack.text
    assert hijack_delete.status_code == 404
    assert still_alices.status_code == 200
    assert still_alices.json()["result"]["structuredContent"]["result"][0]["title"] == "secret"


def test_same_user_from_another_client_is_another_principal(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    first = fake_as.mint(sub="alice", client_id="client-1")
    second = fake_as.mint(sub="alice", client_id="client-2")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, first)
        response = client.post(
            rs.resource_url, json=tool_call("whoami"), headers=headers(second, session)
        )
    assert response.status_code == 404


def test_oversized_body(
    start_rs: Callable[..., RunningRS], fake_as: FakeAuthorizationServer
) -> None:
    """RFC 9110 §15.5.14: a body beyond ``max_body_bytes`` (declared or streamed) is 413, and
    nothing of it runs."""
    rs = start_rs(max_body_bytes=2048)
    token = fake_as.mint(scope="notes:read notes:write")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        with rs.notes_unchanged():
            response = client.post(
                rs.resource_url,
                json=tool_call("create_note", {"title": "big", "body": "x" * 4096}),
                headers=headers(token, session),
            )

        def chunks():
            yield b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", '
            yield b'"params": {"name": "whoami", "x": "'
            for _ in range(10):
                yield b"y" * 1024

        streamed = client.post(rs.resource_url, content=chunks(), headers=headers(token, session))
    for refused in (response, streamed):
        assert refused.status_code == 413
        assert refused.json()["error"]["message"] == "The request body exceeds 2048 bytes"


def test_the_default_body_limit_refuses_a_megabyte(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    token = fake_as.mint(scope="notes:read notes:write")
    huge = tool_call("create_note", {"title": "huge", "body": "x" * 1_000_000})
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        with rs.notes_unchanged():
            response = client.post(rs.resource_url, json=huge, headers=headers(token, session))
    assert response.status_code == 413


def test_routing_header_must_match_the_body(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    """SEP-2243 (MCP 2026-07-28 transports §Server Validation): ``Mcp-Name``/``Mcp-Method`` must
    match the body (-32020). A proxy routing on the header (``whoami``) while the SDK executes
    the body (``delete_note``) would be a scope bypass: nothing runs."""
    token = fake_as.mint(scope="notes:read notes:write notes:delete")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        in_session = headers(token, session)
        created = client.post(
            rs.resource_url,
            json=tool_call("create_note", {"title": "kept", "body": "x"}),
            headers=in_session,
        )
        note_id = created.json()["result"]["structuredContent"]["id"]
        with rs.notes_unchanged():
            name_mismatch = client.post(
                rs.resource_url,
                json=tool_call("delete_note", {"note_id": note_id}),
                headers={**in_session, "Mcp-Method": "tools/call", "Mcp-Name": "whoami"},
            )
            method_mismatch = client.post(
                rs.resource_url,
                json=tool_call("create_note", {"title": "smuggled", "body": "x"}),
                headers={**in_session, "Mcp-Method": "tools/list"},
            )
        encoded_match = client.post(
            rs.resource_url,
            json=tool_call("whoami"),
            headers={**in_session, "Mcp-Method": "tools/call", "Mcp-Name": "=?base64?d2hvYW1p?="},
        )
    assert name_mismatch.status_code == 400
    assert name_mismatch.json() == {
        "jsonrpc": "2.0",
        "id": 2,
        "error": {"code": -32020, "message": "Mcp-Name header does not match the body's tool name"},
    }
    assert method_mismatch.status_code == 400
    assert method_mismatch.json()["error"]["code"] == -32020
    assert encoded_match.status_code == 200


NOTE = {"title": "smuggled", "body": "x"}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"{not json", -32700, None),
        (
            json.dumps(
                [tool_call("whoami", request_id=1), tool_call("create_note", NOTE)]
            ).encode(),
            -32600,
            "batches",
        ),
        (json.dumps(tool_call(["create_note"], NOTE)).encode(), -32602, "params.name must be"),
        (json.dumps(tool_call({"name": "create_note"}, NOTE)).encode(), -32602, "must be a string"),
        (json.dumps(tool_call(5, NOTE)).encode(), -32602, "must be a string"),
        (json.dumps(tool_call(None, NOTE)).encode(), -32602, "must be a string"),
        (
            json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": []}).encode(),
            -32602,
            "object",
        ),
        (
            json.dumps({"jsonrpc": "2.0", "id": 3, "method": 7}).encode(),
            -32600,
            "method must be a string",
        ),
        (b'"just a string"', -32600, "one JSON-RPC object"),
        (
            b'{"jsonrpc": "2.0", "id": 4, "method": "tools/call", '
            b'"params": {"name": "whoami", "name": "create_note", '
            b'"arguments": {"title": "dup", "body": "x"}}}',
            -32700,
            "duplicate member",
        ),
    ],
)
def test_bodies_that_could_smuggle_a_tool_call(
    rs: RunningRS, fake_as: FakeAuthorizationServer, body: bytes, code: int, message: str | None
) -> None:
    """JSON-RPC 2.0 §5.1 / RFC 8259 §4: a body the gate and the SDK could read differently
    (batches, non-string names, duplicate members) is refused before any tool runs; the token
    may only read, so a ``create_note`` that slipped through would be a scope bypass."""
    token = fake_as.mint(scope="notes:read")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        with rs.notes_unchanged():
            response = client.post(rs.resource_url, content=body, headers=headers(token, session))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    if message:
        assert message in error["message"]


def test_as_down_is_503_not_401(
    start_rs: Callable[..., RunningRS], fake_as: FakeAuthorizationServer
) -> None:
    rs = start_rs(auth_server_internal_url="http://127.0.0.1:9")
    response = post_initialize(rs, fake_as.mint())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "temporarily_unavailable"


def test_internal_as_url_is_used_for_keys(
    start_rs: Callable[..., RunningRS], fake_as: FakeAuthorizationServer
) -> None:
    """The issuer stays the public one; keys come from the internal base URL."""
    public_issuer = "http://as.public.example:9000"
    original = fake_as.issuer
    rs = start_rs(auth_server=public_issuer, auth_server_internal_url=original)
    fake_as.issuer = public_issuer  # metadata and tokens name the public issuer
    try:
        response = post_initialize(rs, fake_as.mint())
    finally:
        fake_as.issuer = original
    assert response.status_code == 200
    assert fake_as.jwks_requests == 1


def test_introspection_mode_revokes_immediately(
    start_rs: Callable[..., RunningRS], fake_as: FakeAuthorizationServer
) -> None:
    rs = start_rs(token_check="introspect", introspection_secret=INTROSPECTION_SECRET)
    token = fake_as.mint(scope="notes:read")
    with rs.client() as client:
        session = open_session(client, rs.resource_url, token)
        before = client.post(
            rs.resource_url, json=tool_call("list_notes"), headers=headers(token, session)
        )
        fake_as.revoked.add(token)
        after = client.post(
            rs.resource_url, json=tool_call("list_notes"), headers=headers(token, session)
        )
    assert before.status_code == 200
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == invalid_token_header(
        rs, "The authorization server says the access token is not active"
    )
    assert fake_as.jwks_requests == 0
    assert len(fake_as.introspection_requests) == 4  # one round trip per request


def test_gate_disabled_serves_the_benchmark_subject(
    start_rs: Callable[..., RunningRS], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        rs = start_rs(gate_enabled=False)
    assert any("WITHOUT ITS AUTH GATE" in record.getMessage() for record in caplog.records)
    with rs.client() as client:
        response = client.post(rs.resource_url, json=initialize_message(), headers=MCP_HEADERS)
        session = response.headers["mcp-session-id"]
        in_session = headers(None, session)
        client.post(
            rs.resource_url,
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            headers=in_session,
        )
        whoami = client.post(rs.resource_url, json=tool_call("whoami"), headers=in_session)
        foreign = client.post(
            rs.resource_url,
            json=initialize_message(),
            headers={**MCP_HEADERS, "Host": "evil.example"},
        )
    assert response.status_code == 200
    assert whoami.json()["result"]["structuredContent"]["subject"] == "anonymous-benchmark"
    assert foreign.status_code == 421  # DNS-rebinding protection stays on


def test_prm_documents_and_health(rs: RunningRS, fake_as: FakeAuthorizationServer) -> None:
    with rs.client() as client:
        path_inserted = client.get(rs.prm_url)
        root = client.get(f"{rs.base_url}/.well-known/oauth-protected-resource")
        health = client.get(f"{rs.base_url}/health")
    expected = {
        "resource": rs.resource_url,
        "authorization_servers": [fake_as.issuer],
        "scopes_supported": ["notes:delete", "notes:read", "notes:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Scoped tools notes (MCP step-up demo)",
    }
    assert path_inserted.status_code == 200
    assert path_inserted.headers["content-type"] == "application/json"
    assert path_inserted.json() == expected
    assert root.json() == expected
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}


def test_health_does_not_need_the_as(start_rs: Callable[..., RunningRS]) -> None:
    rs = start_rs(auth_server="http://127.0.0.1:9")
    with rs.client() as client:
        assert client.get(f"{rs.base_url}/health").status_code == 200


def test_only_the_exact_resource_path_is_served(
    rs: RunningRS, fake_as: FakeAuthorizationServer
) -> None:
    with rs.client() as client:
        response = client.post(
            rs.resource_url + "/",
            json=initialize_message(),
            headers={**headers(fake_as.mint()), "Host": "evil.example"},
        )
    assert response.status_code == 404
    assert "location" not in response.headers
