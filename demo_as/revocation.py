"""Token revocation (RFC 7009) at ``/revoke``, served as a plain Starlette route
(form_endpoints.py)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from demo_as.client_auth import authenticate_client, presented_credentials
from demo_as.db import now
from demo_as.errors import NO_STORE, InvalidRequest, UnauthorizedClient
from demo_as.form_endpoints import FORM_ERROR_RESPONSES, FormEndpoint, FormParameters
from demo_as.jwt_access_tokens import verified_access_token_claims
from demo_as.lab import hooks as lab_hooks
from demo_as.parameters import TOKEN_QUESTION_PARAMETERS
from demo_as.store import Store, connection_store


def revoke_token(store: Store, issuer: str, client_id: str, token: str) -> bool:
    """RFC 7009 §2.1: revoke a refresh token (and, as the RFC suggests, its whole grant) or an
    access token (its jti). Tokens of other clients are refused; unknown tokens are ignored.
    True when ``token`` was one of our refresh tokens (the lab journals which kind it was)."""
    row = store.find_refresh_token(token)
    if row is not None:
        if row.client_id != client_id:
            raise UnauthorizedClient("this token was issued to another client")
        store.revoke_grant(row.grant_id, "refresh token revoked by the client (RFC 7009)")
        return True
    claims = verified_access_token_claims(token, store.keys_for(token), issuer, now())
    if claims is not None:
        if claims.get("client_id") != client_id:
            raise UnauthorizedClient("this token was issued to another client")
        store.revoke_access_token(str(claims.get("jti")))
    return False


def revoke(request: Request, form: FormParameters) -> Response:
    """RFC 7009 §2.1 request (client authentication first), §2.2 response."""
    credentials = presented_credentials(
        form.authorization, form["client_id"], form["client_secret"]
    )
    token = form["token"]  # token_type_hint is only a hint (§2.1): the token is looked up anyway
    with connection_store(request) as store:
        client = authenticate_client(store, credentials)
        if not token:
            raise InvalidRequest("token is required (RFC 7009 §2.1)")
        issuer = request.app.state.settings.issuer
        was_refresh_token = revoke_token(store, issuer, client.client_id, token)
        store.commit()
        lab_hooks.revocation(request, client.client_id, token, was_refresh_token)
    return Response(status_code=200, headers=NO_STORE)


ENDPOINT = FormEndpoint(
    "/revoke",
    revoke,
    dict.fromkeys((*TOKEN_QUESTION_PARAMETERS, "client_id", "client_secret"), 4000),
    {
        "tags": ["revocation"],
        "status_code": 200,
        "response_class": Response,
        "responses": {
            200: {"description": "Revoked, or the token was unknown (RFC 7009 §2.2)"},
            **FORM_ERROR_RESPONSES,
        },
        "summary": "RFC 7009 token revocation",
    },
)
