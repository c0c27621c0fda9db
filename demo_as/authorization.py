"""The authorization endpoint and its user interaction: ``GET /authorize`` -> login form ->
consent form -> redirect with ``code``, ``state`` and ``iss`` (OAuth 2.1 draft-13 §4.1)."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from demo_as.authorization_request import validate_authorization_request
from demo_as.authorization_response import authorization_redirect_url
from demo_as.db import session
from demo_as.errors import PageError, RedirectError
from demo_as.grants import (
    consume_pending,
    create_login_session,
    create_pending,
    granted_scopes,
    issue_code,
    login_session_user,
    pending_for_form,
    record_consent,
    rotate_csrf_token,
)
from demo_as.models import Client, PendingAuthorization
from demo_as.scopes import scope_sentence

router = APIRouter(tags=["authorization"])

SESSION_COOKIE = "demo_as_session"
HTML_RESPONSES: dict = {
    400: {"description": "HTML error page naming the rule", "content": {"text/html": {}}},
    413: {"description": "Body too large"},
}
REDIRECT_RESPONSES: dict = {
    302: {"description": "Authorization response to the registered redirect URI"},
    303: {"description": "Authorization response to the registered redirect URI"},
}
Text = Annotated[str | None, Query(max_length=4000)]


def client_label(client: Client) -> str:
    return client.client_name or client.client_id


def success_redirect(request: Request, pending: PendingAuthorization, code: str) -> str:
    settings = request.app.state.settings
    return authorization_redirect_url(settings, pending.redirect_uri, {"code": code}, pending.state)


@router.get(
    "/authorize",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **REDIRECT_RESPONSES, **HTML_RESPONSES},
    summary="OAuth 2.1 authorization endpoint (login + consent, or --auto-approve)",
)
def authorize(
    request: Request,
    response_type: Text = None,
    client_id: Text = None,
    redirect_uri: Text = None,
    scope: Text = None,
    state: Text = None,
    code_challenge: Text = None,
    code_challenge_method: Text = None,
    resource: Text = None,
) -> Response:
    settings = request.app.state.settings
    engine = request.app.state.engine
    items = request.query_params.multi_items()
    with session(engine) as db:
        client = db.get(Client, client_id) if client_id else None
    validated = validate_authorization_request(items, client, settings)
    pending = create_pending(engine, validated)

    if settings.auto_approve:
        # Scripted mode: act as the first demo user and grant what was asked; every check above
        # still ran and the response still carries iss.
        username = next(iter(settings.users))
        return approve(request, pending, username, validated.scopes, status_code=302)

    username = login_session_user(engine, request.cookies.get(SESSION_COOKIE), settings.users)
    if username is None:
        return login_page(request, pending, client)
    return consent_page(request, pending, client, username)


def login_page(
    request: Request,
    pending: PendingAuthorization,
    client: Client,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    csrf_token = rotate_csrf_token(request.app.state.engine, pending.id)
    return request.app.state.pages.render(
        request,
        "login.html",
        {
            "action": "/login",
            "request_id": pending.id,
            "csrf_token": csrf_token,
            "client_label": client_label(client),
            "users": request.app.state.settings.users,
            "error": error,
        },
        status_code=status_code,
    )


def consent_page(
    request: Request, pending: PendingAuthorization, client: Client, username: str
) -> HTMLResponse:
    engine = request.app.state.engine
    csrf_token = rotate_csrf_token(engine, pending.id, username=username)
    already = granted_scopes(engine, username, client.client_id)
    parts = urlsplit(pending.redirect_uri)
    return request.app.state.pages.render(
        request,
        "consent.html",
        {
            "action": "/consent",
            "request_id": pending.id,
            "csrf_token": csrf_token,
            "client_label": client_label(client),
            "client_name": client.client_name,
            "client_id": client.client_id,
            "redirect_host": parts.netloc,
            "redirect_uri": pending.redirect_uri,
            "resource": pending.resource,
            "username": username,
            "scopes": [
                {
                    "scope": scope,
                    "sentence": scope_sentence(scope),
                    "already_granted": scope in already,
                }
                for scope in pending.scopes
            ],
            "previously_granted_not_requested": [s for s in already if s not in pending.scopes],
        },
    )


def approve(
    request: Request,
    pending: PendingAuthorization,
    username: str,
    scopes: list[str],
    status_code: int,
) -> RedirectResponse:
    """Record consent, issue the code and redirect to the client with code, state and iss."""
    settings = request.app.state.settings
    engine = request.app.state.engine
    record_consent(engine, username, pending.client_id, scopes)
    code = issue_code(engine, pending, username, scopes, settings.code_ttl)
    with Session(engine) as db:
        row = db.get(PendingAuthorization, pending.id)
        if row is not None:
            db.delete(row)
            db.commit()
    return RedirectResponse(success_redirect(request, pending, code), status_code=status_code)


def form_pending(request: Request, request_id: str, csrf_token: str) -> PendingAuthorization:
    try:
        return pending_for_form(request.app.state.engine, request_id, csrf_token)
    except LookupError as error:
        raise PageError(
            title="This sign-in form cannot be used",
            rule="Each login/consent form carries a CSRF token bound to one pending authorization "
            "request; it is valid once and for 10 minutes.",
            section="RFC 6749 §10.12; OAuth 2.1 draft-13 §7.10",
            explanation=f"{error}. Start again from the application.",
        ) from None


FormText = Annotated[str, Form(max_length=4000)]


@router.post(
    "/login",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **HTML_RESPONSES},
    summary="Login form submission; answers with the consent page",
)
def login(
    request: Request,
    request_id: FormText,
    csrf_token: FormText,
    username: FormText,
    password: FormText,
) -> Response:
    engine = request.app.state.engine
    settings = request.app.state.settings
    pending = form_pending(request, request_id, csrf_token)
    with session(engine) as db:
        client = db.get(Client, pending.client_id)
    if client is None:
        raise PageError(
            "Unknown client",
            "The client must still be registered.",
            "OAuth 2.1 §4.1.2.1",
            "The client was removed.",
        )
    expected = settings.users.get(username)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        return login_page(request, pending, client, "Wrong username or password.", 400)
    response = consent_page(request, pending, client, username)
    response.set_cookie(
        SESSION_COOKIE,
        create_login_session(engine, username),
        httponly=True,
        samesite="lax",
        secure=settings.issuer.startswith("https://"),
        path="/",
    )
    return response


@router.post(
    "/consent",
    response_class=RedirectResponse,
    responses={**REDIRECT_RESPONSES, **HTML_RESPONSES},
    summary="Consent form submission; redirects to the client",
)
def consent(
    request: Request,
    request_id: FormText,
    csrf_token: FormText,
    decision: FormText,
    scope: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006 - FastAPI form default
) -> Response:
    engine = request.app.state.engine
    pending = form_pending(request, request_id, csrf_token)
    if pending.username is None:
        raise PageError(
            "Not signed in",
            "Consent is given by a signed-in user.",
            "OAuth 2.1 draft-13 §7.12.2",
            "Sign in first; start again from the app.",
        )
    if decision not in ("approve", "deny"):
        raise PageError(
            "Unknown decision",
            "The consent form answers approve or deny.",
            "RFC 6749 §4.1.2.1",
            "The form was not submitted by its buttons.",
        )
    if not consume_pending(engine, pending):
        raise PageError(
            "Already answered",
            "A consent form is answered once.",
            "RFC 6749 §10.12",
            "This request was already answered.",
        )
    if decision == "deny":
        raise RedirectError(
            "access_denied", "the user denied the request", pending.redirect_uri, pending.state
        )
    # Partial grant: only scopes that were requested *and* stayed ticked (OAuth 2.1 §3.2.3 then
    # requires the token response to carry the granted scope).
    granted = [s for s in pending.scopes if s in scope]
    if not granted:
        raise RedirectError(
            "access_denied",
            "the user approved none of the requested scopes",
            pending.redirect_uri,
            pending.state,
        )
    return approve(request, pending, pending.username, granted, status_code=303)
