"""Fuzz the resource server's HTTP surface (it has no OpenAPI document, so hypothesis builds the
requests): arbitrary JSON, JSON-RPC-shaped messages with hostile field types, raw bytes, and
random values of the routing headers (``Mcp-Method``, ``Mcp-Name``, ``MCP-Protocol-Version``,
``Mcp-Session-Id``), all sent with a *valid* token so they get past authentication.

Property (developers' guide; JSON-RPC 2.0 §5.1; MCP transports): the RS never answers 5xx, and
every 4xx from the gate is either an OAuth challenge or a well-formed JSON-RPC error object.
"""

from __future__ import annotations

import httpx2
import pytest
from harness.mcp_raw import MCP_HEADERS, open_session
from harness.oauth_flow import issue_tokens
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
tool_names = st.one_of(
    st.sampled_from(["whoami", "list_notes", "read_note", "create_note", "delete_note", "nope"]),
    json_values,
)
methods = st.one_of(
    st.sampled_from(
        ["tools/call", "tools/list", "initialize", "ping", "notifications/initialized", "x"]
    ),
    json_values,
)
messages = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"jsonrpc": st.sampled_from(["2.0", "1.0", 2]), "method": methods},
        optional={
            "id": json_values,
            "params": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"name": tool_names},
                    optional={"arguments": st.dictionaries(st.text(max_size=8), json_values)},
                ),
            ),
        },
    ),
)
header_text = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)
routing_headers = st.dictionaries(
    st.sampled_from(["Mcp-Method", "Mcp-Name", "MCP-Protocol-Version", "Mcp-Session-Id"]),
    st.one_of(header_text, st.sampled_from(["tools/call", "whoami", "2025-11-25", "2026-07-28"])),
    max_size=4,
)


@pytest.fixture(scope="module")
def caller(stack):
    """A valid all-scopes token and an open 2025-11-25 session for it."""
    with httpx2.Client(timeout=15.0) as http:
        _client, _request, tokens = issue_tokens(
            http, stack.as_url, stack.resource, scope="notes:read notes:write notes:delete"
        )
        session_id = open_session(http, stack.resource, tokens["access_token"])
    client = httpx2.Client(timeout=15.0)
    yield {"http": client, "token": tokens["access_token"], "session": session_id}
    client.close()


def assert_well_formed_refusal(response: httpx2.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code in (401, 403) and "www-authenticate" in response.headers:
        return  # an OAuth challenge (RFC 6750 §3)
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        body = response.json()
        if "error" in body and isinstance(body["error"], dict):
            assert isinstance(body["error"].get("code"), int), body
            assert isinstance(body["error"].get("message"), str), body


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(message=messages, extra=routing_headers, with_session=st.booleans())
def test_rs_never_answers_5xx_to_hostile_json(stack, caller, message, extra, with_session) -> None:
    """JSON-RPC 2.0 §5.1 / MCP transports: malformed requests get 4xx JSON-RPC errors."""
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {caller['token']}"}
    if with_session:
        headers["Mcp-Session-Id"] = caller["session"]
        headers["MCP-Protocol-Version"] = "2025-11-25"
    headers.update(extra)
    response = caller["http"].post(stack.resource, json=message, headers=headers)
    assert_well_formed_refusal(response)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
)
def test_rs_never_answers_5xx_to_raw_bytes(stack, caller, body, content_type) -> None:
    """RFC 8259 §8.1 / JSON-RPC 2.0 -32700: bytes that are not JSON (or not UTF-8) are a parse
    error, not a crash."""
    headers = {
        **MCP_HEADERS,
        "Authorization": f"Bearer {caller['token']}",
        "Mcp-Session-Id": caller["session"],
        "MCP-Protocol-Version": "2025-11-25",
        "Content-Type": content_type,
    }
    response = caller["http"].post(stack.resource, content=body, headers=headers)
    assert_well_formed_refusal(response)
