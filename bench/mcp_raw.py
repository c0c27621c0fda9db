"""MCP requests as raw JSON-RPC POSTs, so the generator measures the server, not an SDK client.

Two ways in, both served by scoped_tools_server's one session manager:

- **2026-07-28 stateless**: every POST is self-contained: ``MCP-Protocol-Version: 2026-07-28``,
  the ``Mcp-Method``/``Mcp-Name`` routing headers (SEP-2243), and the protocol version and client
  capabilities in ``params._meta``. No handshake, no session.
- **2025-11-25 session**: ``initialize`` → ``Mcp-Session-Id``, ``notifications/initialized``, then
  calls carrying the session id and ``MCP-Protocol-Version: 2025-11-25``.

Bodies are encoded once per (tool, arguments) and reused; a call succeeds only if the answer is
HTTP 200 with a JSON-RPC ``result`` whose ``isError`` is not true.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
from loadgen import RequestFailed

MODERN = "2026-07-28"
SESSION_REVISION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


def tool_call_body(name: str, arguments: dict[str, Any], *, modern: bool, request_id: int) -> bytes:
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if modern:
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    return json.dumps(message, separators=(",", ":")).encode()


def modern_headers(token: str | None, tool: str) -> dict[str, str]:
    headers = {
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def session_headers(token: str, session_id: str | None) -> dict[str, str]:
    headers = {
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
    }
    if session_id is not None:
        headers["Mcp-Session-Id"] = session_id
        headers["MCP-Protocol-Version"] = SESSION_REVISION
    return headers


def tool_result(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC ``result`` of a successful tools/call, or ``RequestFailed`` saying why not."""
    if response.status_code != 200:
        raise RequestFailed(f"HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, dict):
        raise RequestFailed(f"no JSON-RPC result: {response.text[:200]}")
    if result.get("isError"):
        raise RequestFailed(f"tool error: {json.dumps(result)[:200]}")
    return result


async def call_modern(
    client: httpx2.AsyncClient,
    url: str,
    token: str | None,
    tool: str,
    arguments: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = tool_call_body(tool, arguments or {}, modern=True, request_id=1)
    response = await client.post(url, content=body, headers=modern_headers(token, tool))
    return tool_result(response)


class ModernWhoami:
    """The request function of the throughput figures: stateless ``tools/call whoami``."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.body = tool_call_body("whoami", {}, modern=True, request_id=1)
        self.headers = modern_headers(token, "whoami")

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        response = await client.post(self.url, content=self.body, headers=self.headers)
        tool_result(response)


async def open_session(client: httpx2.AsyncClient, url: str, token: str) -> str:
    """The 2025-11-25 handshake; returns the ``Mcp-Session-Id``."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": SESSION_REVISION,
            "capabilities": {},
            "clientInfo": {"name": "bench-loadgen", "version": "0"},
        },
    }
    response = await client.post(url, json=initialize, headers=session_headers(token, None))
    if response.status_code != 200 or "mcp-session-id" not in response.headers:
        raise RequestFailed(f"initialize: HTTP {response.status_code}: {response.text[:200]}")
    session_id = response.headers["mcp-session-id"]
    notified = await client.post(
        url,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers=session_headers(token, session_id),
    )
    if notified.status_code != 202:
        raise RequestFailed(f"notifications/initialized: HTTP {notified.status_code}")
    return session_id


async def call_in_session(
    client: httpx2.AsyncClient,
    url: str,
    token: str,
    session_id: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = tool_call_body(tool, arguments or {}, modern=False, request_id=1)
    response = await client.post(url, content=body, headers=session_headers(token, session_id))
    return tool_result(response)
