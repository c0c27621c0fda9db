"""The token endpoint (OAuth 2.1 draft-13 §3.2): ``authorization_code`` and ``refresh_token``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from demo_as.client_auth import authenticate_client, presented_credentials
from demo_as.db import new_secret, now
from demo_as.errors import NO_STORE, OAuthError, OAuthErrorBody
from demo_as.grants import (
    IssuedTokens,
    commit_code_redemption,
    commit_refresh_rotation,
    find_code,
    find_refresh_token,
    get_grant,
    new_grant,
    revoke_grant,
)
from demo_as.jwt_access_tokens import AccessTokenClaims, mint_access_token
from demo_as.models import Client, Grant
from demo_as.parameters import single_valued_form
from demo_as.pkce import verifier_matches
from demo_as.scopes import parse_scope, scope_exceeds

router = APIRouter(tags=["token"])

FormText = Annotated[str | None, Form(max_length=4000)]


class TokenResponse(BaseModel):
    """OAuth 2.1 draft-13 §3.2.3."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


def prepare_tokens(
    request: Request, client: Client, grant: Grant, scopes: list[str]
) -> tuple[dict, IssuedTokens]:
    """Mint the access token (and a refresh token when the client registered the grant) and
    return the response body plus what must be stored. Nothing is written here: the caller stores
    it in the same transaction as the code redemption or refresh rotation."""
    settings = request.app.state.settings
    issued_at = now()
    token, jti = mint_access_token(
        AccessTokenClaims(
            issuer=settings.issuer,
            subject=grant.username,
            audience=grant.resource,
            client_id=client.client_id,
            scopes=scopes,
            issued_at=issued_at,
            lifetime=settings.access_token_ttl,
        ),
        request.app.state.signing_key,
    )
    refresh_token = new_secret() if refresh_token_allowed(client) else None
    body = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl,
        # Always sent: OAuth 2.1 §3.2.3 requires it when it differs from the request (partial
        # consent, narrowing), and always sending it is simpler for clients.
        "scope": " ".join(scopes),
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    issued = IssuedTokens(
        jti=jti,
        access_expires_at=issued_at + settings.access_token_ttl,
        refresh_token=refresh_token,
        refresh_ttl=settings.refresh_token_ttl,
    )
    return body, issued


def refresh_token_allowed(client: Client) -> bool:
    """OAuth 2.1 §3.2.3 / SEP-2207 (withdrawn AS guidance, kept as our policy): a refresh token
    is issued iff the client registered the ``refresh_token`` grant type. ``offline_access`` is an
    ordinary scope here: accepted and shown on consent, never required."""
    return "refresh_token" in client.grant_types


def redeem_authorization_code(
    request: Request,
    client: Client,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
    resource: str | None,
) -> dict:
    """OAuth 2.1 draft-13 §4.1.3 checks, in an order that only revokes on a *valid* replay
    (§7.5.3 / RFC 9700 §4.5: a replay with wrong parameters must not let an attacker revoke a
    victim's tokens)."""
    engine = request.app.state.engine
    if not code:
        raise OAuthError("invalid_request", "code is required")
    if not code_verifier:
        raise OAuthError("invalid_request", "code_verifier is required (PKCE, RFC 7636 §4.5)")
    row = find_code(engine, code)
    if row is None or row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "unknown authorization code, or issued to another client")
    # OAuth 2.1 §10.2 / RFC 6749 §4.1.3: if sent, redirect_uri must equal the one bound to the code.
    if redirect_uri is not None and redirect_uri != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
    if not verifier_matches(code_verifier, row.code_challenge):
        raise OAuthError(
            "invalid_grant", "code_verifier does not match code_challenge (RFC 7636 §4.6)"
        )
    if resource is not None and resource != row.resource:
        raise OAuthError(
            "invalid_target", "resource differs from the authorization request (RFC 8707 §2)"
        )
    if row.used_at is not None:
        # OAuth 2.1 §4.1.3: deny, and revoke everything issued from the first redemption.
        if row.grant_id:
            revoke_grant(engine, row.grant_id, "authorization code replayed")
        raise OAuthError("invalid_grant", "authorization code already used; its tokens are revoked")
    if row.expires_at <= now():
        raise OAuthError("invalid_grant", "authorization code expired")
    grant = new_grant(row)
    body, issued = prepare_tokens(request, client, grant, grant.scopes)
    if not commit_code_redemption(engine, row, grant, issued):
        # Lost a race with a concurrent redemption: that is a replay too.
        fresh = find_code(engine, code)
        if fresh is not None and fresh.grant_id:
            revoke_grant(engine, fresh.grant_id, "authorization code replayed")
        raise OAuthError("invalid_grant", "authorization code already used; its tokens are revoked")
    return body


def reuse_detected(engine: Engine, grant_id: str) -> OAuthError:
    """OAuth 2.1 §4.3.1: reuse of a rotated refresh token revokes the grant."""
    revoke_grant(engine, grant_id, "rotated refresh token reused")
    return OAuthError(
        "invalid_grant", "refresh token was already used (rotated); the grant is revoked"
    )


def redeem_refresh_token(
    request: Request,
    client: Client,
    refresh_token: str | None,
    scope: str | None,
    resource: str | None,
) -> dict:
    """OAuth 2.1 draft-13 §4.3: refresh with rotation (§4.3.1) and reuse detection."""
    engine = request.app.state.engine
    if not refresh_token:
        raise OAuthError("invalid_request", "refresh_token is required")
    if not refresh_token_allowed(client):
        raise OAuthError("unauthorized_client", "this client did not register refresh_token")
    row = find_refresh_token(engine, refresh_token)
    if row is None or row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "unknown refresh token, or issued to another client")
    grant = get_grant(engine, row.grant_id)
    if grant is None or grant.revoked_at is not None:
        raise OAuthError("invalid_grant", "the grant of this refresh token was revoked")
    if row.status != "active":
        # OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: a rotated token came back, so one of the two
        # holders is an attacker; revoke the whole grant.
        raise reuse_detected(engine, grant.id)
    if row.expires_at <= now():
        raise OAuthError("invalid_grant", "refresh token expired")
    # The request is validated completely *before* rotating: a refused refresh must leave the
    # presented token usable, or the honest client's next refresh would look like reuse.
    try:
        requested = parse_scope(scope)
    except ValueError as error:
        raise OAuthError("invalid_scope", str(error)) from None
    if widening := scope_exceeds(requested, grant.scopes):
        raise OAuthError(
            "invalid_scope",
            f"a refresh can narrow but never widen the grant; not granted: {' '.join(widening)}. "
            "Ask the user again at /authorize for more (step-up).",
        )
    # OAuth 2.1 §3.2.3 / RFC 8707 §2: refresh keeps the grant's resource (the token's aud).
    if resource is not None and resource != grant.resource:
        raise OAuthError("invalid_target", "resource differs from the one this grant is for")
    body, issued = prepare_tokens(request, client, grant, requested or grant.scopes)
    if not commit_refresh_rotation(engine, row, grant, issued):
        raise reuse_detected(engine, grant.id)  # a concurrent request rotated it first
    return body


@router.post(
    "/token",
    dependencies=[Depends(single_valued_form)],
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses={
        400: {"model": OAuthErrorBody},
        401: {"model": OAuthErrorBody},
        413: {"model": OAuthErrorBody},
    },
    summary="OAuth 2.1 token endpoint",
)
def token(
    request: Request,
    grant_type: FormText = None,
    code: FormText = None,
    redirect_uri: FormText = None,
    code_verifier: FormText = None,
    refresh_token: FormText = None,
    scope: FormText = None,
    resource: FormText = None,
    client_id: FormText = None,
    client_secret: FormText = None,
    authorization: Annotated[str | None, Header(max_length=4000)] = None,
) -> JSONResponse:
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise OAuthError(
            "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
        )
    client = authenticate_client(
        request.app.state.engine, presented_credentials(authorization, client_id, client_secret)
    )
    if grant_type not in client.grant_types:
        raise OAuthError("unauthorized_client", f"this client did not register {grant_type}")
    if grant_type == "authorization_code":
        body = redeem_authorization_code(
            request, client, code, redirect_uri, code_verifier, resource
        )
    else:
        body = redeem_refresh_token(request, client, refresh_token, scope, resource)
    return JSONResponse(body, headers=NO_STORE)
