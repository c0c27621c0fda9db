"""Typed errors and the ONE place that turns them into protocol responses.

* ``OAuthError`` subclasses, one per error code (``InvalidRequest``, ``InvalidClient``,
  ``InvalidGrant``, ...) -> JSON ``{"error", "error_description"}`` (RFC 6749 §5.2; RFC 7591
  §3.2.2 uses the same shape for registration; RFC 7009 §2.2.1 and RFC 7662 §2.3 reuse §5.2).
* ``RedirectError`` (an ``OAuthError`` plus a *verified* redirect URI) -> a redirect back to the
  client with ``error``, ``error_description``, ``state`` and ``iss`` (OAuth 2.1 draft-13
  §4.1.2.1, RFC 9207 §2).
* ``PageError`` -> an HTML error page, never a redirect (OAuth 2.1 draft-13 §4.1.2.1: an unknown
  client or an unregistered redirect URI MUST NOT be redirected to).
* FastAPI's request validation errors -> the protocol's own 400 (never FastAPI's 422 shape). The
  route decides the format: routers of user-facing pages use ``PageErrorRoute`` (HTML), the
  registration router ``RegistrationErrorRoute`` (RFC 7591 §3.2.2 codes), everything else JSON.
* A database that did not answer in time (pool exhausted, SQLite locked) -> 503
  ``temporarily_unavailable`` with ``Retry-After``, never a 500.
* ``ClientMetadataDocumentError`` (a refused client ID metadata document) -> that rule's page on
  the user-facing routes (never a redirect), ``invalid_client`` (401) elsewhere (RFC 6749 §5.2).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyPoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from demo_as.authorization_response import authorization_redirect
from demo_as.client_metadata_documents import ClientMetadataDocumentError
from demo_as.lab import hooks as lab_hooks
from demo_as.redirect_uris import ALLOWED_FORMS

logger = logging.getLogger("demo_as.refusals")
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthErrorBody(BaseModel):
    """RFC 6749 §5.2 / RFC 7591 §3.2.2 error body."""

    error: str
    error_description: str | None = None


class OAuthError(Exception):
    """An error answered as RFC 6749 §5.2 JSON; each subclass is one ``error`` code."""

    error: ClassVar[str]
    status_code: ClassVar[int] = 400

    def __init__(self, description: str, *, www_authenticate: str | None = None) -> None:
        super().__init__(f"{self.error}: {description}")
        self.description = description
        self.www_authenticate = www_authenticate

    def body(self) -> OAuthErrorBody:
        return OAuthErrorBody(error=self.error, error_description=self.description)

    def headers(self) -> dict[str, str]:
        """Extra response headers (e.g. ``Retry-After`` on a 429)."""
        return {}


class InvalidRequest(OAuthError):
    """RFC 6749 §5.2 / §4.1.2.1: missing, repeated or malformed parameter."""

    error = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: client authentication failed (401, with a challenge for Basic)."""

    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    """RFC 6749 §5.2: the code or refresh token is invalid, expired, revoked or reused."""

    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    """RFC 6749 §5.2 / §4.1.2.1: this client may not use this grant (or token)."""

    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    """RFC 6749 §5.2."""

    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    """RFC 6749 §4.1.2.1."""

    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    """RFC 6749 §5.2 / §4.1.2.1: unknown, malformed or widening scope."""

    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the ``resource`` is not one this AS issues tokens for."""

    error = "invalid_target"


class AccessDenied(OAuthError):
    """RFC 6749 §4.1.2.1: the user denied the request."""

    error = "access_denied"


class InvalidRedirectUri(OAuthError):
    """RFC 7591 §3.2.2: a redirect URI breaks the registration policy."""

    error = "invalid_redirect_uri"


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2: any other client metadata problem."""

    error = "invalid_client_metadata"


class NotFound(OAuthError):
    """No such endpoint (not an OAuth code; the OAuth error shape keeps every answer uniform)."""

    error = "not_found"
    status_code = 404


# PostgreSQL's "try again" conditions (Appendix A, SQLSTATE codes): a deadlock victim
# (40P01), a serialization failure (40001), a lock wait past ``lock_timeout`` (55P03), a
# statement past ``statement_timeout`` (57014). The transaction was rolled back; a retry can work.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03", "57014"})


def database_busy(exc: SQLAlchemyOperationalError) -> bool:
    """Whether a database error means "busy, retry" (DatabaseBusy) rather than a fault: SQLite's
    write lock held past the busy timeout, or one of PostgreSQL's retryable SQLSTATEs."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in RETRYABLE_SQLSTATES or "locked" in str(exc.orig)


class DatabaseBusy(OAuthError):
    """503 ``temporarily_unavailable`` (the RFC 6749 §4.1.2.1 code, here for every endpoint)
    with ``Retry-After`` (RFC 9110 §10.2.3): the database did not answer in time (every pooled
    connection busy, SQLite's write lock held past its timeout, or PostgreSQL cancelling a wait:
    ``database_busy``). A retry can succeed; the request wrote nothing (its transaction is
    rolled back)."""

    error = "temporarily_unavailable"
    status_code = 503

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class RedirectError(Exception):
    """An authorization error sent to the client's (already verified) redirect URI."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(str(error))
        self.error = error
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


def oauth_error_response(
    error: OAuthError, status_code: int | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """RFC 6749 §5.2: JSON body, ``no-store``; 401 + ``WWW-Authenticate`` for Basic failures."""
    all_headers = {**(headers or {}), **error.headers(), **NO_STORE}
    if error.www_authenticate:
        all_headers["WWW-Authenticate"] = error.www_authenticate
    return JSONResponse(
        error.body().model_dump(),
        status_code=status_code or error.status_code,
        headers=all_headers,
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


Handler = Callable[[Request], Awaitable[Response]]


class PageErrorRoute(APIRoute):
    """Route class of the user-facing pages (/authorize, /login, /consent): malformed requests
    are answered as an HTML page, never a redirect (RFC 6749 §4.1.2.1: until the client and
    redirect URI are verified the user is told, not redirected)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def page_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise malformed_page(
                    "Request parameters must be single strings of the expected form.",
                    describe_validation_error(exc),
                ) from None
            except ClientMetadataDocumentError as exc:
                raise document_page(exc) from None
            except StarletteHTTPException as exc:
                if exc.status_code != 400:
                    raise
                raise malformed_page(
                    "Forms are posted as application/x-www-form-urlencoded.",
                    str(exc.detail) if exc.detail else "request refused",
                ) from None

        return page_errors


def document_page(exc: ClientMetadataDocumentError) -> PageError:
    """CIMD §4.3: the request is aborted; the client_id URL is all the user can be shown (§6.4),
    and nothing is redirected: no redirect URI was verified (OAuth 2.1 draft-13 §4.1.2.1)."""
    return PageError(
        title=exc.title,
        rule=exc.rule,
        section=exc.section,
        explanation=f"client_id {exc.url[:200]}: {exc.explanation}.",
    )


def malformed_page(rule: str, explanation: str) -> PageError:
    return PageError(
        title="Malformed request", rule=rule, section="RFC 6749 §4.1.2.1", explanation=explanation
    )


class RegistrationErrorRoute(APIRoute):
    """Route class of /register: malformed metadata is ``invalid_client_metadata``, a malformed
    ``redirect_uris`` field ``invalid_redirect_uri`` (RFC 7591 §3.2.2)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def registration_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise registration_validation_error(exc) from None
            except StarletteHTTPException as exc:
                if exc.status_code != 400:
                    raise
                raise InvalidClientMetadata(
                    str(exc.detail) if exc.detail else "request refused"
                ) from None

        return registration_errors


def registration_validation_error(exc: RequestValidationError) -> OAuthError:
    description = describe_validation_error(exc)
    if any(tuple(d.get("loc", ()))[1:2] == ("redirect_uris",) for d in exc.errors()):
        return InvalidRedirectUri(f"{description}. Allowed: {ALLOWED_FORMS}")
    return InvalidClientMetadata(description)


def refusal_line(request: Request, answer: int | str, code: str, description: str) -> str:
    """``refused POST /token from client 'c1': 400 invalid_grant: …``: one line whatever the
    client sent (unprintable characters replaced, at most 1000 characters). No secret is in
    it: descriptions name parameters and rules, never their values."""
    client_id = lab_hooks.client_of(request)
    who = f"client {client_id!r}" if client_id else "an unidentified client"
    line = f"refused {request.method} {request.url.path} from {who}: {answer} {code}: {description}"
    return UNPRINTABLE.sub("?", line)[:1000]


def log_refusal(
    request: Request, answer: int | str, code: str, description: str, level: int = logging.INFO
) -> None:
    """Every refusal is one readable line in the AS log (``answer``: the status, or ``page`` /
    ``redirect`` for the browser-facing refusals)."""
    logger.log(level, "%s", refusal_line(request, answer, code, description))


def install_error_handlers(app: FastAPI) -> None:
    """Register every error mapping on ``app`` (the one place errors become responses)."""

    @app.exception_handler(OAuthError)
    async def _oauth(request: Request, exc: OAuthError) -> Response:
        log_refusal(request, exc.status_code, exc.error, exc.description)
        lab_hooks.refusal(request, exc)
        return oauth_error_response(exc)

    @app.exception_handler(RedirectError)
    async def _redirect(request: Request, exc: RedirectError) -> Response:
        settings = request.app.state.settings
        params = {"error": exc.error.error, "error_description": exc.error.description}
        redirect = authorization_redirect(settings, exc.redirect_uri, params, exc.state)
        log_refusal(request, "redirect", exc.error.error, exc.error.description)
        lab_hooks.authorization_response(request, None, redirect)
        # OAuth 2.1 §7.5.4: 303 after a POST (never 307); 302 answers the GET /authorize.
        status = 303 if request.method == "POST" else 302
        return RedirectResponse(redirect.url, status_code=status)

    @app.exception_handler(PageError)
    async def _page(request: Request, exc: PageError) -> Response:
        log_refusal(request, "page", exc.title, f"{exc.explanation} ({exc.section})")
        lab_hooks.refusal(request, exc)
        return request.app.state.pages.error_page(request, exc)

    @app.exception_handler(ClientMetadataDocumentError)
    async def _document(request: Request, exc: ClientMetadataDocumentError) -> Response:
        # At /token: the client cannot be identified (RFC 6749 §5.2 invalid_client).
        error = InvalidClient(f"{exc.title} ({exc.section}): {exc.explanation}")
        log_refusal(request, error.status_code, error.error, error.description)
        return oauth_error_response(error)

    @app.exception_handler(SQLAlchemyPoolTimeout)
    @app.exception_handler(SQLAlchemyOperationalError)
    async def _database_busy(request: Request, exc: Exception) -> Response:
        if isinstance(exc, SQLAlchemyOperationalError) and not database_busy(exc):
            raise exc  # not a busy database: a real fault, answered 500 and logged in full
        error = DatabaseBusy(f"the database was busy; retry ({type(exc).__name__})")
        log_refusal(request, error.status_code, error.error, error.description, logging.WARNING)
        return oauth_error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        error = InvalidRequest(describe_validation_error(exc))
        log_refusal(request, error.status_code, error.error, error.description)
        return oauth_error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        """Starlette/FastAPI HTTP errors (404, 405, unparsable bodies, 413) in our format."""
        description = str(exc.detail) if exc.detail else "request refused"
        error = NotFound(description) if exc.status_code == 404 else InvalidRequest(description)
        log_refusal(request, exc.status_code, error.error, error.description)
        return oauth_error_response(error, exc.status_code, exc.headers)
