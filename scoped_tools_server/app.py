"""``create_app(settings)``: the resource server as one Starlette app.

- ``<resource path>`` (``/mcp``): the SDK's Streamable HTTP app behind the scope gate. One session
  manager serves both protocol revisions: requests whose ``MCP-Protocol-Version`` header names a
  2026-07-28-era version take the SDK's stateless per-request path (no ``initialize``, no
  ``Mcp-Session-Id``, ``Mcp-Method``/``Mcp-Name`` headers); everything else takes the
  2025-11-25 session path (``initialize`` → ``Mcp-Session-Id``).
- the PRM documents (``prm.py``), ``/health`` and ``/`` (``front_page.py``, what this server is
  and where its endpoints are): no authentication.
- with ``lab_report`` on (the default), a ``LabReporter`` task that sends the gate's and the PRM
  routes' events to the AS's lab and brings back its RS-side probes (``lab_reporter.py``).

No network I/O here: the AS's keys are fetched on first use, so the RS can start before the AS.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scoped_tools_server.front_page import front_page_route
from scoped_tools_server.introspection import IntrospectionTokenVerifier
from scoped_tools_server.jwks import JwksCache
from scoped_tools_server.lab_probes import LabProbes
from scoped_tools_server.lab_reporter import LabReporter
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


def build_lab_reporter(settings: Settings) -> LabReporter | None:
    """The lab journal's reporter, or None with ``lab_report`` off."""
    if not settings.lab_report:
        return None
    secret = settings.lab_secret.get_secret_value() if settings.lab_secret else None
    return LabReporter(
        as_base_url=settings.as_base_url,
        resource=settings.resource_url,
        probes=LabProbes(settings.challenge_scope),
        secret=secret,
        secret_file=settings.lab_secret_file,
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
    lab = build_lab_reporter(settings)
    gate = ScopeGate(sdk_app, settings=settings, verifier=verifier, lab=lab)

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
            async with mcp.session_manager.run(), anyio.create_task_group() as tasks:
                if lab is not None:
                    tasks.start_soon(lab.run)
                yield
                tasks.cancel_scope.cancel()
        finally:
            store.close()
            if isinstance(verifier, IntrospectionTokenVerifier):
                await verifier.aclose()

    routes: list[Any] = [
        Route("/health", health, methods=["GET"]),
        *prm_routes(settings, lab),
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
    app.state.lab = lab
    return app
