"""``create_app(settings)``: the resource server as one Starlette app.

- ``<resource path>`` (``/mcp``): the SDK's Streamable HTTP app behind the scope gate. One session
  manager serves both protocol revisions: requests whose ``MCP-Protocol-Version`` header names a
  2026-07-28-era version take the SDK's stateless per-request path (no ``initialize``, no
  ``Mcp-Session-Id``, ``Mcp-Method``/``Mcp-Name`` headers); everything else takes the
  2025-11-25 session path (``initialize`` → ``Mcp-Session-Id``).
- the PRM documents (``prm.py``), ``/health`` and ``/`` (``front_page.py``, what this server is
  and where its endpoints are): no authentication.

No network I/O here: the AS's keys are fetched on first use, so the RS can start before the AS.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scoped_tools_server.front_page import front_page_route
from scoped_tools_server.introspection import IntrospectionTokenVerifier
from scoped_tools_server.jwks import JwksCache
from scoped_tools_server.prm import prm_routes
from scoped_tools_server.scope_gate import ScopeGate
from scoped_tools_server.settings import Settings, TokenCheck
from scoped_tools_server.store import NoteStore
from scoped_tools_server.token_verification import JwtTokenVerifier, TokenVerifier
from scoped_tools_server.tools import build_mcp_server
from scoped_tools_server.transport_security import MAX_SESSIONS, SESSION_IDLE_TIMEOUT_SECONDS

logger = logging.getLogger(__name__)

GATE_DISABLED_WARNING = (
    "SCOPED-TOOLS-SERVER IS RUNNING WITHOUT ITS AUTH GATE (gate_enabled=false). Every request is "
    "served as the fixed subject 'anonymous-benchmark' with every scope. This switch exists for "
    "benchmarks only; never expose this server."
)


def build_token_verifier(settings: Settings) -> TokenVerifier:
    """``--token-check jwt`` (local JWKS verification) or ``introspect`` (RFC 7662 per request)."""
    if settings.token_check is TokenCheck.introspect:
        assert settings.introspection_secret is not None  # enforced by Settings
        return IntrospectionTokenVerifier(
            issuer=settings.auth_server,
            as_base_url=settings.as_base_url,
            secret=settings.introspection_secret.get_secret_value(),
            resource_url=settings.resource_url,
            leeway=settings.clock_leeway_seconds,
        )
    keys = JwksCache(
        settings.auth_server,
        settings.as_base_url,
        min_refetch_seconds=settings.jwks_min_refetch_seconds,
    )
    return JwtTokenVerifier(
        keys,
        issuer=settings.auth_server,
        resource_url=settings.resource_url,
        leeway=settings.clock_leeway_seconds,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """The resource server app; serve it with lifespan enabled (uvicorn does)."""
    settings = settings or Settings()
    store = NoteStore(settings.database_url)
    mcp = build_mcp_server(store)
    # DNS-rebinding checks are done by the gate (with the resource URL's exact host:port), so the
    # SDK's own wildcard-port variant is switched off rather than configured twice.
    sdk_app = mcp.streamable_http_app(
        streamable_http_path=settings.resource_path,
        json_response=True,
        max_request_body_size=settings.max_body_bytes,
        session_idle_timeout=SESSION_IDLE_TIMEOUT_SECONDS,
        max_sessions=MAX_SESSIONS,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    verifier = build_token_verifier(settings) if settings.gate_enabled else None
    gate = ScopeGate(sdk_app, settings=settings, verifier=verifier)

    async def health(request: Request) -> Response:
        """200 when the notes database answers; the AS is not needed to be healthy."""
        if store.is_healthy():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable", "reason": "notes database"}, status_code=503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not settings.gate_enabled:
            logger.warning(GATE_DISABLED_WARNING)
        store.open()
        try:
            async with mcp.session_manager.run():
                yield
        finally:
            store.close()
            if isinstance(verifier, IntrospectionTokenVerifier):
                await verifier.aclose()

    routes: list[Any] = [
        Route("/health", health, methods=["GET"]),
        *prm_routes(settings),
        Route(settings.resource_path, gate, methods=["GET", "POST", "DELETE"]),
    ]
    if settings.resource_path != "/":
        routes.append(front_page_route(settings))
    app = Starlette(routes=routes, lifespan=lifespan)
    # The resource is exactly ``/mcp``: no 307 from ``/mcp/`` (its Location would be built from the
    # client-sent Host header, before the gate has checked it).
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.store = store
    app.state.gate = gate
    return app
