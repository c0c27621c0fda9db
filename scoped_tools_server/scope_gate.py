"""The scope gate: ASGI middleware in front of the SDK's Streamable HTTP app.

For every request to the MCP endpoint, in this order (first failure answers):

1. Host and Origin (DNS rebinding) ........................ 421 / 403
2. the bearer token: header only, verified ................ 401 (or 400 invalid_request)
3. the body: at most ``max_body_bytes`` ................... 413
4. the body is one JSON-RPC object whose routing fields
   agree with the ``Mcp-Method``/``Mcp-Name`` headers ....... 400 (JSON-RPC error)
5. the session id, if any, belongs to this principal ...... 404
6. ``tools/call``: the token has the tool's scopes ........ 403 insufficient_scope

Auth runs before anything is streamed (checklist B-35), so every refusal still has its status
line. The body is read here once and replayed to the SDK byte for byte, so the gate and the SDK
judge the same bytes. Unknown tools pass through to the SDK's own JSON-RPC error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from mcp.shared.inbound import NAME_BEARING_METHODS, decode_header_value
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoped_tools_server.caller import attach_caller, benchmark_caller
from scoped_tools_server.rejections import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    GateRejection,
    InsufficientScope,
    InvalidAuthRequest,
    InvalidToken,
    JsonRpcRejection,
    MissingToken,
    rejection_response,
)
from scoped_tools_server.scopes import challenge_scopes, required_scopes, scopes_satisfied
from scoped_tools_server.settings import Settings
from scoped_tools_server.token_errors import AuthServerUnavailable, MalformedToken, TokenRejected
from scoped_tools_server.token_verification import TokenVerifier, VerifiedToken
from scoped_tools_server.transport_security import (
    Principal,
    SessionOwners,
    allowed_host_set,
    host_is_allowed,
    origin_is_allowed,
)

logger = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"
METHOD_HEADER = "mcp-method"
NAME_HEADER = "mcp-name"
ROUTING_HEADERS = frozenset({METHOD_HEADER, NAME_HEADER, "mcp-protocol-version"})
_B64TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")


@dataclass(frozen=True)
class RoutedMessage:
    """What the gate learned from a POST body: the JSON-RPC method and, for tools/call, the tool."""

    method: str | None
    tool: str | None
    request_id: Any


def bearer_token(headers: Headers, query_string: bytes) -> str:
    """OAuth 2.1 §5.1 / RFC 6750 §2.1: the token comes from ``Authorization: Bearer`` only.

    MCP D-IDX §Token Requirements: "Access tokens MUST NOT be included in the URI query string";
    OAuth 2.1 §5.1: resource servers "MUST ignore access tokens in a URI query parameter". We go
    one step further and refuse such a request outright (400 invalid_request) so the mistake is
    visible, and refuse two Authorization headers (checklist B-12: one method only).
    """
    if any(name == "access_token" for name, _ in parse_qsl(query_string.decode("latin-1"))):
        raise InvalidAuthRequest(
            "Access tokens are accepted only in the Authorization header, never in the query "
            "string (OAuth 2.1 section 5.1)"
        )
    values = headers.getlist("authorization")
    if len(values) > 1:
        raise InvalidAuthRequest("Send exactly one Authorization header")
    if not values:
        raise MissingToken()
    scheme, _, credentials = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":  # the scheme name is case-insensitive (OAuth 2.1 §5.1.1)
        raise MissingToken()
    token = credentials.strip()
    if not token or not set(token) <= _B64TOKEN_CHARS:
        # RFC 6750 §2.1 b64token syntax.
        raise InvalidToken(MalformedToken("The Authorization header does not carry a bearer token"))
    return token


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


def principal_of(token: VerifiedToken) -> Principal:
    """Who owns a session: issuer, subject and client (the SDK's ``principal_components``)."""
    return (token.issuer, token.subject, token.client_id)


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
            raise JsonRpcRejection(413, INVALID_REQUEST, f"The request body exceeds {limit} bytes")
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


class ScopeGate:
    """ASGI middleware: decides 401/403/400/404/413/421 before the MCP app sees the request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        verifier: TokenVerifier | None,
        owners: SessionOwners | None = None,
    ) -> None:
        if settings.gate_enabled and verifier is None:
            raise ValueError("the scope gate needs a token verifier")
        self.app = app
        self.settings = settings
        self.verifier = verifier
        self.owners = owners or SessionOwners()
        self.allowed_hosts = allowed_host_set(settings.resource_url, settings.allowed_hosts)
        self.scheme = settings.resource_url.split(":", 1)[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            body, caller = await self._admit(scope, headers, receive)
        except (GateRejection, AuthServerUnavailable) as rejection:
            response = rejection_response(rejection, self.settings.resource_metadata_url)
            await response(scope, receive, send)
            return
        attach_caller(scope, caller)
        downstream_receive = replaying(body, receive) if body is not None else receive
        await self.app(
            scope, downstream_receive, self._recording_send(scope, headers, caller, send)
        )

    async def _admit(
        self, scope: Scope, headers: Headers, receive: Receive
    ) -> tuple[bytes | None, VerifiedToken]:
        self._check_transport(headers)
        caller = await self._authenticate(scope, headers)
        body: bytes | None = None
        routed = RoutedMessage(method=None, tool=None, request_id=None)
        if scope["method"] == "POST":
            body = await read_body(receive, self.settings.max_body_bytes)
            message = parse_jsonrpc_body(body)
            routed = route_message(message)
            check_routing_headers(scope["headers"], message)
        self._check_session(headers, caller)
        if self.settings.gate_enabled and routed.tool is not None:
            self._authorize(caller, routed.tool)
        return body, caller

    def _check_transport(self, headers: Headers) -> None:
        """DNS-rebinding protection (``transport_security``): Host → 421, Origin → 403 (MCP
        transports §Security Warning: "If the Origin header is present and invalid, servers MUST
        respond with HTTP 403 Forbidden")."""
        if not host_is_allowed(headers.get("host"), self.allowed_hosts, self.scheme):
            raise JsonRpcRejection(421, INVALID_REQUEST, "Host header does not name this server")
        origin = headers.get("origin")
        if not origin_is_allowed(origin, self.settings.resource_url, self.settings.allowed_origins):
            raise JsonRpcRejection(403, INVALID_REQUEST, "Origin is not allowed")

    async def _authenticate(self, scope: Scope, headers: Headers) -> VerifiedToken:
        """MCP D-IDX §Token Handling: validate the access token on *every* request.

        Checklist B-13, B-27."""
        if not self.settings.gate_enabled:
            return benchmark_caller()
        assert self.verifier is not None
        token = bearer_token(headers, scope.get("query_string", b""))
        try:
            return await self.verifier.verify(token)
        except TokenRejected as reason:
            logger.info("refused an access token: %s", reason.description)
            raise InvalidToken(reason) from reason

    def _check_session(self, headers: Headers, caller: VerifiedToken) -> None:
        """Session hijacking (MCP 2025-11-25 security best practices §Session Hijacking): a session
        id presented with another principal's token is answered exactly like an unknown session —
        404 "Session not found" (transports §Session Management) — so the response does not confirm
        that the id exists, and the client's recovery (start a new session) is the right one."""
        session_id = headers.get(SESSION_HEADER)
        if session_id is not None and not self.owners.may_use(session_id, principal_of(caller)):
            logger.info(
                "refused session %s: unknown, expired or another principal's", session_id[:16]
            )
            raise JsonRpcRejection(404, INVALID_REQUEST, "Session not found")

    def _authorize(self, caller: VerifiedToken, tool: str) -> None:
        """MCP D-IDX §Runtime Insufficient Scope Errors: a tool whose scopes the token lacks → 403
        naming the scopes (``operation``: the tool's; ``cumulative``: granted ∪ required)."""
        needed = required_scopes(tool)
        if needed is None or scopes_satisfied(caller.scopes, needed):
            return  # unknown tools go on to the SDK's JSON-RPC error
        challenged = challenge_scopes(self.settings.challenge_scope.value, caller.scopes, needed)
        raise InsufficientScope(tool, needed, challenged)

    def _recording_send(
        self, scope: Scope, headers: Headers, caller: VerifiedToken, send: Send
    ) -> Send:
        """Watch the SDK's response: a new ``Mcp-Session-Id`` is recorded as owned by ``caller``;
        a successful DELETE forgets the session."""
        presented = headers.get(SESSION_HEADER)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                if presented is None:
                    for name, value in message.get("headers", []):
                        if name.lower() == SESSION_HEADER.encode():
                            self.owners.record(value.decode("latin-1"), principal_of(caller))
                elif scope["method"] == "DELETE":
                    self.owners.forget(presented)
            elif presented is not None:
                self.owners.touch(presented)  # a long-lived stream keeps its session alive
            await send(message)

        return recording_send
