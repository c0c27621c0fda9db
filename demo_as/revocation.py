"""Token revocation (RFC 7009) at ``/revoke``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import Response

from demo_as.client_auth import authenticate_client, presented_credentials
from demo_as.db import now
from demo_as.errors import NO_STORE, InvalidRequest, OAuthErrorBody, UnauthorizedClient
from demo_as.jwt_access_tokens import verified_access_token_claims
from demo_as.lab import hooks as lab_hooks
from demo_as.parameters import single_valued_form
from demo_as.store import Store, StoreDep

router = APIRouter(tags=["revocation"])
FormText = Annotated[str | None, Form(max_length=4000)]


def revoke_token(store: Store, issuer: str, client_id: str, token: str) -> None:
    """RFC 7009 §2.1: revoke a refresh token (and, as the RFC suggests, its whole grant) or an
    access token (its jti). Tokens of other clients are refused; unknown tokens are ignored."""
    row = store.find_refresh_token(token)
    if row is not None:
        if row.client_id != client_id:
            raise UnauthorizedClient("this token was issued to another client")
        store.revoke_grant(row.grant_id, "refresh token revoked by the client (RFC 7009)")
        return
    claims = verified_access_token_claims(token, store.keys_for(token), issuer, now())
    if claims is not None:
        if claims.get("client_id") != client_id:
            raise UnauthorizedClient("this token was issued to another client")
        store.revoke_access_token(str(claims.get("jti")))


@router.post(
    "/revoke",
    dependencies=[Depends(single_valued_form)],
    status_code=200,
    response_class=Response,
    responses={
        200: {"description": "Revoked, or the token was unknown (RFC 7009 §2.2)"},
        400: {"model": OAuthErrorBody},
        401: {"model": OAuthErrorBody},
        413: {"model": OAuthErrorBody},
    },
    summary="RFC 7009 token revocation",
)
def revoke(
    request: Request,
    store: StoreDep,
    token: FormText = None,
    token_type_hint: FormText = None,
    client_id: FormText = None,
    client_secret: FormText = None,
    authorization: Annotated[str | None, Header(max_length=4000)] = None,
) -> Response:
    client = authenticate_client(
        store, presented_credentials(authorization, client_id, client_secret)
    )
    if not token:
        raise InvalidRequest("token is required (RFC 7009 §2.1)")
    # token_type_hint is only a hint (RFC 7009 §2.1): we look the token up either way.
    del token_type_hint
    revoke_token(store, request.app.state.settings.issuer, client.client_id, token)
    store.commit()
    lab_hooks.revocation(request, client.client_id, token)
    return Response(status_code=200, headers=NO_STORE)
