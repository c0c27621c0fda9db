"""The workshop dashboard at ``/`` and the readiness probe at ``/health``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from demo_as.metadata import endpoint
from demo_as.registration_bounds import registration_bounds
from demo_as.store import StoreDep

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str
    issuer: str
    signing_key: str | None = None
    detail: str | None = None


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health}},
    summary="200 when the database answers and the signing key is loaded",
)
def health(request: Request, response: Response, store: StoreDep) -> Health:
    settings = request.app.state.settings
    key = getattr(request.app.state, "signing_key", None)
    try:
        store.client_count()
    except SQLAlchemyError:
        response.status_code = 503
        return Health(status="unavailable", issuer=settings.issuer, detail="database unavailable")
    if key is None:
        response.status_code = 503
        return Health(status="unavailable", issuer=settings.issuer, detail="no signing key")
    return Health(status="ok", issuer=settings.issuer, signing_key=key.kid)


@router.get("/", response_class=HTMLResponse, summary="Workshop dashboard")
def dashboard(request: Request, store: StoreDep) -> HTMLResponse:
    settings = request.app.state.settings
    # (URL, method): the documents a browser can open are links.
    endpoints = {
        name: (endpoint(settings, path), method)
        for name, path, method in [
            ("metadata (RFC 8414)", "/.well-known/oauth-authorization-server", "GET"),
            ("authorization", "/authorize", "GET, from a client"),
            ("token", "/token", "POST"),
            ("registration (RFC 7591)", "/register", "POST"),
            ("JWKS", "/jwks", "GET"),
            ("revocation (RFC 7009)", "/revoke", "POST"),
            ("introspection (RFC 7662)", "/introspect", "POST"),
            ("health", "/health", "GET"),
            ("OpenAPI", "/openapi.json", "GET"),
        ]
    }
    return request.app.state.pages.render(
        request,
        "dashboard.html",
        {
            "endpoints": endpoints,
            "client_count": store.client_count(),
            "bounds": registration_bounds(settings),
        },
    )
