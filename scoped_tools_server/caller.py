"""How a tool learns who is calling: the gate attaches the verified token to the ASGI scope.

The SDK hands every tool handler the Starlette ``Request`` of the HTTP message that carried the
call (``ctx.request_context.request``), in both protocol revisions. The gate puts:

- ``scope["scoped_tools.caller"]``: our ``VerifiedToken`` (what the tools read);
- ``scope["user"]`` / ``scope["auth"]``: the SDK's ``AuthenticatedUser`` and Starlette
  ``AuthCredentials``, so the SDK's own session-ownership check (``StreamableHTTPSessionManager``)
  sees the same principal as ours — defence in depth for session binding.

A contextvar would not work here: in 2025-11-25 sessions the tool runs in the session's task,
not in the task of the HTTP request.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials

from scoped_tools_server.scopes import scopes_supported
from scoped_tools_server.token_verification import VerifiedToken

CALLER_SCOPE_KEY = "scoped_tools.caller"
BENCHMARK_SUBJECT = "anonymous-benchmark"


def attach_caller(scope: dict[str, Any], token: VerifiedToken) -> None:
    """Record the verified caller on the ASGI scope that the MCP app will see."""
    scope[CALLER_SCOPE_KEY] = token
    access_token = AccessToken(
        token=token.token_id or "",  # never the bearer string itself: nothing downstream needs it
        client_id=token.client_id,
        scopes=sorted(token.scopes),
        expires_at=token.expires_at,
        resource=token.audience[0] if token.audience else None,
        subject=token.subject,
        claims={"iss": token.issuer},
    )
    scope["user"] = AuthenticatedUser(access_token)
    scope["auth"] = AuthCredentials(sorted(token.scopes))


def benchmark_caller() -> VerifiedToken:
    """The fixed identity tools run as when the gate is disabled (benchmarks only)."""
    return VerifiedToken(
        subject=BENCHMARK_SUBJECT,
        client_id=BENCHMARK_SUBJECT,
        scopes=frozenset(scopes_supported()),
        expires_at=0,
        issuer="",
        audience=(),
    )


def caller_from_request(request: Any) -> VerifiedToken:
    """The ``VerifiedToken`` the gate attached; refuses to run a tool without one."""
    scope = getattr(request, "scope", None)
    token = scope.get(CALLER_SCOPE_KEY) if isinstance(scope, dict) else None
    if not isinstance(token, VerifiedToken):
        raise PermissionError("no verified caller on this request (the scope gate did not run)")
    return token
