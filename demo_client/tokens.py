"""The authorization request URL, the code exchange and the refresh (OAuth 2.1 §4.1, §4.3).

Teaching code, hand-written on purpose. `resource` (RFC 8707) goes into the authorization
request, the token request and the refresh request: MCP clients "MUST send this parameter
regardless of whether authorization servers support it".
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx2

from demo_client.authorization_response import PendingAuthorization
from demo_client.errors import TokenError
from demo_client.registration import ClientRegistration
from demo_client.scopes import format_scope, parse_scope


@dataclass
class TokenSet:
    """Tokens for one (resource, issuer, client_id); `scope` is what was granted."""

    access_token: str
    token_type: str
    expires_at: float | None
    refresh_token: str | None
    scope: list[str]
    requested_scope: list[str]

    def expired(self, now: float, skew: float = 5.0) -> bool:
        """OAuth 2.1 §3.2.3: clients "MUST NOT expect an access token to be valid for the
        provided lifetime"; refresh a little early rather than send a dying token."""
        return self.expires_at is not None and now >= self.expires_at - skew

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSet:
        return cls(**data)


def authorization_url(
    authorization_endpoint: str,
    registration: ClientRegistration,
    pending: PendingAuthorization,
    code_challenge: str,
) -> str:
    """OAuth 2.1 §4.1.1 request, with PKCE S256, `state` and the RFC 8707 `resource`.

    `scope` is omitted when there is nothing to ask for (MCP Scope Selection Strategy).
    Parameters are added to any query the endpoint already has (RFC 6749 §3.1).
    """
    params = {
        "response_type": "code",
        "client_id": registration.client_id,
        "redirect_uri": pending.redirect_uri,
        "state": pending.state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
        "resource": pending.resource,
    }
    if pending.requested_scope:
        params["scope"] = format_scope(pending.requested_scope)
    parts = urlsplit(authorization_endpoint)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def client_authentication(
    registration: ClientRegistration, form: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """RFC 6749 §2.3.1: a public client sends `client_id`; a confidential one authenticates
    with HTTP Basic (id and secret form-urlencoded first) or in the body."""
    headers: dict[str, str] = {}
    method = registration.token_endpoint_auth_method
    if method == "client_secret_basic" and registration.client_secret:
        pair = (
            f"{quote(registration.client_id, safe='')}:{quote(registration.client_secret, safe='')}"
        )
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif method == "client_secret_post" and registration.client_secret:
        form = {
            **form,
            "client_id": registration.client_id,
            "client_secret": registration.client_secret,
        }
    else:
        form = {**form, "client_id": registration.client_id}
    return form, headers


def parse_token_response(
    response: httpx2.Response, *, requested_scope: list[str], now: float
) -> TokenSet:
    """RFC 6749 §5.1 success or §5.2 error. An absent `scope` means "identical to the scope
    requested" (§5.1); `expires_in` becomes an absolute time on our clock."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        raise TokenError(str(error or "invalid_response"), description, response.status_code)
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenError("invalid_response", "no access_token in the token response", 200)
    token_type = str(body.get("token_type", ""))
    if token_type.lower() != "bearer":
        raise TokenError("invalid_response", f"token_type {token_type!r} is not Bearer", 200)
    expires_in = body.get("expires_in")
    scope = body.get("scope")
    return TokenSet(
        access_token=access_token,
        token_type="Bearer",
        expires_at=now + float(expires_in) if isinstance(expires_in, int | float) else None,
        refresh_token=body.get("refresh_token")
        if isinstance(body.get("refresh_token"), str)
        else None,
        scope=parse_scope(scope) if isinstance(scope, str) else list(requested_scope),
        requested_scope=list(requested_scope),
    )


async def exchange_code(
    http: httpx2.AsyncClient,
    token_endpoint: str,
    registration: ClientRegistration,
    pending: PendingAuthorization,
    code: str,
    now: float | None = None,
) -> TokenSet:
    """OAuth 2.1 §4.1.3 token request, sent to the token endpoint of the *recorded* issuer
    (OAuth 2.1 §7.14), with the PKCE verifier and `resource` (RFC 8707 §2.2)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": pending.code_verifier,
        "redirect_uri": pending.redirect_uri,
        "resource": pending.resource,
    }
    form, headers = client_authentication(registration, form)
    response = await http.post(token_endpoint, data=form, headers=headers, follow_redirects=False)
    return parse_token_response(
        response, requested_scope=pending.requested_scope, now=time.time() if now is None else now
    )


async def refresh_tokens(
    http: httpx2.AsyncClient,
    token_endpoint: str,
    registration: ClientRegistration,
    tokens: TokenSet,
    resource: str,
    now: float | None = None,
) -> TokenSet:
    """OAuth 2.1 §4.3 refresh. The new refresh token replaces the old one (§4.3.2: "the client
    MUST discard the old refresh token"); if the AS sends none, the old one is kept."""
    assert tokens.refresh_token is not None
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        "resource": resource,
    }
    form, headers = client_authentication(registration, form)
    response = await http.post(token_endpoint, data=form, headers=headers, follow_redirects=False)
    fresh = parse_token_response(
        response, requested_scope=tokens.scope, now=time.time() if now is None else now
    )
    fresh.requested_scope = list(tokens.requested_scope)
    if fresh.refresh_token is None:
        fresh.refresh_token = tokens.refresh_token
    return fresh
