"""The JSON-RPC envelope of an MCP POST, as the scope gate reads it before the SDK does.

Body reading (bounded, 413 past the limit) and replay (the SDK gets the same bytes the gate judged),
parsing (one JSON-RPC object, no duplicate member names), routing (the method and, for
``tools/call``, the tool) and the 2026-07-28 routing-header checks (``Mcp-Method``/``Mcp-Name``
agree with the body). Every refusal is a ``JsonRpcRejection``; ``rejections.py`` turns it into HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mcp.shared.inbound import NAME_BEARING_METHODS, decode_header_value
from starlette.types import Message, Receive

from scoped_tools_server.rejections import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    JsonRpcRejection,
)

SESSION_HEADER = "mcp-session-id"
METHOD_HEADER = "mcp-method"
NAME_HEADER = "mcp-name"
PROTOCOL_VERSION_HEADER = "mcp-protocol-version"
ROUTING_HEADERS = frozenset({METHOD_HEADER, NAME_HEADER, PROTOCOL_VERSION_HEADER})


@dataclass(frozen=True)
class RoutedMessage:
    """What the gate learned from a POST body: the JSON-RPC method and, for tools/call, the tool."""

    method: str | None
    tool: str | None
    request_id: Any


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """RFC 8259 §4 says names SHOULD be unique; parsers disagree on duplicates (first vs last wins),
    so a body like ``{"name": "whoami", "name": "delete_note"}`` could mean one thing to the gate
    and another to the SDK. Refuse it."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def parse_jsonrpc_body(body: bytes) -> dict[str, Any]:
    """JSON-RPC 2.0 §4/§5: one request object per POST. MCP 2025-06-18 removed batching, and
    2026-07-28 requires "a single JSON-RPC request or notification", so an array is refused."""
    try:
        decoded = json.loads(body, object_pairs_hook=_reject_duplicate_keys)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise JsonRpcRejection(
            400, PARSE_ERROR, f"Parse error: the body is not valid JSON ({exc})"
        ) from exc
    if isinstance(decoded, list):
        raise JsonRpcRejection(
            400,
            INVALID_REQUEST,
            "JSON-RPC batches are not accepted: send one JSON-RPC object per POST",
        )
    if not isinstance(decoded, dict):
        raise JsonRpcRejection(400, INVALID_REQUEST, "The body must be one JSON-RPC object")
    return decoded


def route_message(message: dict[str, Any]) -> RoutedMessage:
    """Find the method and, for ``tools/call``, the tool name; refuse shapes that could slip a tool
    past the gate (a non-string method or name, params that are not an object)."""
    request_id = message.get("id")
    method = message.get("method")
    if method is None:
        if "result" in message or "error" in message:
            # A client's response to a server request (2025-11-25 allows POSTing those).
            return RoutedMessage(method=None, tool=None, request_id=request_id)
        raise JsonRpcRejection(
            400, INVALID_REQUEST, "The JSON-RPC object has no method", request_id
        )
    if not isinstance(method, str):
        raise JsonRpcRejection(
            400, INVALID_REQUEST, "The JSON-RPC method must be a string", request_id
        )
    if method != "tools/call":
        return RoutedMessage(method=method, tool=None, request_id=request_id)
    params = message.get("params")
    if not isinstance(params, dict):
        raise JsonRpcRejection(
            400, INVALID_PARAMS, "tools/call params must be an object", request_id
        )
    name = params.get("name")
    if not isinstance(name, str):
        raise JsonRpcRejection(
            400, INVALID_PARAMS, "tools/call params.name must be a string", request_id
        )
    return RoutedMessage(method=method, tool=name, request_id=request_id)


def check_routing_headers(
    raw_headers: Iterable[tuple[bytes, bytes]], message: dict[str, Any]
) -> None:
    """MCP 2026-07-28 transports §Server Validation (SEP-2243): servers that process the body "MUST
    reject requests where the values specified in the headers do not match the corresponding values
    in the request body" (400, HeaderMismatch -32020). Applied whenever the headers are present, in
    either revision; duplicates are refused because first-copy and last-copy readers disagree."""
    seen: dict[str, str] = {}
    request_id = message.get("id")
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        if name in ROUTING_HEADERS:
            if name in seen:
                raise JsonRpcRejection(
                    400, HEADER_MISMATCH, f"{name} header appears more than once", request_id
                )
            seen[name] = raw_value.decode("latin-1")
    method = message.get("method")
    if METHOD_HEADER in seen and seen[METHOD_HEADER] != method:
        raise JsonRpcRejection(
            400, HEADER_MISMATCH, "Mcp-Method header does not match the body's method", request_id
        )
    if NAME_HEADER in seen:
        name_key = NAME_BEARING_METHODS.get(method) if isinstance(method, str) else None
        params = message.get("params")
        body_value = params.get(name_key) if name_key and isinstance(params, dict) else None
        if body_value is None or decode_header_value(seen[NAME_HEADER]) != body_value:
            raise JsonRpcRejection(
                400,
                HEADER_MISMATCH,
                "Mcp-Name header does not match the body's tool name",
                request_id,
            )


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read the whole request body, refusing it (413) as soon as it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise JsonRpcRejection(
                413,
                INVALID_REQUEST,
                f"The request body exceeds {limit} bytes",
                rule="body size limit (max_body_bytes), RFC 9110 §15.5.14",
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the already-read body once, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
