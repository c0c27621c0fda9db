"""The scope gate: ASGI middleware in front of the SDK's Streamable HTTP app.

For every request to the MCP endpoint, in this order (first failure answers):

1. Host and Origin (DNS rebinding) ........................ 421 / 403
2. the bearer token: header only, verified ................ 401 (or 400 invalid_request)
3. the body: at most ``max_body_bytes`` ................... 413
4. the body is one JSON-RPC object whose routing fields
   agree with the ``Mcp-Method``/``Mcp-Name`` headers ....... 400 (JSON-RPC error)
5. the session id, if any, belongs to this principal ...... 404
6. ``tools/call``: the token has the tool's scopes ........ 403 insufficient_scope

Auth runs before anything is streamed (MCP authorization §Token Handling: every request is
validated), so every refusal still has its status line. The body is read here once and replayed
to the SDK byte for byte (``jsonrpc_envelope.py``), so the gate and the SDK judge the same bytes.
Unknown tools pass through to the SDK's own JSON-RPC error.

Every refusal is one log line (``rejections.refusal_line``). With the lab on, what the gate learned
about the request (an ``Exchange``) is handed to the lab reporter without waiting for it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoped_tools_server.caller import attach_caller, benchmark_caller
from scoped_tools_server.jsonrpc_envelope import (
    METHOD_HEADER,
    NAME_HEADER,
    PROTOCOL_VERSION_HEADER,
    SESSION_HEADER,
    RoutedMessage,
    check_routing_headers,
    parse_jsonrpc_body,
    read_body,
    replaying,
    route_message,
)
from scoped_tools_server.lab_journal import (
    Exchange,
    TokenSource,
    challenge_event,
    probe_applied_event,
    token_fingerprint,
)
from scoped_tools_server.lab_probes import INVALID_TOKEN_PROBE, LabProbeToken
from scoped_tools_server.lab_reporter import LabReporter
from scoped_tools_server.rejections import (
    INVALID_REQUEST,
    GateRejection,
    InsufficientScope,
    InvalidAuthRequest,
    InvalidToken,
    JsonRpcRejection,
    MissingToken,
    challenged_scope,
    refusal_line,
    rejection_response,
)
from scoped_tools_server.scopes import challenge_scopes, required_scopes, scopes_satisfied
from scoped_tools_server.settings import ChallengeScope, Settings
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
refusals = logging.getLogger("scoped_tools_server.refusals")

QUERY_TOKEN_PARAMETER = "access_token"
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750 §2.1: ``b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="``."""


def query_token(query_string: bytes) -> str | None:
    """An ``access_token`` query parameter (RFC 6750 §2.3), which this server never accepts."""
    if not query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1")):
        if name == QUERY_TOKEN_PARAMETER:
            return value
    return None


def token_source(headers: Headers, query_string: bytes) -> TokenSource:
    """Where the client put its token, for the lab's ``token-in-header`` rule."""
    if query_token(query_string) is not None:
        return "query"
    return "header" if "authorization" in headers else "none"


def bearer_token(headers: Headers, query_string: bytes) -> str:
    """OAuth 2.1 §5.1 / RFC 6750 §2.1: the token comes from ``Authorization: Bearer`` only.

    MCP authorization §Access Token Usage: "Access tokens MUST NOT be included in the URI query
    string";
    OAuth 2.1 §5.1: resource servers "MUST ignore access tokens in a URI query parameter". We go
    one step further and refuse such a request outright (400 invalid_request) so the mistake is
    visible, and refuse two Authorization headers (OAuth 2.1 §5.1: one method per request).
    """
    if query_token(query_string) is not None:
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
    if B64TOKEN.fullmatch(token) is None:
        raise InvalidToken(MalformedToken("The Authorization header does not carry a bearer token"))
    return token


def principal_of(token: VerifiedToken) -> Principal:
    """Who owns a session: issuer, subject and client (the SDK's ``principal_components``)."""
    return (token.issuer, token.subject, token.client_id)


class ScopeGate:
    """ASGI middleware: decides 401/403/400/404/413/421 before the MCP app sees the request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        verifier: TokenVerifier | None,
        owners: SessionOwners | None = None,
        lab: LabReporter | None = None,
    ) -> None:
        if settings.gate_enabled and verifier is None:
            raise ValueError("the scope gate needs a token verifier")
        self.app = app
        self.settings = settings
        self.verifier = verifier
        self.owners = owners or SessionOwners()
        self.lab = lab
        self.allowed_hosts = allowed_host_set(settings.resource_url, settings.allowed_hosts)
        self.scheme = settings.resource_url.split(":", 1)[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        exchange = exchange_from_headers(scope, headers)
        try:
            body, caller = await self._admit(scope, headers, receive, exchange)
        except (GateRejection, AuthServerUnavailable) as rejection:
            await self._refuse(rejection, exchange, scope, receive, send)
            return
        attach_caller(scope, caller)
        downstream_receive = replaying(body, receive) if body is not None else receive
        downstream_send = self._recording_send(scope, headers, caller, send)
        if self.lab is not None:
            downstream_send = journaling_send(self.lab, exchange, downstream_send)
        await self.app(scope, downstream_receive, downstream_send)

    async def _admit(
        self, scope: Scope, headers: Headers, receive: Receive, exchange: Exchange
    ) -> tuple[bytes | None, VerifiedToken]:
        self._check_transport(headers)
        caller = await self._authenticate(scope, headers, exchange)
        body: bytes | None = None
        routed = RoutedMessage(method=None, tool=None, request_id=None)
        if scope["method"] == "POST":
            body = await read_body(receive, self.settings.max_body_bytes)
            message = parse_jsonrpc_body(body)
            routed = route_message(message)
            exchange.method, exchange.tool = routed.method, routed.tool
            params = message.get("params")
            if routed.method == "initialize" and isinstance(params, dict):
                asked = params.get("protocolVersion")  # 2025-11-25 names it in the body only
                if exchange.protocol_version is None and isinstance(asked, str):
                    exchange.protocol_version = asked
            check_routing_headers(scope["headers"], message)
        self._check_session(headers, caller)
        if self.settings.gate_enabled and routed.tool is not None:
            self._authorize(caller, routed.tool, exchange)
        return body, caller

    def _check_transport(self, headers: Headers) -> None:
        """DNS-rebinding protection (``transport_security``): Host → 421, Origin → 403 (MCP
        transports §Security Warning: "If the Origin header is present and invalid, servers MUST
        respond with HTTP 403 Forbidden")."""
        if not host_is_allowed(headers.get("host"), self.allowed_hosts, self.scheme):
            raise JsonRpcRejection(
                421,
                INVALID_REQUEST,
                "Host header does not name this server",
                rule="DNS-rebinding protection, MCP transports §Security Warning",
            )
        origin = headers.get("origin")
        if not origin_is_allowed(origin, self.settings.resource_url, self.settings.allowed_origins):
            raise JsonRpcRejection(
                403,
                INVALID_REQUEST,
                "Origin is not allowed",
                rule="Origin check, MCP transports §Security Warning",
            )

    async def _authenticate(
        self, scope: Scope, headers: Headers, exchange: Exchange
    ) -> VerifiedToken:
        """MCP authorization §Token Handling: validate the access token on *every* request."""
        if not self.settings.gate_enabled:
            return benchmark_caller()
        assert self.verifier is not None
        query_string = scope.get("query_string", b"")
        exchange.token_in = token_source(headers, query_string)
        try:
            token = bearer_token(headers, query_string)
        except InvalidAuthRequest:
            if exchange.token_in == "query":
                await self._attribute(query_token(query_string) or "", exchange)
            raise
        exchange.token_fingerprint = token_fingerprint(token)
        try:
            caller = await self.verifier.verify(token)
        except TokenRejected as reason:
            exchange.client_id = reason.client_id
            raise InvalidToken(reason) from reason
        exchange.client_id = caller.client_id
        self._apply_invalid_token_probe(exchange)
        return caller

    async def _attribute(self, token: str, exchange: Exchange) -> None:
        """A token sent in the query string is refused unread (RFC 6750 §2.3, OAuth 2.1 §5.1);
        with the lab on it is still checked, only to say *which client* made that mistake."""
        exchange.token_fingerprint = token_fingerprint(token)
        if self.lab is None or self.verifier is None:
            return
        try:
            exchange.client_id = (await self.verifier.verify(token)).client_id
        except TokenRejected as reason:
            exchange.client_id = reason.client_id
        except AuthServerUnavailable:
            pass

    def _apply_invalid_token_probe(self, exchange: Exchange) -> None:
        """Lab probe ``rs-invalid-token``: refuse a good token, to see the client recover."""
        if self.lab is None:
            return
        probe = self.lab.probes.invalid_token_probe(exchange.client_id)
        if probe is not None:
            what = "answered 401 invalid_token to a valid token" + (" (once)" if probe.once else "")
            self.lab.record(probe_applied_event(exchange, probe.id, INVALID_TOKEN_PROBE, what))
            raise InvalidToken(LabProbeToken(client_id=exchange.client_id))

    def _check_session(self, headers: Headers, caller: VerifiedToken) -> None:
        """Session hijacking (MCP 2025-11-25 security best practices §Session Hijacking): a session
        id presented with another principal's token is answered exactly like an unknown session —
        404 "Session not found" (transports §Session Management) — so the response does not confirm
        that the id exists, and the client's recovery (start a new session) is the right one."""
        session_id = headers.get(SESSION_HEADER)
        if session_id is not None and not self.owners.may_use(session_id, principal_of(caller)):
            raise JsonRpcRejection(
                404,
                INVALID_REQUEST,
                "Session not found",
                rule="session unknown, expired or another principal's, MCP security best "
                "practices §Session Hijacking",
            )

    def _challenge_scope(self) -> tuple[ChallengeScope, str | None]:
        """The 403 mode: the startup ``--challenge-scope``, unless a lab probe switched it."""
        if self.lab is None:
            return self.settings.challenge_scope, None
        return self.lab.probes.challenge_scope()

    def _authorize(self, caller: VerifiedToken, tool: str, exchange: Exchange) -> None:
        """MCP authorization §Runtime Insufficient Scope Errors: a tool whose scopes the token
        lacks → 403 naming the scopes (``operation``: the tool's; ``cumulative``: granted ∪
        required)."""
        needed = required_scopes(tool)
        if needed is None or scopes_satisfied(caller.scopes, needed):
            return  # unknown tools go on to the SDK's JSON-RPC error
        mode, probe = self._challenge_scope()
        if probe is not None and self.lab is not None:
            what = f"403 challenge built in {mode.value} mode"
            self.lab.record(probe_applied_event(exchange, None, probe, what))
        challenged = challenge_scopes(mode.value, caller.scopes, needed)
        raise InsufficientScope(tool, needed, challenged)

    async def _refuse(
        self,
        rejection: GateRejection | AuthServerUnavailable,
        exchange: Exchange,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Answer, log one line, and tell the lab (status, and the exact challenge sent)."""
        response = rejection_response(rejection, self.settings.resource_metadata_url)
        if refusals.isEnabledFor(logging.INFO):
            refusals.info(refusal_line(rejection, response.status_code, exchange))
        if self.lab is not None:
            self.lab.record_request(exchange, response.status_code)
            challenge = response.headers.get("www-authenticate")
            if challenge is not None and response.status_code in (401, 403):
                error, scope_asked = challenged_scope(rejection)
                self.lab.record(
                    challenge_event(exchange, response.status_code, error, challenge, scope_asked)
                )
        await response(scope, receive, send)

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


def exchange_from_headers(scope: Scope, headers: Headers) -> Exchange:
    """What is known before the body is read (``Mcp-Method``/``Mcp-Name`` name the call in the
    2026-07-28 revision, so even a 401 can say which tool was asked for)."""
    method = headers.get(METHOD_HEADER)
    session = headers.get(SESSION_HEADER)
    return Exchange(
        http_method=scope["method"],
        method=method,
        tool=headers.get(NAME_HEADER) if method == "tools/call" else None,
        protocol_version=headers.get(PROTOCOL_VERSION_HEADER),
        session=token_fingerprint(session) if session is not None else None,
    )


def journaling_send(lab: LabReporter, exchange: Exchange, send: Send) -> Send:
    """Tell the lab the response status (and a new session), and hand it a tool call's result
    body to read later. Only appends to the reporter's queue: the response is never held up."""
    chunks: list[bytes] = []
    status = 0

    async def send_and_journal(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            if exchange.session is None:
                for name, value in message.get("headers", []):
                    if name.lower() == SESSION_HEADER.encode():
                        exchange.session = token_fingerprint(value.decode("latin-1"))
            lab.record_request(exchange, status)
        elif message["type"] == "http.response.body" and exchange.tool is not None:
            if status == 200:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    lab.record_tool_result(exchange, b"".join(chunks))
        await send(message)

    return send_and_journal
