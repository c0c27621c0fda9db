"""Token introspection (RFC 7662) at ``/introspect``, for resource servers.

Authentication (RFC 7662 §2.1 leaves the method to the AS): ``Authorization: Bearer
<introspection_secret>``, compared in constant time. Without a configured secret every request is
refused, so a default installation never answers token questions to strangers (§4: the endpoint
must not become a token-scanning oracle).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from pydantic import BaseModel

from demo_as.db import now
from demo_as.errors import InvalidClient, InvalidRequest, OAuthErrorBody
from demo_as.jwt_access_tokens import verified_access_token_claims
from demo_as.lab import hooks as lab_hooks
from demo_as.parameters import no_store, single_valued_form
from demo_as.store import StoreDep

router = APIRouter(tags=["introspection"])
FormText = Annotated[str | None, Form(max_length=8000)]
BEARER_CHALLENGE = 'Bearer realm="demo_as introspection"'


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2."""

    active: bool
    scope: str | None = None
    client_id: str | None = None
    username: str | None = None
    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None
    nbf: int | None = None
    sub: str | None = None
    aud: str | None = None
    iss: str | None = None
    jti: str | None = None


def introspection_caller_ok(authorization: str | None, secret: str | None) -> bool:
    """RFC 7662 §2.1: the caller must be authorized; a bearer secret compared in constant time."""
    if not secret or not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), secret.encode())


@router.post(
    "/introspect",
    dependencies=[Depends(single_valued_form), Depends(no_store)],
    response_model=IntrospectionResponse,
    response_model_exclude_none=True,
    responses={
        400: {"model": OAuthErrorBody},
        401: {"model": OAuthErrorBody},
        413: {"model": OAuthErrorBody},
    },
    summary="RFC 7662 token introspection (Bearer introspection secret)",
)
def introspect(
    request: Request,
    store: StoreDep,
    token: FormText = None,
    token_type_hint: FormText = None,
    authorization: Annotated[str | None, Header(max_length=4000)] = None,
) -> IntrospectionResponse:
    settings = request.app.state.settings
    if not introspection_caller_ok(authorization, settings.introspection_secret):
        raise InvalidClient(
            "introspection needs Authorization: Bearer <introspection secret>"
            + ("" if settings.introspection_secret else " (none is configured on this server)"),
            www_authenticate=BEARER_CHALLENGE,
        )
    if not token:
        raise InvalidRequest("token is required (RFC 7662 §2.1)")
    del token_type_hint  # only access tokens are introspectable here
    claims = verified_access_token_claims(token, store.keys_for(token), settings.issuer, now())
    # RFC 7662 §2.2: expired, revoked, foreign or malformed tokens are all just "active": false.
    if claims is None or store.access_token_revoked(str(claims.get("jti"))):
        lab_hooks.introspection(request, token, {"active": False})
        return IntrospectionResponse(active=False)
    lab_hooks.introspection(request, token, claims | {"active": True})
    return IntrospectionResponse(
        active=True,
        scope=claims.get("scope"),
        client_id=claims.get("client_id"),
        username=claims.get("sub"),
        token_type="Bearer",
        exp=claims.get("exp"),
        iat=claims.get("iat"),
        nbf=claims.get("nbf"),
        sub=claims.get("sub"),
        aud=claims.get("aud"),
        iss=claims.get("iss"),
        jti=claims.get("jti"),
    )
