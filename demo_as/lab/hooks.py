"""The AS's calls into the lab: one line in each route, each a no-op when the lab is off
(``with_the_lab``; the two that answer a question, ``iss_mode_for`` and
``access_token_lifetime``, answer with the settings then).

A hook never breaks the request it observes: a failing journal write is logged and ignored.
Secrets never reach the journal: tokens, codes, verifiers and refresh tokens are fingerprinted
here (journal.fingerprint) before anything is stored.

Per-request facts a later hook needs (which client an error response belongs to, what a token
request presented) travel on ``request.state`` (``lab_client_id``, ``lab_token``,
``lab_iss_probe``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request

from demo_as.authorization_response import AuthorizationRedirect
from demo_as.lab.catalog import ISS_PROBES, SHORT_TOKEN_SECONDS
from demo_as.lab.journal import NewEvent, fingerprint
from demo_as.lab.recorder import lab_of, probe_for, record
from demo_as.settings import IssMode

REGISTRATION_KEYS = (
    "client_name",
    "redirect_uris",
    "grant_types",
    "response_types",
    "token_endpoint_auth_method",
    "scope",
    "software_id",
    "software_version",
    "client_uri",
    "application_type",
)


def with_the_lab(hook: Callable[..., None]) -> Callable[..., None]:
    """A hook that journals: with the lab off it returns before it looks at anything the route
    gave it (no fingerprint, no event built, no read)."""

    @functools.wraps(hook)
    def journaling(request: Request, *args: Any, **kwargs: Any) -> None:
        if lab_of(request) is not None:
            hook(request, *args, **kwargs)

    return journaling


def noted(request: Request, name: str) -> Any:
    """What an earlier hook of this request set on ``request.state``, or None. The same dict
    ``request.state`` writes to (Starlette keeps it in the scope), read without the
    AttributeError that ``getattr(request.state, name, None)`` raises and catches when nothing
    was set: a measurable share of the lab's cost per refresh (bench/profiling.md §6)."""
    return request.scope.get("state", {}).get(name)


def client_of(request: Request) -> str | None:
    return noted(request, "lab_client_id")


# --- discovery and registration -----------------------------------------------------------


@with_the_lab
def metadata_fetch(request: Request) -> None:
    """RFC 8414 metadata fetched (unattributed: no client_id is sent)."""
    record(
        request,
        NewEvent("as", "metadata-fetch", f"GET {request.url.path}", {"path": request.url.path}),
    )


@with_the_lab
def registration(request: Request, client: Any) -> None:
    """RFC 7591 registration that succeeded, with the metadata the client sent."""
    sent = getattr(request, "_json", None)  # FastAPI's parsed body (unknown fields included)
    sent = sent if isinstance(sent, dict) else {}
    detail = {key: sent.get(key) for key in REGISTRATION_KEYS if key in sent}
    detail["peer"] = request.client.host if request.client else None
    name = client.client_name or "(no client_name)"
    record(
        request,
        NewEvent(
            "as",
            "registration",
            f"registered {name} with redirect URIs {' '.join(client.redirect_uris)}",
            detail,
            client_id=client.client_id,
            attribution="request",
        ),
    )


# --- the front channel --------------------------------------------------------------------


@with_the_lab
def authorization_request(request: Request, items: list[tuple[str, str]], client: Any) -> None:
    """GET /authorize as sent, before validation (a refused request is journaled too)."""
    params = dict(items)
    settings = request.app.state.settings
    client_id = client.client_id if client is not None else None
    request.state.lab_client_id = client_id
    state = params.get("state")
    detail = {
        "scope": params.get("scope", "").split(),
        "scope_sent": "scope" in params,
        "resource": [v for k, v in items if k == "resource"],
        "code_challenge_method": params.get("code_challenge_method"),
        "code_challenge_present": bool(params.get("code_challenge")),
        "state_length": len(state) if state is not None else None,
        "redirect_uri": params.get("redirect_uri"),
        "prompt": params.get("prompt"),
        "response_type": params.get("response_type"),
        "scopes_supported": list(settings.scopes),
        "known_resources": list(settings.resources),
    }
    if client is None:
        detail["client_id_sent"] = (params.get("client_id") or "")[:200] or None
    record(
        request,
        NewEvent(
            "as",
            "authorization-request",
            f"/authorize scope={params.get('scope', '(none)')} "
            f"method={params.get('code_challenge_method') or '(none)'}",
            detail,
            client_id=client_id,
            attribution="request",
        ),
    )


@with_the_lab
def consent_decision(request: Request, pending: Any, decision: str, ticked: list[str]) -> None:
    """The user's answer: what was asked and what was granted (asked ∩ ticked on approve).

    Kept on the request and written with the authorization response, after the route committed:
    a second connection must not write while the request's transaction holds SQLite's lock."""
    request.state.lab_client_id = pending.client_id
    granted = [s for s in pending.scopes if s in ticked] if decision != "deny" else []
    request.state.lab_consent = NewEvent(
        "as",
        "consent",
        f"user {decision}: granted {' '.join(granted) or 'nothing'} of {' '.join(pending.scopes)}",
        {
            "decision": decision,
            "asked": list(pending.scopes),
            "granted": list(granted),
            "username": pending.username,
        },
        client_id=pending.client_id,
        attribution="request",
    )


def iss_mode_for(request: Request, client_id: str) -> IssMode:
    """The iss behaviour of this success response: an iss-wrong/iss-omit probe (consumed if
    once), else ``--iss-mode``."""
    settings = request.app.state.settings
    lab = lab_of(request)
    if lab is None:
        return settings.iss_mode
    probe = probe_for(lab, ISS_PROBES, client_id)
    if probe is None:
        return settings.iss_mode
    request.state.lab_iss_probe = probe.id
    return IssMode.wrong if probe.probe == "iss-wrong" else IssMode.omit


@with_the_lab
def authorization_response(
    request: Request, client_id: str | None, redirect: AuthorizationRedirect
) -> None:
    """The redirect actually sent (success or error), with the iss it carried (RFC 9207): the
    parameters the response added (not the redirect URI's own query, which the client chose)."""
    settings = request.app.state.settings
    params = redirect.parameters
    iss = params.get("iss")
    code = params.get("code")
    iss_status = "omitted" if iss is None else ("correct" if iss == settings.issuer else "wrong")
    detail = {
        "outcome": "code" if code else params.get("error", "unknown"),
        "error_description": params.get("error_description"),
        "iss_sent": iss,
        "iss_status": iss_status,
        "probe_id": noted(request, "lab_iss_probe"),
        "code_fingerprint": fingerprint(code) if code else None,
        "code_expires_at": time.time() + settings.code_ttl if code else None,
        "state_echoed": "state" in params,
        "redirect_uri": redirect.url.split("?", 1)[0],
    }
    what = f"code {detail['code_fingerprint']}" if code else f"error {detail['outcome']}"
    consent = noted(request, "lab_consent")
    if consent is not None:
        record(request, consent)
    record(
        request,
        NewEvent(
            "as",
            "authorization-response",
            f"redirect with {what}, iss {iss_status}",
            detail,
            client_id=client_id or client_of(request),
            attribution="request",
        ),
    )


# --- the token endpoint -------------------------------------------------------------------


@with_the_lab
def token_request(
    request: Request,
    client: Any,
    grant_type: str | None,
    code: str | None,
    refresh_token: str | None,
    scope: str | None,
    resource: str | None,
) -> None:
    """Remember what an authenticated token request presented (recorded with its outcome).
    Which generation a presented refresh token is comes from the route's own reads
    (``refresh_token_presented``): no query of its own."""
    presented = refresh_token
    request.state.lab_client_id = client.client_id
    request.state.lab_token = {
        "grant_type": grant_type,
        "code_fingerprint": fingerprint(code) if code else None,
        "presented_refresh_fingerprint": fingerprint(presented) if presented else None,
        "presented_status": None,
        "scope_requested": scope.split() if scope else None,
        "resource": resource,
    }


def refresh_token_presented(request: Request, row: Any, grant: Any) -> None:
    """The refresh token a token request presented, as the route read it (before rotating)."""
    stash = noted(request, "lab_token")
    if stash is not None:
        stash["presented_status"] = refresh_token_generation(row, grant)


def refresh_token_generation(row: Any, grant: Any) -> str:
    """Which generation a refresh token is: ``active``, ``rotated``, ``revoked`` (its grant was
    revoked) or ``unknown`` (no such token)."""
    if row is None:
        return "unknown"
    if grant is not None and grant.revoked_at is not None:
        return "revoked"
    return str(row.status)


def access_token_lifetime(request: Request, client_id: str) -> int:
    """``--access-token-ttl``, or SHORT_TOKEN_SECONDS under a short-token probe."""
    settings = request.app.state.settings
    lab = lab_of(request)
    if lab is None:
        return settings.access_token_ttl
    probe = probe_for(lab, ("short-token",), client_id)
    if probe is None:
        return settings.access_token_ttl
    request.state.lab_short_probe = probe.id
    return min(SHORT_TOKEN_SECONDS, settings.access_token_ttl)


def token_event(request: Request, outcome: str, extra: dict[str, Any]) -> NewEvent | None:
    stash = noted(request, "lab_token")
    if stash is None:
        return None
    kind = "refresh" if stash["grant_type"] == "refresh_token" else "code-redemption"
    detail = {**stash, "outcome": outcome, **extra}
    if kind == "refresh":
        summary = f"refresh with {stash['presented_refresh_fingerprint']}"
        if stash["presented_status"]:  # None: refused before the token was looked at
            summary += f" ({stash['presented_status']})"
    else:
        summary = f"code {stash['code_fingerprint']} redeemed"
    summary += f": {outcome}" if outcome != "issued" else f", scope {extra.get('scope_granted')}"
    return NewEvent(
        "as",
        kind,
        summary,
        detail,
        client_id=client_of(request),
        attribution="request",
        token_fingerprint=extra.get("access_token_fingerprint"),
    )


@with_the_lab
def token_response(request: Request, response: Any) -> None:
    """A successful token response (tokens.TokenResponse): fingerprints of what was issued, and
    the granted scope."""
    settings = request.app.state.settings
    refresh = response.refresh_token
    event = token_event(
        request,
        "issued",
        {
            "scope_granted": str(response.scope or "").split(),
            "access_token_fingerprint": fingerprint(response.access_token),
            "access_token_expires_at": time.time() + int(response.expires_in or 0),
            "refresh_token_fingerprint": fingerprint(refresh) if refresh else None,
            "refresh_expires_at": time.time() + settings.refresh_token_ttl if refresh else None,
            "short_token_probe": noted(request, "lab_short_probe"),
        },
    )
    if event is not None:
        record(request, event)


@with_the_lab
def reuse_detected(request: Request, grant_id: str) -> None:
    """OAuth 2.1 §4.3.1: a rotated refresh token came back; the grant is being revoked."""
    stash = noted(request, "lab_token") or {}
    record(
        request,
        NewEvent(
            "as",
            "reuse-detected",
            f"rotated refresh token {stash.get('presented_refresh_fingerprint')} reused: grant "
            "revoked",
            {
                "presented_refresh_fingerprint": stash.get("presented_refresh_fingerprint"),
                "grant": fingerprint(grant_id),
            },
            client_id=client_of(request),
            attribution="request",
        ),
    )


# --- refusals, revocation, introspection --------------------------------------------------


@with_the_lab
def refusal(request: Request, error: Any) -> None:
    """An OAuth error answer or an error page: the token event of a token request, else one
    ``refusal`` event naming the endpoint and the rule."""
    code = getattr(error, "error", None) or getattr(error, "title", "refused")
    description = getattr(error, "description", None) or getattr(error, "explanation", None)
    event = token_event(request, str(code), {"error_description": description})
    if event is None:
        event = NewEvent(
            "as",
            "refusal",
            f"{request.method} {request.url.path} refused: {code}",
            {
                "endpoint": request.url.path,
                "error": code,
                "error_description": description,
                "section": getattr(error, "section", None),
            },
            client_id=client_of(request),
            attribution="request",
        )
    record(request, event)


@with_the_lab
def revocation(request: Request, client_id: str, token: str, was_refresh_token: bool) -> None:
    """RFC 7009 revocation request by an authenticated client; ``was_refresh_token`` from the
    route's own lookup (no query of its own). Any other token is named by its shape."""
    request.state.lab_client_id = client_id
    if was_refresh_token:
        token_type = "refresh_token"
    else:
        token_type = "access_token" if token.count(".") == 2 else "unknown"
    record(
        request,
        NewEvent(
            "as",
            "revocation",
            f"revocation of {fingerprint(token)}",
            {"token_fingerprint": fingerprint(token), "token_type": token_type},
            client_id=client_id,
            attribution="request",
        ),
    )


@with_the_lab
def introspection(
    request: Request, token: str, body: dict[str, Any], token_fingerprint: str | None = None
) -> None:
    """RFC 7662 introspection by an RS, attributed to the token's client. ``token_fingerprint``:
    the token's ``journal.fingerprint`` when the route has it already
    (verified_tokens.VerifiedToken), else it is computed here, only with the lab on."""
    client_id = body.get("client_id")
    token_fingerprint = token_fingerprint or fingerprint(token)
    record(
        request,
        NewEvent(
            "as",
            "introspection",
            f"introspection of {token_fingerprint}: active={body.get('active')}",
            {"active": bool(body.get("active")), "scope": body.get("scope")},
            client_id=client_id if isinstance(client_id, str) else None,
            attribution="token",
            token_fingerprint=token_fingerprint,
        ),
    )
