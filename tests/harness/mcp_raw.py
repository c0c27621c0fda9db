"""MCP over raw HTTP (Streamable HTTP): what the tests send when an SDK client would not (forged
tokens, foreign Origin/Host, batches, mismatched headers), and what the benchmarks send so that
they measure the server, not an SDK client.

Two ways in, both served by scoped_tools_server's one session manager:

- **2025-11-25 session**: ``initialize`` → ``Mcp-Session-Id``, ``notifications/initialized``, then
  calls carrying the session id and ``MCP-Protocol-Version: 2025-11-25`` (``open_session``,
  ``headers``).
- **2026-07-28 stateless**: every POST is self-contained: ``MCP-Protocol-Version: 2026-07-28``,
  the ``Mcp-Method``/``Mcp-Name`` routing headers (SEP-2243), and the protocol version and client
  capabilities in ``params._meta`` (``tool_call(..., stateless=True)``, ``stateless_headers``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

from .http_steps import Call, Steps, UnexpectedAnswer, drive, drive_async, expect_status

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
SESSION_REVISION = "2025-11-25"
STATELESS_REVISION = "2026-07-28"


def jsonrpc(method: str, params: dict[str, Any] | None = None, request_id: int = 1) -> dict:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def initialize_message(client_name: str = "raw-test") -> dict:
    return jsonrpc(
        "initialize",
        {
            "protocolVersion": SESSION_REVISION,
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": "0"},
        },
    )


def tool_call(
    name: Any,
    arguments: dict[str, Any] | None = None,
    request_id: int = 2,
    *,
    stateless: bool = False,
) -> dict:
    """A ``tools/call`` request; ``stateless`` adds the 2026-07-28 ``params._meta``."""
    params: dict[str, Any] = {"name": name, "arguments": arguments or {}}
    if stateless:
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": STATELESS_REVISION,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    return jsonrpc("tools/call", params, request_id)


def encoded(message: dict) -> bytes:
    """A message as compact JSON bytes (the benchmarks encode each body once)."""
    return json.dumps(message, separators=(",", ":")).encode()


def headers(token: str | None, session_id: str | None = None, **extra: str) -> dict[str, str]:
    """Headers of a 2025-11-25 request: bearer ``token``; with ``session_id``, the session's."""
    result = dict(MCP_HEADERS)
    if token is not None:
        result["Authorization"] = f"Bearer {token}"
    if session_id is not None:
        result["Mcp-Session-Id"] = session_id
        result["MCP-Protocol-Version"] = SESSION_REVISION
    result.update(extra)
    return result


def stateless_headers(token: str | None, tool: str) -> dict[str, str]:
    """Headers of a stateless 2026-07-28 ``tools/call`` of ``tool`` (routing headers included)."""
    return headers(
        token,
        **{
            "MCP-Protocol-Version": STATELESS_REVISION,
            "Mcp-Method": "tools/call",
            "Mcp-Name": tool,
        },
    )


def open_session_steps(resource: str, token: str | None, client_name: str) -> Steps:
    """The 2025-11-25 handshake: initialize, then notifications/initialized; the session id."""
    response = yield Call(
        "POST", resource, {"json": initialize_message(client_name), "headers": headers(token)}
    )
    expect_status(response, 200, "initialize")
    if "mcp-session-id" not in response.headers:
        raise UnexpectedAnswer(f"initialize answered no Mcp-Session-Id: {response.text[:500]}")
    session_id = response.headers["mcp-session-id"]
    notified = yield Call(
        "POST",
        resource,
        {
            "json": {"jsonrpc": "2.0", "method": "notifications/initialized"},
            "headers": headers(token, session_id),
        },
    )
    expect_status(notified, 202, "notifications/initialized")
    return session_id


def open_session(http: httpx2.Client, resource: str, token: str | None) -> str:
    return drive(http, open_session_steps(resource, token, "raw-test"))


async def open_session_async(http: httpx2.AsyncClient, resource: str, token: str) -> str:
    return await drive_async(http, open_session_steps(resource, token, "bench-loadgen"))


def call_tool(
    http: httpx2.Client,
    resource: str,
    token: str,
    session_id: str,
    name: str,
    arguments: dict[str, Any] | None = None,
) -> httpx2.Response:
    return http.post(resource, json=tool_call(name, arguments), headers=headers(token, session_id))


async def call_tool_async(
    http: httpx2.AsyncClient,
    resource: str,
    token: str | None,
    name: str,
    arguments: dict[str, Any] | None = None,
    *,
    session_id: str | None = None,
) -> dict[str, Any]:
    """One ``tools/call``: in ``session_id``'s session, or stateless (2026-07-28) without one;
    the successful result (``successful_result``)."""
    if session_id is None:
        body = encoded(tool_call(name, arguments, 1, stateless=True))
        request_headers = stateless_headers(token, name)
    else:
        body = encoded(tool_call(name, arguments, 1))
        request_headers = headers(token, session_id)
    response = await http.post(resource, content=body, headers=request_headers)
    return successful_result(response)


def tool_result(response: httpx2.Response) -> dict:
    """The JSON-RPC ``result`` of a ``tools/call`` answered 200 (it may be a tool error)."""
    expect_status(response, 200, "tools/call")
    body = response.json()
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, dict):
        raise UnexpectedAnswer(f"no JSON-RPC result: {response.text[:500]}")
    return result


def successful_result(response: httpx2.Response) -> dict:
    """``tool_result``, and the tool did not report an error (``isError``)."""
    result = tool_result(response)
    if result.get("isError"):
        raise UnexpectedAnswer(f"tool error: {json.dumps(result)[:500]}")
    return result
