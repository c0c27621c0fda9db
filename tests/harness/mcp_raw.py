"""MCP over raw HTTP (Streamable HTTP, revision 2025-11-25), for attacks that a well-behaved SDK
client would never send: forged tokens, foreign Origin/Host, batches, mismatched headers.
"""

from __future__ import annotations

from typing import Any

import httpx2

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
PROTOCOL_VERSION = "2025-11-25"


def jsonrpc(method: str, params: dict[str, Any] | None = None, request_id: int = 1) -> dict:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def initialize_message() -> dict:
    return jsonrpc(
        "initialize",
        {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "attack-battery", "version": "0"},
        },
    )


def tool_call(name: Any, arguments: dict[str, Any] | None = None, request_id: int = 2) -> dict:
    return jsonrpc("tools/call", {"name": name, "arguments": arguments or {}}, request_id)


def headers(token: str | None, session_id: str | None = None, **extra: str) -> dict[str, str]:
    result = dict(MCP_HEADERS)
    if token is not None:
        result["Authorization"] = f"Bearer {token}"
    if session_id is not None:
        result["Mcp-Session-Id"] = session_id
        result["MCP-Protocol-Version"] = PROTOCOL_VERSION
    result.update(extra)
    return result


def open_session(http: httpx2.Client, resource: str, token: str) -> str:
    """The 2025-11-25 handshake: initialize, then notifications/initialized; the session id."""
    response = http.post(resource, json=initialize_message(), headers=headers(token))
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    notified = http.post(
        resource,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers=headers(token, session_id),
    )
    assert notified.status_code == 202, notified.text
    return session_id


def call_tool(
    http: httpx2.Client,
    resource: str,
    token: str,
    session_id: str,
    name: str,
    arguments: dict[str, Any] | None = None,
) -> httpx2.Response:
    return http.post(resource, json=tool_call(name, arguments), headers=headers(token, session_id))


def tool_result(response: httpx2.Response) -> dict:
    """The JSON-RPC ``result`` of a successful tools/call."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "result" in body, body
    return body["result"]
