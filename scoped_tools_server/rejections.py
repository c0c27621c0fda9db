"""Every way the gate refuses a request, as typed exceptions, and THE one place they become HTTP.

Auth failures speak OAuth (RFC 6750 §3 challenges, OAuth error JSON); transport and envelope
failures speak JSON-RPC (an error object with ``id: null`` when no request id is known), which is
what MCP clients parse on those paths (MCP transports §Security Warning, §Sending Messages).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from scoped_tools_server import challenges
from scoped_tools_server.scopes import ENTRY_SCOPE, format_scope
from scoped_tools_server.token_errors import AuthServerUnavailable, TokenRejected

# JSON-RPC 2.0 §5.1 codes, and MCP 2026-07-28's HeaderMismatch (SEP-2243).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020


class GateRejection(Exception):
    """Base class: the request does not reach the MCP app."""


class MissingToken(GateRejection):
    """No ``Authorization: Bearer`` credentials at all (RFC 6750 §3.1: no error code)."""


class InvalidToken(GateRejection):
    """A bearer token was presented and refused; wraps the ``TokenRejected`` reason."""

    def __init__(self, reason: TokenRejected) -> None:
        self.reason = reason
        super().__init__(reason.description)


class InvalidAuthRequest(GateRejection):
    """RFC 6750 §3.1 ``invalid_request``: credentials sent the wrong way."""

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


class InsufficientScope(GateRejection):
    """A valid token lacks the called tool's scopes (RFC 6750 §3.1 ``insufficient_scope``)."""

    def __init__(self, tool: str, required: tuple[str, ...], challenged: frozenset[str]) -> None:
        self.tool = tool
        self.required = required
        self.challenged = challenged
        self.description = f"{tool} requires {format_scope(required)}"
        super().__init__(self.description)


class JsonRpcRejection(GateRejection):
    """A body or routing-header defect, answered as a JSON-RPC error with an HTTP status."""

    def __init__(self, status: int, code: int, message: str, request_id: Any = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        super().__init__(message)


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
        # RFC 6750 §3 + RFC 9728 §5.1 + MCP D-IDX §Scope Selection Strategy (checklist B-10, B-11).
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
        # MCP D-IDX §Runtime Insufficient Scope Errors (checklist B-20..B-24): 403 + challenge,
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
