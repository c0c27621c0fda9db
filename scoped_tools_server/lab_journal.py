"""What the resource server tells the lab: one event dict per protocol step (pure functions).

The lab (hosted by the AS, docs/lab.md) links these to the AS's own events by token fingerprint
and ``client_id``. Event shape (the RS → AS report contract): ``{"at", "kind", "client_id",
"token_fingerprint", "summary", "detail"}``. Kinds: ``prm-fetch``, ``mcp-request``, ``challenge``,
``tool-result``, ``probe-applied``.

Secrets never leave as themselves: bearer tokens and session ids appear only as ``sha256:``
fingerprints (the same string the AS computes for the same token). ``client_id`` is taken from a
token whose signature verified (an expired but genuine token still names its client); a request
without a usable token is unattributed (``client_id`` null).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

Event = dict[str, Any]
TokenSource = Literal["header", "query", "none"]

MAX_SUMMARY_CHARS = 300
MAX_DETAIL_VALUE_CHARS = 600
MAX_CLIENT_ID_CHARS = 512
"""Client-chosen strings (tool names, user agents, client ids) are clipped so that one odd
request can never make the AS refuse a whole batch (it caps summary, detail and client_id)."""


def _clip(value: Any, limit: int = MAX_DETAIL_VALUE_CHARS) -> Any:
    return value[:limit] if isinstance(value, str) else value


def token_fingerprint(secret: str) -> str:
    """The lab's fingerprint of a token or session id: one-way, the same on both servers."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass
class Exchange:
    """What the gate learned about one request to the MCP endpoint, filled in as it goes."""

    http_method: str
    token_in: TokenSource = "none"
    token_fingerprint: str | None = None
    client_id: str | None = None
    method: str | None = None
    tool: str | None = None
    protocol_version: str | None = None
    session: str | None = None

    def describe(self) -> str:
        """``POST tools/call create_note`` / ``GET`` (a stream) / ``DELETE``: the summary's head."""
        what = self.method or ""
        if self.tool is not None:
            what += f" {self.tool}"
        return f"{self.http_method} {what}".strip()


def event(
    kind: str,
    summary: str,
    detail: dict[str, Any],
    *,
    client_id: str | None = None,
    token_fingerprint: str | None = None,
    at: float | None = None,
) -> Event:
    return {
        "at": time.time() if at is None else at,
        "kind": kind,
        "client_id": _clip(client_id, MAX_CLIENT_ID_CHARS),
        "token_fingerprint": token_fingerprint,
        "summary": summary[:MAX_SUMMARY_CHARS],
        "detail": {name: _clip(value) for name, value in detail.items()},
    }


def prm_fetch_event(path: str, user_agent: str | None) -> Event:
    """RFC 9728 §3: a client discovering the resource (no token, so unattributed)."""
    return event("prm-fetch", f"GET {path}", {"path": path, "user_agent": user_agent})


def mcp_request_event(exchange: Exchange, status: int) -> Event:
    detail = {
        "method": exchange.method,
        "tool": exchange.tool,
        "protocol_version": exchange.protocol_version,
        "session": exchange.session,
        "token_in": exchange.token_in,
        "status": status,
        "http_method": exchange.http_method,
    }
    return event(
        "mcp-request",
        f"{exchange.describe()} → {status}",
        detail,
        client_id=exchange.client_id,
        token_fingerprint=exchange.token_fingerprint,
    )


def challenge_event(
    exchange: Exchange,
    status: int,
    error: str | None,
    www_authenticate: str,
    scope: str | None,
) -> Event:
    """A 401/403 with the exact ``WWW-Authenticate`` header the client was sent (RFC 6750 §3)."""
    detail = {
        "status": status,
        "error": error,
        "www_authenticate": www_authenticate,
        "scope": scope,
        "tool": exchange.tool,
    }
    said = error or "no token"
    asked = f", scope {scope!r}" if scope else ""
    return event(
        "challenge",
        f"{status} {said}{asked} for {exchange.describe()}",
        detail,
        client_id=exchange.client_id,
        token_fingerprint=exchange.token_fingerprint,
    )


def tool_result_is_error(body: bytes) -> bool:
    """MCP tools §Error Handling: a tool failure is a result with ``isError: true``; a protocol
    failure is a JSON-RPC ``error``. Either is an error for the lab; an unreadable body too."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return True
    if not isinstance(message, dict) or "error" in message:
        return True
    result = message.get("result")
    return not isinstance(result, dict) or result.get("isError") is True


def tool_result_event(exchange: Exchange, body: bytes, at: float) -> Event:
    """Built off the request path: the reporter's task parses the response body sent at ``at``."""
    is_error = tool_result_is_error(body)
    return event(
        "tool-result",
        f"{exchange.tool} → {'error' if is_error else 'ok'}",
        {"tool": exchange.tool, "is_error": is_error},
        client_id=exchange.client_id,
        token_fingerprint=exchange.token_fingerprint,
        at=at,
    )


def probe_applied_event(exchange: Exchange, probe_id: str | None, probe: str, what: str) -> Event:
    return event(
        "probe-applied",
        f"lab probe {probe}: {what}",
        {"probe_id": probe_id, "probe": probe},
        client_id=exchange.client_id,
        token_fingerprint=exchange.token_fingerprint,
    )
