"""The authorization endpoint and its user interaction: ``GET /authorize`` -> login form ->
consent form -> redirect with ``code``, ``state`` and ``iss`` (OAuth 2.1 draft-13 §4.1)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from demo_as import field_limits
from demo_as.authorization_request import validate_authorization_request
from demo_as.authorization_response import authorization_redirect
from demo_as.browser_binding import browser_binding, new_binding, set_binding_cookie
from demo_as.deferred_errors import defer_error, deferred_error
from demo_as.errors import (
    AccessDenied,
    PageError,
    PageErrorRoute,
    RedirectError,
)
from demo_as.lab import hooks as lab_hooks
from demo_as.models import Client, PendingAuthorization
from demo_as.scopes import scope_sentence
from demo_as.store import Store, StoreDep
from demo_as.unstored_rows import pending_for

router = APIRouter(tags=["authorization"], route_class=PageErrorRoute)
# A pending request: its stored row, the model just stored, or (auto-approve) a NewPending.
Pending = Any

HTML_RESPONSES: dict = {
    400: {"description": "HTML error page naming the rule", "content": {"text/html": {}}},
    413: {"description": "Body too large"},
}
REDIRECT_RESPONSES: dict = {
    302: {"description": "Authorization response to the registered redirect URI"},
    303: {"description": "Authorization response to the registered redirect URI"},
}
Text = Annotated[str | None, Query(max_length=4000)]
# Parameters stored with the pending request: the column's limit is the query's (field_limits.py).
StateText = Annotated[str | None, Query(max_length=field_limits.STATE)]
RedirectUriText = Annotated[str | None, Query(max_length=field_limits.REDIRECT_URI)]
ResourceText = Annotated[str | None, Query(max_length=field_limits.RESOURCE)]


def client_label(client: Client) -> str:
    return client.client_name or client.client_id


def success_redirect(request: Request, pending: Pending, code: str) -> str:
    settings = request.app.state.settings
    iss_mode = lab_hooks.iss_mode_for(request, pending.client_id)
    redirect = authorization_redirect(
        settings, pending.redirect_uri, {"code": code}, pending.state, iss_mode
    )
    lab_hooks.authorization_response(request, pending.client_id, redirect)
    return redirect.url


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
    redirect_uri: RedirectUriText = None,
    scope: Text = None,
    state: StateText = None,
    code_challenge: Text = None,
    code_challenge_method: Text = None,
    resource: ResourceText = None,
) -> Response:
    # The FastAPI route for /openapi.json only (no docstring: it would become the operation's
    # description): authorize_endpoint.ROUTE, first in the routing table, serves the requests,
    # with the limits declared here (authorize_endpoint.QUERY_LIMITS).
    raise RuntimeError("/authorize is served by authorize_endpoint.authorize_endpoint")


def authorization_request(request: Request, store: Store, client_id: str | None) -> Response:
    """OAuth 2.1 draft-13 §4.1.1: validate, then ask the user (or, with --auto-approve, answer
    at once)."""
    settings = request.app.state.settings
    items = request.query_params.multi_items()
    client = request.app.state.document_clients.client(store, client_id)
    lab_hooks.authorization_request(request, items, client)
    try:
        validated = validate_authorization_request(items, client, settings)
    except RedirectError as error:
        if settings.auto_approve or client is None:
            raise
        # OAuth 2.1 §7.12.2: authenticate the user first, then redirect (deferred_errors.py).
        page = first_login_page(request, store, defer_error(store, client.client_id, error), client)
        store.commit()
        return page
    pending = pending_for(validated)

    if settings.auto_approve:
        # Scripted mode: act as the first demo user and grant what was asked; every check above
        # still ran and the response still carries iss. Nothing waits for a form, so the pending
        # request is never stored.
        username = next(iter(settings.users))
        lab_hooks.consent_decision(request, pending, "auto-approve", validated.scopes)
        return approve(request, store, pending, username, validated.scopes, status_code=302)

    store.add_pending(pending)
    # Every request signs the user in: no cookie skips the password (see login_page).
    page = first_login_page(request, store, pending, validated.client)
    store.commit()
    return page


def first_login_page(request: Request, store: Store, pending: Pending, client: Client) -> Response:
    """The login form answering GET /authorize, setting the browser binding cookie if needed."""
    binding = browser_binding(request)
    fresh_binding = binding or new_binding()
    page = login_page(request, store, pending, client, fresh_binding)
    if binding is None:
        secure = request.app.state.settings.issuer.startswith("https://")
        set_binding_cookie(page, fresh_binding, secure=secure)
    return page


def login_page(
    request: Request,
    store: Store,
    pending: Pending,
    client: Client,
    binding: str,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The login form, shown for EVERY authorization request: there is no "stay signed in"
    session cookie (issue #12.1).

    Cookies ignore ports (RFC 6265 §8.5) and every loopback port is the same site, so any cookie
    the AS sets on 127.0.0.1 is also sent to whatever program listens on a client's loopback
    callback port, and a ``Path`` restriction does not stop it: that program can answer the
    callback by sending the browser on to a path of its own port that the cookie covers. A
    cookie that skipped the password would therefore let any local program open /authorize for
    its own client and every scope and approve its consent form itself.

    OAuth 2.1 draft-13 §7.12.2 (RFC 9700 §4.11.2): "The AS MUST always authenticate the user
    first", and for native clients, whose identity cannot be proven, the AS "SHOULD NOT process
    authorization requests automatically without user consent or interaction" (OAuth 2.1
    draft-13 §7.3.1, "Impersonation of Native Apps"). So each authorization request shows the
    login form; the only cookie is the browser binding (browser_binding.py), which authenticates
    nobody.
    """
    csrf_token = store.rotate_csrf_token(pending.id, binding)
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
    request: Request,
    store: Store,
    pending: PendingAuthorization,
    client: Client,
    username: str,
    binding: str,
) -> HTMLResponse:
    csrf_token = store.rotate_csrf_token(pending.id, binding, username=username)
    already = store.granted_scopes(username, client.client_id)
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
            "document": request.app.state.document_clients.provenance(store, client.client_id),
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
    store: Store,
    pending: Pending,
    username: str,
    scopes: list[str],
    status_code: int,
) -> RedirectResponse:
    """Record consent, issue the code and redirect to the client with code, state and iss; the
    request's writes are committed here, before the redirect is sent."""
    store.record_consent(username, pending.client_id, scopes)
    code = store.issue_code(pending, username, scopes, request.app.state.settings.code_ttl)
    store.commit()
    return RedirectResponse(success_redirect(request, pending, code), status_code=status_code)


def form_pending(
    request: Request, store: Store, request_id: str, csrf_token: str
) -> tuple[PendingAuthorization, str]:
    """The pending request of a login/consent submission, and the binding of the browser that
    opened it (the submission's own cookie, checked against the form's token)."""
    binding = browser_binding(request)
    try:
        pending = store.pending_for_form(request_id, csrf_token, binding)
    except LookupError as error:
        raise PageError(
            title="This sign-in form cannot be used",
            rule="Each login/consent form carries a CSRF token bound to one pending authorization "
            "request and to the browser that opened it; it is valid once and for 10 minutes.",
            section="RFC 6749 §10.12; OAuth 2.1 draft-13 §7.10",
            explanation=f"{error}. Start again from the application.",
        ) from None
    assert binding is not None  # pending_for_form refuses a submission without one
    return pending, binding


def already_answered() -> PageError:
    """RFC 6749 §10.12: a form is answered once."""
    return PageError(
        "Already answered",
        "A login or consent form is answered once.",
        "RFC 6749 §10.12",
        "This request was already answered.",
    )


FormText = Annotated[str, Form(max_length=4000)]


@router.post(
    "/login",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **REDIRECT_RESPONSES, **HTML_RESPONSES},
    summary="Login form submission; answers with the consent page (or a waiting error redirect)",
)
def login(
    request: Request,
    store: StoreDep,
    request_id: FormText,
    csrf_token: FormText,
    username: FormText,
    password: FormText,
) -> Response:
    settings = request.app.state.settings
    pending, binding = form_pending(request, store, request_id, csrf_token)
    client = store.client(pending.client_id)
    if client is None:
        raise PageError(
            "Unknown client",
            "The client must still be registered.",
            "OAuth 2.1 §4.1.2.1",
            "The client was removed.",
        )
    expected = settings.users.get(username)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        error = "Wrong username or password."
        page = login_page(request, store, pending, client, binding, error, 400)
        store.commit()
        return page
    if (waiting := deferred_error(store, pending)) is not None:
        if not store.consume_pending(pending):
            raise already_answered()
        store.commit()
        raise waiting
    response = consent_page(request, store, pending, client, username, binding)
    store.commit()
    return response


@router.post(
    "/consent",
    response_class=RedirectResponse,
    responses={**REDIRECT_RESPONSES, **HTML_RESPONSES},
    summary="Consent form submission; redirects to the client",
)
def consent(
    request: Request,
    store: StoreDep,
    request_id: FormText,
    csrf_token: FormText,
    decision: FormText,
    scope: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006 - FastAPI form default
) -> Response:
    pending, _binding = form_pending(request, store, request_id, csrf_token)
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
    lab_hooks.consent_decision(request, pending, decision, scope)
    if not store.consume_pending(pending):
        raise already_answered()
    if decision == "deny":
        store.commit()
        raise RedirectError(
            AccessDenied("the user denied the request"), pending.redirect_uri, pending.state
        )
    # Partial grant: only scopes that were requested *and* stayed ticked (OAuth 2.1 §3.2.3 then
    # requires the token response to carry the granted scope).
    granted = [s for s in pending.scopes if s in scope]
    if not granted:
        store.commit()
        raise RedirectError(
            AccessDenied("the user approved none of the requested scopes"),
            pending.redirect_uri,
            pending.state,
        )
    return approve(request, store, pending, pending.username, granted, status_code=303)
