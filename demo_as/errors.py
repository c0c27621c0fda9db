"""Typed errors and the ONE place that turns them into protocol responses.

* ``OAuthError``       -> JSON ``{"error", "error_description"}`` (RFC 6749 §5.2; RFC 7591 §3.2.2
  uses the same shape for registration; RFC 7009/7662 reuse §5.2).
* ``RedirectError``    -> a redirect back to a *verified* redirect URI with ``error``,
  ``error_description``, ``state`` and ``iss`` (OAuth 2.1 §4.1.2.1, RFC 9207 §2).
* ``PageError``        -> an HTML error page, never a redirect (OAuth 2.1 §4.1.2.1: an unknown
  client or an unregistered redirect URI MUST NOT be redirected to).
* FastAPI request validation errors -> the protocol's own 400 (never FastAPI's 422 shape).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from demo_as.authorization_response import authorization_redirect_url
from demo_as.redirect_uris import ALLOWED_FORMS

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
HTML_PATHS = ("/authorize", "/login", "/consent")


class OAuthErrorBody(BaseModel):
    """RFC 6749 §5.2 / RFC 7591 §3.2.2 error body (for the OpenAPI schema)."""

    error: str
    error_description: str | None = None


class OAuthError(Exception):
    """An error answered as RFC 6749 §5.2 JSON."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status_code: int = 400,
        www_authenticate: str | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status_code = status_code
        self.www_authenticate = www_authenticate


class RedirectError(Exception):
    """An authorization error sent to the client's (already verified) redirect URI."""

    def __init__(self, error: str, description: str, redirect_uri: str, state: str | None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass
class PageError(Exception):
    """An error shown to the user as an HTML page that names the rule and its spec section."""

    title: str
    rule: str
    section: str
    explanation: str
    status_code: int = 400
    registered_redirect_uris: list[str] = field(default_factory=list)
    presented_redirect_uri: str | None = None
    mentions_loopback_any_port: bool = False


def oauth_error_response(error: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2: JSON body, ``no-store``; 401 + ``WWW-Authenticate`` for Basic failures."""
    headers = dict(NO_STORE)
    if error.www_authenticate:
        headers["WWW-Authenticate"] = error.www_authenticate
    return JSONResponse(
        {"error": error.error, "error_description": error.description},
        status_code=error.status_code,
        headers=headers,
    )


def describe_validation_error(exc: RequestValidationError) -> str:
    """One readable sentence from FastAPI's validation details (no echo of huge inputs)."""
    parts = []
    for detail in exc.errors()[:5]:
        if detail.get("type") == "json_invalid":
            parts.append("the body is not valid JSON")
            continue
        location = ".".join(str(p) for p in detail.get("loc", ()) if p != "body") or "body"
        parts.append(f"{location}: {detail.get('msg', 'invalid')}")
    return "; ".join(parts) or "malformed request"


def install_error_handlers(app: FastAPI) -> None:
    """Register every error mapping on ``app`` (the one place errors become responses)."""

    @app.exception_handler(OAuthError)
    async def _oauth(_request: Request, exc: OAuthError) -> Response:
        return oauth_error_response(exc)

    @app.exception_handler(RedirectError)
    async def _redirect(request: Request, exc: RedirectError) -> Response:
        settings = request.app.state.settings
        params = {"error": exc.error, "error_description": exc.description}
        url = authorization_redirect_url(settings, exc.redirect_uri, params, exc.state)
        # OAuth 2.1 §7.5.4: 303 after a POST (never 307); 302 answers the GET /authorize.
        status = 303 if request.method == "POST" else 302
        return RedirectResponse(url, status_code=status)

    @app.exception_handler(PageError)
    async def _page(request: Request, exc: PageError) -> Response:
        return request.app.state.pages.error_page(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        description = describe_validation_error(exc)
        if request.url.path in HTML_PATHS:
            return request.app.state.pages.error_page(
                request,
                PageError(
                    title="Malformed request",
                    rule="Request parameters must be single strings of the expected form.",
                    section="RFC 6749 §4.1.2.1",
                    explanation=description,
                ),
            )
        # RFC 7591 §3.2.2 for registration, RFC 6749 §5.2 everywhere else.
        error = "invalid_request"
        if request.url.path == "/register":
            error = "invalid_client_metadata"
            if any(tuple(d.get("loc", ()))[1:2] == ("redirect_uris",) for d in exc.errors()):
                error = "invalid_redirect_uri"
                description += f". Allowed: {ALLOWED_FORMS}"
        return oauth_error_response(OAuthError(error, description))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        """Starlette/FastAPI HTTP errors (404, 405, unparsable bodies, 413) in our formats."""
        description = str(exc.detail) if exc.detail else "request refused"
        if exc.status_code == 400 and request.url.path in HTML_PATHS:
            return request.app.state.pages.error_page(
                request,
                PageError(
                    title="Malformed request",
                    rule="Forms are posted as application/x-www-form-urlencoded.",
                    section="RFC 6749 §4.1.2.1",
                    explanation=description,
                ),
            )
        error = {404: "not_found"}.get(exc.status_code, "invalid_request")
        if exc.status_code == 400 and request.url.path == "/register":
            error = "invalid_client_metadata"
        return JSONResponse(
            {"error": error, "error_description": description},
            status_code=exc.status_code,
            headers={**(exc.headers or {}), **NO_STORE},
        )
