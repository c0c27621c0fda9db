"""Token introspection (RFC 7662) at ``/introspect``, for resource servers.

Authentication (RFC 7662 §2.1 leaves the method to the AS): ``Authorization: Bearer
<introspection_secret>``, compared in constant time. Without a configured secret every request is
refused, so a default installation never answers token questions to strangers (§4: the endpoint
must not become a token-scanning oracle).

Served as a plain Starlette route (form_endpoints.py), in the event loop with SQLite (it only
reads). The signature check uses the keys held in memory (key_cache.py); whether the token was
revoked is read from the database on every call, one query, so a revocation by any process
sharing the database shows at once.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from demo_as.db import now
from demo_as.errors import InvalidClient, InvalidRequest
from demo_as.form_endpoints import FORM_ERROR_RESPONSES, FormEndpoint, FormParameters
from demo_as.jwt_access_tokens import verified_access_token_claims
from demo_as.lab import hooks as lab_hooks
from demo_as.parameters import TOKEN_QUESTION_PARAMETERS, no_store_json
from demo_as.store import reading_store

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


def introspect(request: Request, form: FormParameters) -> Response:
    """RFC 7662 §2.1 request, §2.2 response."""
    settings = request.app.state.settings
    if not introspection_caller_ok(form.authorization, settings.introspection_secret):
        raise InvalidClient(
            "introspection needs Authorization: Bearer <introspection secret>"
            + ("" if settings.introspection_secret else " (none is configured on this server)"),
            www_authenticate=BEARER_CHALLENGE,
        )
    token = form["token"]  # token_type_hint is ignored: only access tokens are introspectable
    if not token:
        raise InvalidRequest("token is required (RFC 7662 §2.1)")
    with reading_store(request) as store:
        claims = verified_access_token_claims(token, store.keys_for(token), settings.issuer, now())
        # RFC 7662 §2.2: expired, revoked, foreign or malformed tokens are all "active": false.
        revoked = claims is None or store.access_token_revoked(str(claims.get("jti")))
    if claims is None or revoked:
        lab_hooks.introspection(request, token, {"active": False})
        return no_store_json(IntrospectionResponse(active=False))
    lab_hooks.introspection(request, token, claims | {"active": True})
    return no_store_json(active_response(claims))


def active_response(claims: dict) -> IntrospectionResponse:
    """RFC 7662 §2.2: what an active token's response tells the resource server."""
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


ENDPOINT = FormEndpoint(
    "/introspect",
    introspect,
    dict.fromkeys(TOKEN_QUESTION_PARAMETERS, 8000),
    reads_only=True,
    documentation={
        "tags": ["introspection"],
        "response_model": IntrospectionResponse,
        "response_model_exclude_none": True,
        "responses": FORM_ERROR_RESPONSES,
        "summary": "RFC 7662 token introspection (Bearer introspection secret)",
    },
)
