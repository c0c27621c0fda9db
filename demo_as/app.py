"""The FastAPI application factory of the demo authorization server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI

from demo_as import (
    authorization,
    authorize_endpoint,
    dashboard,
    introspection,
    metadata,
    registration,
    revocation,
    tokens,
)
from demo_as.cimd_clients import DocumentClients
from demo_as.db import create_db_engine, create_event_loop_reader
from demo_as.errors import install_error_handlers
from demo_as.form_endpoints import FormEndpoint
from demo_as.form_lane import FormLane
from demo_as.housekeeping import PURGE_INTERVAL, PeriodicPurge
from demo_as.key_cache import VerificationKeys
from demo_as.keys import load_or_create_signing_key
from demo_as.lab import api as lab_api
from demo_as.lab import pages as lab_pages
from demo_as.lab.errors import LabError
from demo_as.lab.recorder import log_new_failures
from demo_as.lab.runtime import create_lab_runtime
from demo_as.loop_writes import create_event_loop_writer
from demo_as.middleware import BodySizeLimit, SecurityHeaders
from demo_as.pages import Pages
from demo_as.private_files import private_directory
from demo_as.registration_bounds import RegistrationRate
from demo_as.revocation_reads import EventLoopRevocationReads
from demo_as.settings import Settings
from demo_as.verified_tokens import VerifiedTokens

# Plain Starlette routes (form_endpoints.py); /openapi.json documents them as FastAPI would.
FORM_ENDPOINTS: tuple[FormEndpoint, ...] = (
    tokens.ENDPOINT,
    revocation.ENDPOINT,
    introspection.ENDPOINT,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: open the database and load (or create) the signing key.

    No network I/O happens here. The engine is disposed when the app's lifespan ends.
    """
    settings = settings or Settings()
    if not settings.database_url:
        private_directory(settings.data_dir)  # the default SQLite database and the key live here
    engine = create_db_engine(settings.effective_database_url, settings.sqlite_synchronous.value)
    reader = create_event_loop_reader(
        settings.effective_database_url, settings.sqlite_synchronous.value
    )
    # With SQLite, /introspect's revocation read has a connection of its own (revocation_reads.py).
    revocation_engine = create_event_loop_reader(
        settings.effective_database_url, settings.sqlite_synchronous.value
    )
    revocation_reads = EventLoopRevocationReads(revocation_engine) if revocation_engine else None
    writer = create_event_loop_writer(
        settings.effective_database_url, settings.sqlite_synchronous.value, engine
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if app.state.lab is not None:
            app.state.lab.close()  # queued events stored; no lab thread uses the engine after
        engine.dispose()
        if reader is not None:
            reader.dispose()
        if revocation_reads is not None:
            revocation_reads.close()
        if writer is not None:
            writer.dispose()

    app = FastAPI(
        title="demo_as",
        summary="Hardened demo OAuth 2.1 authorization server for MCP (not for production)",
        version="0.1.0",
        lifespan=lifespan,
        # Swagger UI needs scripts from a CDN, which our CSP (and offline workshops) forbid.
        docs_url=None,
        redoc_url=None,
        # FastAPI's OpenTelemetry layer asks the OpenTelemetry API for its providers on every
        # request (environment lookups) to learn that none is configured: 4 % of an
        # introspection's CPU (bench/profiling.md §6). The AS exports no telemetry.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.event_loop_reader = reader
    app.state.event_loop_writer = writer
    app.state.signing_key = load_or_create_signing_key(engine)
    app.state.verification_keys = VerificationKeys()
    app.state.verified_tokens = VerifiedTokens()
    app.state.revocation_reads = revocation_reads
    app.state.pages = Pages()
    app.state.document_clients = DocumentClients(settings, engine)
    app.state.registration_rate = RegistrationRate(settings.registration_rate_per_minute)
    app.state.periodic_purge = PeriodicPurge(engine, settings.unused_client_ttl, PURGE_INTERVAL)
    app.state.lab = create_lab_runtime(settings, engine)
    if app.state.lab is not None:
        app.state.lab.grader.grade = partial(log_new_failures, app.state.lab)
    # First in the routing table: a request is matched against the routes in order.
    form_routes = [endpoint.route() for endpoint in FORM_ENDPOINTS]
    app.router.routes[:0] = form_routes
    # /register and /authorize: plain routes too; their FastAPI routes stay for /openapi.json.
    app.router.routes[:0] = [registration.ROUTE, authorize_endpoint.ROUTE]
    for module in (metadata, registration, authorization, dashboard):
        app.include_router(module.router)
    if app.state.lab is not None:
        app.include_router(lab_api.router)
        app.include_router(lab_pages.router)
    install_error_handlers(app)
    app.add_exception_handler(LabError, lab_api.lab_error_response)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.openapi = lambda: oauth_openapi(app)  # type: ignore[method-assign]
    # Built on the first request, with every handler and middleware added by then (form_lane.py).
    usual_stack = app.build_middleware_stack
    lane_routes = [*form_routes, registration.ROUTE, authorize_endpoint.ROUTE]
    lane = lambda: FormLane(app, usual_stack(), lane_routes)  # noqa: E731
    app.build_middleware_stack = lane  # type: ignore[method-assign]
    return app


def oauth_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the form endpoints described as FastAPI routes would be, and
    without FastAPI's default 422 responses: validation errors are answered as OAuth 400s
    (errors.py), so documenting 422 would be a lie."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    documented = [endpoint.documented_route() for endpoint in FORM_ENDPOINTS]
    routes = [*app.routes, *documented]
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=routes)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            responses.setdefault("400", {"description": "Malformed request (OAuth error format)"})
    app.openapi_schema = schema
    return schema
