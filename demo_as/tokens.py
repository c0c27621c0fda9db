"""The token endpoint (OAuth 2.1 draft-13 §3.2): ``authorization_code`` and ``refresh_token``.

Served as a plain Starlette route (form_endpoints.py): one sync handler, one database
connection and one transaction per request.
"""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import Row
from starlette.responses import Response

from demo_as.cimd_clients import looks_like_client_id_url
from demo_as.client_auth import (
    authenticate_client,
    parse_basic_authorization,
    presented_credentials,
)
from demo_as.db import new_secret, now
from demo_as.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from demo_as.form_endpoints import FORM_ERROR_RESPONSES, FormEndpoint, FormParameters
from demo_as.grant_superseding import SUPERSEDED, superseded_grant_ids
from demo_as.jwt_access_tokens import AccessTokenClaims, mint_access_token
from demo_as.lab import hooks as lab_hooks
from demo_as.loop_writes import lab_probes_active
from demo_as.parameters import TOKEN_PARAMETERS, no_store_json
from demo_as.pkce import verifier_matches
from demo_as.scopes import parse_scope, scope_exceeds
from demo_as.store import Store, connection_store
from demo_as.unstored_rows import IssuedTokens, NewGrant, new_grant


class TokenResponse(BaseModel):
    """OAuth 2.1 draft-13 §3.2.3."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


def prepare_tokens(
    request: Request, client: Row, grant: Row | NewGrant, scopes: list[str]
) -> tuple[TokenResponse, IssuedTokens]:
    """Mint the access token (and a refresh token when the client registered the grant) and
    return the response body plus what must be stored. Nothing is written here: the caller stores
    it in the same transaction as the code redemption or refresh rotation."""
    settings = request.app.state.settings
    lifetime = lab_hooks.access_token_lifetime(request, client.client_id)
    issued_at = now()
    token, jti = mint_access_token(
        AccessTokenClaims(
            issuer=settings.issuer,
            subject=grant.username,
            audience=grant.resource,
            client_id=client.client_id,
            scopes=scopes,
            issued_at=issued_at,
            lifetime=lifetime,
        ),
        request.app.state.signing_key,
    )
    refresh_token = new_secret() if refresh_token_allowed(client) else None
    body = TokenResponse(
        access_token=token,
        token_type="Bearer",
        expires_in=lifetime,
        # Always sent: OAuth 2.1 §3.2.3 requires it when it differs from the request (partial
        # consent, narrowing), and always sending it is simpler for clients.
        scope=" ".join(scopes),
        refresh_token=refresh_token,
    )
    issued = IssuedTokens(
        jti=jti,
        access_expires_at=issued_at + lifetime,
        refresh_token=refresh_token,
        refresh_ttl=settings.refresh_token_ttl,
    )
    return body, issued


def refresh_token_allowed(client: Row) -> bool:
    """OAuth 2.1 §3.2.3 / SEP-2207 (withdrawn AS guidance, kept as our policy): a refresh token
    is issued iff the client registered the ``refresh_token`` grant type. ``offline_access`` is an
    ordinary scope here: accepted and shown on consent, never required."""
    return "refresh_token" in client.grant_types


def redeem_authorization_code(
    request: Request,
    store: Store,
    client: Row,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
    resource: str | None,
) -> TokenResponse:
    """OAuth 2.1 draft-13 §4.1.3 checks, in an order that only revokes on a *valid* replay
    (§7.5.3 / RFC 9700 §4.5: a replay with wrong parameters must not let an attacker revoke a
    victim's tokens)."""
    if not code:
        raise InvalidRequest("code is required")
    if not code_verifier:
        raise InvalidRequest("code_verifier is required (PKCE, RFC 7636 §4.5)")
    row = store.find_code(code)
    if row is None or row.client_id != client.client_id:
        raise InvalidGrant("unknown authorization code, or issued to another client")
    # OAuth 2.1 §10.2 / RFC 6749 §4.1.3: if sent, redirect_uri must equal the one bound to the code.
    if redirect_uri is not None and redirect_uri != row.redirect_uri:
        raise InvalidGrant("redirect_uri differs from the authorization request")
    if not verifier_matches(code_verifier, row.code_challenge):
        raise InvalidGrant("code_verifier does not match code_challenge (RFC 7636 §4.6)")
    if resource is not None and resource != row.resource:
        raise InvalidTarget("resource differs from the authorization request (RFC 8707 §2)")
    if row.used_at is not None:
        # OAuth 2.1 §4.1.3: deny, and revoke everything issued from the first redemption.
        raise code_replayed(store, row.grant_id)
    if row.expires_at <= now():
        raise InvalidGrant("authorization code expired")
    grant = new_grant(row)
    body, issued = prepare_tokens(request, client, grant, grant.scopes)
    if not store.redeem_code(row, grant, issued):
        # Lost a race with a concurrent redemption: that is a replay too.
        fresh = store.find_code(code)
        raise code_replayed(store, fresh.grant_id if fresh else None)
    for earlier in superseded_grant_ids(store.db, grant):  # same transaction as the new grant
        store.revoke_grant(earlier, SUPERSEDED)
    store.commit()
    return body


def code_replayed(store: Store, grant_id: str | None) -> InvalidGrant:
    """OAuth 2.1 draft-13 §4.1.3: a used code came back; revoke what its first use issued."""
    if grant_id:
        store.revoke_grant(grant_id, "authorization code replayed")
        store.commit()
    return InvalidGrant("authorization code already used; its tokens are revoked")


def reuse_detected(store: Store, grant_id: str) -> InvalidGrant:
    """OAuth 2.1 draft-13 §4.3.1: reuse of a rotated refresh token revokes the grant."""
    store.revoke_grant(grant_id, "rotated refresh token reused")
    store.commit()
    return InvalidGrant("refresh token was already used (rotated); the grant is revoked")


def redeem_refresh_token(
    request: Request,
    store: Store,
    client: Row,
    refresh_token: str | None,
    scope: str | None,
    resource: str | None,
) -> TokenResponse:
    """OAuth 2.1 draft-13 §4.3: refresh with rotation (§4.3.1) and reuse detection."""
    if not refresh_token:
        raise InvalidRequest("refresh_token is required")
    row = store.find_refresh_token(refresh_token)
    grant = store.grant(row.grant_id) if row is not None else None
    lab_hooks.refresh_token_presented(request, row, grant)
    if not refresh_token_allowed(client):
        raise UnauthorizedClient("this client did not register refresh_token")
    if row is None or row.client_id != client.client_id:
        raise InvalidGrant("unknown refresh token, or issued to another client")
    if grant is None or grant.revoked_at is not None:
        raise InvalidGrant("the grant of this refresh token was revoked")
    if row.status != "active":
        # OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: a rotated token came back, so one of the two
        # holders is an attacker; revoke the whole grant.
        lab_hooks.reuse_detected(request, grant.id)
        raise reuse_detected(store, grant.id)
    if row.expires_at <= now():
        raise InvalidGrant("refresh token expired")
    # The request is validated completely *before* rotating: a refused refresh must leave the
    # presented token usable, or the honest client's next refresh would look like reuse.
    try:
        requested = parse_scope(scope)
    except ValueError as error:
        raise InvalidScope(str(error)) from None
    if widening := scope_exceeds(requested, grant.scopes):
        raise InvalidScope(
            f"a refresh can narrow but never widen the grant; not granted: {' '.join(widening)}. "
            "Ask the user again at /authorize for more (step-up).",
        )
    # OAuth 2.1 §3.2.3 / RFC 8707 §2: refresh keeps the grant's resource (the token's aud).
    if resource is not None and resource != grant.resource:
        raise InvalidTarget("resource differs from the one this grant is for")
    body, issued = prepare_tokens(request, client, grant, requested or grant.scopes)
    if not store.rotate_refresh_token(row, grant, issued):
        lab_hooks.reuse_detected(request, grant.id)
        raise reuse_detected(store, grant.id)  # a concurrent request rotated it first
    store.commit()
    return body


def token(request: Request, form: FormParameters) -> Response:
    """OAuth 2.1 draft-13 §3.2.1: authenticate the client, then the grant's own checks."""
    grant_type = form["grant_type"]
    if not grant_type:
        raise InvalidRequest("grant_type is required")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise UnsupportedGrantType("grant_type must be authorization_code or refresh_token")
    credentials = presented_credentials(
        form.authorization, form["client_id"], form["client_secret"]
    )
    # CIMD §4.4: a document client's cached metadata is re-fetched once it expired.
    request.app.state.document_clients.refresh(credentials.client_id)
    code, refresh_token = form["code"], form["refresh_token"]
    scope, resource = form["scope"], form["resource"]
    with connection_store(request) as store:
        client = authenticate_client(store, credentials)
        lab_hooks.token_request(request, client, grant_type, code, refresh_token, scope, resource)
        if grant_type not in client.grant_types:
            raise UnauthorizedClient(f"this client did not register {grant_type}")
        if grant_type == "authorization_code":
            redirect_uri, verifier = form["redirect_uri"], form["code_verifier"]
            body = redeem_authorization_code(
                request, store, client, code, redirect_uri, verifier, resource
            )
        else:
            body = redeem_refresh_token(request, store, client, refresh_token, scope, resource)
    lab_hooks.token_response(request, body)
    return no_store_json(body)


def token_on_loop(request: Request, form: FormParameters) -> bool:
    """loop_writes.py: a token request may run on the event loop unless its client is a client
    ID metadata document (its refresh may fetch it) or a lab probe may apply."""
    client_id = form["client_id"]
    if form.authorization:
        parsed = parse_basic_authorization(form.authorization)
        if parsed is None:
            return False  # refused before any database work; the pool answers as before
        client_id = parsed[0]
    return not looks_like_client_id_url(client_id) and not lab_probes_active(request)


ENDPOINT = FormEndpoint(
    "/token",
    token,
    dict.fromkeys(TOKEN_PARAMETERS, 4000),
    {
        "tags": ["token"],
        "response_model": TokenResponse,
        "response_model_exclude_none": True,
        "responses": FORM_ERROR_RESPONSES,
        "summary": "OAuth 2.1 token endpoint",
    },
    on_loop=token_on_loop,
)
