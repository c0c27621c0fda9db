"""Every way the gate refuses a request, as typed exceptions, and THE one place they become HTTP.

Auth failures speak OAuth (RFC 6750 §3 challenges, OAuth error JSON); transport and envelope
failures speak JSON-RPC (an error object with ``id: null`` when no request id is known), which is
what MCP clients parse on those paths (MCP transports §Security Warning, §Sending Messages).

Each refusal is also one log line (``refusal_line``): the status, the rule with its spec section,
why, and who (client and token fingerprint, never the token).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from scoped_tools_server import challenges
from scoped_tools_server.scopes import ENTRY_SCOPE, format_scope
from scoped_tools_server.token_errors import AuthServerUnavailable, TokenRejected

if TYPE_CHECKING:
    from scoped_tools_server.lab_journal import Exchange

# JSON-RPC 2.0 §5.1 codes, and MCP 2026-07-28's HeaderMismatch (SEP-2243).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020


class GateRejection(Exception):
    """Base class: the request does not reach the MCP app."""


class MissingToken(GateRejection):
    """No ``Authorization: Bearer`` credentials at all (RFC 6750 §3.1: no error code)."""

    rule = "RFC 6750 §3.1 no credentials (challenge without an error code), RFC 9728 §5.1"


class InvalidToken(GateRejection):
    """A bearer token was presented and refused; wraps the ``TokenRejected`` reason."""

    def __init__(self, reason: TokenRejected) -> None:
        self.reason = reason
        self.rule = reason.rule
        super().__init__(reason.description)


class InvalidAuthRequest(GateRejection):
    """RFC 6750 §3.1 ``invalid_request``: credentials sent the wrong way."""

    rule = "RFC 6750 §3.1 invalid_request, OAuth 2.1 §5.1 (header only, one method)"

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


class InsufficientScope(GateRejection):
    """A valid token lacks the called tool's scopes (RFC 6750 §3.1 ``insufficient_scope``)."""

    rule = "RFC 6750 §3.1 insufficient_scope, MCP authorization §Runtime Insufficient Scope Errors"

    def __init__(self, tool: str, required: tuple[str, ...], challenged: frozenset[str]) -> None:
        self.tool = tool
        self.required = required
        self.challenged = challenged
        self.description = f"{tool} requires {format_scope(required)}"
        super().__init__(self.description)


class JsonRpcRejection(GateRejection):
    """A body or routing-header defect, answered as a JSON-RPC error with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        request_id: Any = None,
        *,
        rule: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.rule = rule or JSONRPC_RULES.get(code, "JSON-RPC 2.0 §5")
        super().__init__(message)


JSONRPC_RULES = {
    PARSE_ERROR: "JSON-RPC 2.0 §5.1 parse error",
    INVALID_REQUEST: "JSON-RPC 2.0 §4 one request object (MCP transports §Sending Messages)",
    INVALID_PARAMS: "JSON-RPC 2.0 §5.1 invalid params (tools/call)",
    HEADER_MISMATCH: "MCP transports §Server Validation (routing headers match the body)",
}
AS_UNAVAILABLE_RULE = (
    "the token cannot be checked now: 503, not 401 (RFC 6750 §3.1 invalid_token would send the "
    "client to authorize again for nothing)"
)


def jsonrpc_error_body(code: int, message: str, request_id: Any = None) -> bytes:
    """JSON-RPC 2.0 §5: ``id`` is null when it could not be determined."""
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        request_id = None
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return json.dumps(body).encode()


def _json(
    status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
) -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def rejection_response(rejection: Exception, resource_metadata_url: str) -> Response:
    """Map a rejection to its HTTP response. The only place statuses and challenges are chosen."""
    prm = resource_metadata_url
    if isinstance(rejection, MissingToken):
        # RFC 6750 §3 + RFC 9728 §5.1 + MCP Authorization (2026-07-28) §Scope Selection Strategy.
        header = challenges.missing_token_challenge(prm)
        body = {
            "error_description": "This MCP server needs an OAuth access token in the "
            "Authorization header; see resource_metadata",
            "resource_metadata": prm,
            "scope": ENTRY_SCOPE,
        }
        return _json(401, body, {"WWW-Authenticate": header})
    if isinstance(rejection, InvalidToken):
        # OAuth 2.1 §5.3.2 / RFC 6750 §3.1: invalid or expired tokens get 401 invalid_token.
        description = rejection.reason.description
        header = challenges.invalid_token_challenge(prm, description)
        body = {
            "error": "invalid_token",
            "error_description": challenges.description_value(description),
        }
        return _json(401, body, {"WWW-Authenticate": header})
    if isinstance(rejection, InvalidAuthRequest):
        header = challenges.invalid_request_challenge(prm, rejection.description)
        body = {"error": "invalid_request", "error_description": rejection.description}
        return _json(400, body, {"WWW-Authenticate": header})
    if isinstance(rejection, InsufficientScope):
        # MCP Authorization (2026-07-28) §Runtime Insufficient Scope Errors: 403 + challenge,
        # and the same error as a JSON body for clients that read bodies rather than headers.
        header = challenges.insufficient_scope_challenge(
            prm, rejection.challenged, rejection.description
        )
        body = {
            "error": "insufficient_scope",
            "error_description": challenges.description_value(rejection.description),
            "scope": challenges.scope_value(rejection.challenged),
            "resource_metadata": prm,
        }
        return _json(403, body, {"WWW-Authenticate": header})
    if isinstance(rejection, JsonRpcRejection):
        body_bytes = jsonrpc_error_body(rejection.code, rejection.message, rejection.request_id)
        return _json(rejection.status, body_bytes)
    if isinstance(rejection, AuthServerUnavailable):
        body = {
            "error": "temporarily_unavailable",
            "error_description": "The authorization server could not be reached to check the "
            "access token; try again shortly",
        }
        return _json(503, body, {"Retry-After": "5"})
    raise TypeError(f"not a rejection: {rejection!r}")


def challenged_scope(rejection: Exception) -> tuple[str | None, str | None]:
    """The OAuth ``error`` and the ``scope`` a 401/403 challenge names (for the lab's event)."""
    if isinstance(rejection, MissingToken):
        return None, ENTRY_SCOPE
    if isinstance(rejection, InvalidToken):
        return "invalid_token", ENTRY_SCOPE
    if isinstance(rejection, InsufficientScope):
        return "insufficient_scope", challenges.scope_value(rejection.challenged)
    return None, None


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def _why(rejection: Exception) -> str:
    if isinstance(rejection, MissingToken):
        return f"no access token; the challenge names resource_metadata and scope {ENTRY_SCOPE!r}"
    if isinstance(rejection, InvalidToken):
        return f"invalid_token: {rejection.reason.description}"
    if isinstance(rejection, InvalidAuthRequest):
        return f"invalid_request: {rejection.description}"
    if isinstance(rejection, InsufficientScope):
        scope = challenges.scope_value(rejection.challenged)
        return f"insufficient_scope: {rejection.description}; the challenge asks for {scope!r}"
    if isinstance(rejection, JsonRpcRejection):
        return f"JSON-RPC error {rejection.code}: {rejection.message}"
    return "the authorization server could not be reached to check the token"


def refusal_line(rejection: Exception, status: int, exchange: Exchange) -> str:
    """``refused POST tools/call create_note from client 'c1' (token sha256:…): 403
    insufficient_scope: … [rule]``, one line whatever a client put in its request."""
    who = f"client {exchange.client_id!r}" if exchange.client_id else "an unidentified client"
    if exchange.token_fingerprint:
        who += f" (token {exchange.token_fingerprint}, {exchange.token_in})"
    if exchange.session:
        who += f" on session {exchange.session}"
    rule = getattr(rejection, "rule", AS_UNAVAILABLE_RULE)
    line = f"refused {exchange.describe()} from {who}: {status} {_why(rejection)} [{rule}]"
    return _UNPRINTABLE.sub("?", line)[:1000]
