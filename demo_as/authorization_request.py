"""Validation of ``GET /authorize`` (OAuth 2.1 draft-13 §4.1.1 and §4.1.2.1).

The order matters and is the point of this module:

1. ``client_id`` and ``redirect_uri`` first. Until both are verified, every problem is shown as an
   HTML page and never redirected (§4.1.2.1: "MUST NOT automatically redirect the user agent to
   the invalid redirection URI"), or the AS becomes an open redirector (RFC 9700 §4.11).
2. Everything else is then reported to the verified redirect URI with ``error``,
   ``error_description``, ``state`` and ``iss`` (RFC 9207 §2).
"""

from __future__ import annotations

from dataclasses import dataclass

from demo_as.errors import (
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    PageError,
    RedirectError,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from demo_as.models import Client
from demo_as.parameters import repeated_parameters
from demo_as.pkce import code_challenge_problem
from demo_as.redirect_uris import find_registered_redirect_uri
from demo_as.scopes import parse_scope, unknown_scopes
from demo_as.settings import Settings

# OAuth 2.1 §3.1: "Request and response parameters MUST NOT be included more than once."
SINGLE_VALUED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


@dataclass(frozen=True)
class AuthorizationRequest:
    """A fully validated authorization request."""

    client: Client
    redirect_uri: str
    state: str | None
    scopes: list[str]
    resource: str
    code_challenge: str


def unknown_client_page(client_id: str | None) -> PageError:
    """OAuth 2.1 §4.1.2.1: an unknown client_id is shown to the user, never redirected."""
    if not client_id:
        return PageError(
            title="No client_id",
            rule="An authorization request must name a registered client with exactly one "
            "client_id; otherwise the user is told and not redirected.",
            section="OAuth 2.1 draft-13 §4.1.1, §4.1.2.1; RFC 6749 §4.1.2.1",
            explanation="This request sent no client_id (or sent it more than once). Register "
            "the client at /register (RFC 7591) and send the client_id from the response.",
        )
    return PageError(
        title="Unknown client",
        rule="The client_id must belong to a registered client; otherwise the user is told and "
        "not redirected.",
        section="OAuth 2.1 draft-13 §4.1.2.1; RFC 6749 §4.1.2.1",
        explanation=f"This server has no client with client_id {client_id[:80]!r}. Register it "
        "at /register (RFC 7591) and use the client_id from the response. (Did the server's "
        "database get reset?)",
    )


def redirect_mismatch_page(client: Client, presented: str | None, any_port: bool) -> PageError:
    """OAuth 2.1 §2.3.1/§4.1.1, RFC 9700 §2.1: exact match against registered URIs, else a
    page, never a redirect."""
    if presented is None:
        explanation = (
            "The request has no redirect_uri and this client registered more than one, so the "
            "server cannot know where to answer (OAuth 2.1 §2.3.2)."
        )
    else:
        explanation = (
            "The redirect_uri in the request is not, character for character, one of the "
            "redirect URIs this client registered. Redirecting there could deliver the "
            "authorization code to an attacker."
        )
    return PageError(
        title="redirect_uri does not match the registration",
        rule="The redirect_uri must exactly (simple string comparison) equal a registered "
        "redirect URI" + (" - except the port of loopback http URIs" if any_port else "") + ".",
        section="OAuth 2.1 draft-13 §2.3.1, §4.1.1; RFC 9700 §2.1; RFC 8252 §7.3",
        explanation=explanation,
        registered_redirect_uris=list(client.redirect_uris),
        presented_redirect_uri=presented,
        mentions_loopback_any_port=True,
    )


def resolve_redirect_uri(client: Client, presented: str | None, any_port: bool) -> str:
    """The verified redirect URI (OAuth 2.1 §2.3.2: optional only when exactly one is
    registered), or a ``PageError``."""
    if presented is None:
        if len(client.redirect_uris) == 1:
            return client.redirect_uris[0]
        raise redirect_mismatch_page(client, None, any_port)
    if find_registered_redirect_uri(client.redirect_uris, presented, loopback_any_port=any_port):
        return presented
    raise redirect_mismatch_page(client, presented, any_port)


def requested_scopes(raw: str | None, client: Client, settings: Settings) -> list[str]:
    """RFC 6749 §3.3: the requested scopes; ValueError names the problem (``invalid_scope``).

    Without a ``scope`` parameter the client's registered ``scope`` is used, else the first
    configured scope (the entry scope ``notes:read``). Scopes are never refused merely for not
    being in the client's registration: step-up clients ask for more later (SEP-835).
    """
    scopes = parse_scope(raw)
    if not scopes:
        scopes = parse_scope(client.scope) or settings.scopes[:1]
    if unknown := unknown_scopes(scopes, settings.scopes):
        raise ValueError(
            f"unknown scope(s): {' '.join(unknown)[:200]}; supported: {' '.join(settings.scopes)}"
        )
    return scopes


def resource_problem(resources: list[str], settings: Settings) -> str | None:
    """RFC 8707 §2: ``resource`` must be an absolute URI without fragment that this AS issues
    tokens for (``invalid_target`` otherwise). One resource per request: tokens carry one ``aud``.
    """
    if len(resources) > 1:
        return "only one resource per request is supported (tokens carry a single audience)"
    resource = resources[0] if resources else None
    if resource is None:
        return None if len(settings.resources) == 1 else "resource is required (RFC 8707 §2)"
    if "#" in resource or "://" not in resource:
        return "resource must be an absolute URI without a fragment (RFC 8707 §2)"
    if resource not in settings.resources:
        return f"unknown resource {resource[:200]!r}; this server issues tokens for: " + " ".join(
            settings.resources
        )
    return None


def validate_authorization_request(
    items: list[tuple[str, str]], client: Client | None, settings: Settings
) -> AuthorizationRequest:
    """Validate all query parameters of /authorize; ``client`` is the row for ``client_id``."""
    params = dict(items)
    repeated = repeated_parameters(items, SINGLE_VALUED)
    if client is None or "client_id" in repeated:
        raise unknown_client_page(None if "client_id" in repeated else params.get("client_id"))
    if "redirect_uri" in repeated:
        raise redirect_mismatch_page(client, None, settings.loopback_any_port)
    redirect_uri = resolve_redirect_uri(
        client, params.get("redirect_uri"), settings.loopback_any_port
    )
    state = params.get("state")

    def fail(error: OAuthError) -> RedirectError:
        return RedirectError(error, redirect_uri, state)

    if repeated:
        raise fail(InvalidRequest(f"parameter(s) sent more than once: {', '.join(repeated)}"))
    response_type = params.get("response_type")
    if not response_type:
        raise fail(InvalidRequest("response_type is required and must be 'code'"))
    if response_type != "code":
        raise fail(
            UnsupportedResponseType(
                "only response_type=code is supported (OAuth 2.1 has no implicit grant)"
            )
        )
    if "authorization_code" not in client.grant_types:
        raise fail(UnauthorizedClient("this client did not register authorization_code"))
    if problem := code_challenge_problem(
        params.get("code_challenge"), params.get("code_challenge_method")
    ):
        raise fail(InvalidRequest(problem))
    try:
        scopes = requested_scopes(params.get("scope"), client, settings)
    except ValueError as error:
        raise fail(InvalidScope(str(error))) from None
    resources = [value for name, value in items if name == "resource"]
    if problem := resource_problem(resources, settings):
        raise fail(InvalidTarget(problem))
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        state=state,
        scopes=scopes,
        resource=resources[0] if resources else settings.resources[0],
        code_challenge=params["code_challenge"],
    )
