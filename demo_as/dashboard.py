"""The workshop dashboard at ``/`` and the readiness probe at ``/health``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from demo_as.db import session
from demo_as.metadata import endpoint
from demo_as.models import Client

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str
    issuer: str
    signing_key: str | None = None
    detail: str | None = None


def client_count(request: Request) -> int:
    with session(request.app.state.engine) as db:
        return int(db.exec(select(func.count()).select_from(Client)).scalar_one())


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health}},
    summary="200 when the database answers and the signing key is loaded",
)
def health(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    key = getattr(request.app.state, "signing_key", None)
    try:
        client_count(request)
    except SQLAlchemyError:
        body = Health(status="unavailable", issuer=settings.issuer, detail="database unavailable")
        return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
    if key is None:
        body = Health(status="unavailable", issuer=settings.issuer, detail="no signing key")
        return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
    return JSONResponse(
        Health(status="ok", issuer=settings.issuer, signing_key=key.kid).model_dump(
            exclude_none=True
        )
    )


@router.get("/", response_class=HTMLResponse, summary="Workshop dashboard")
def dashboard(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    endpoints = {
        name: endpoint(settings, path)
        for name, path in [
            ("metadata (RFC 8414)", "/.well-known/oauth-authorization-server"),
            ("authorization", "/authorize"),
            ("token", "/token"),
            ("registration (RFC 7591)", "/register"),
            ("JWKS", "/jwks"),
            ("revocation (RFC 7009)", "/revoke"),
            ("introspection (RFC 7662)", "/introspect"),
            ("health", "/health"),
            ("OpenAPI", "/openapi.json"),
        ]
    }
    return request.app.state.pages.render(
        request,
        "dashboard.html",
        {"endpoints": endpoints, "client_count": client_count(request)},
    )
