"""Token introspection (RFC 7662) at ``/introspect``, for resource servers.

Authentication (RFC 7662 §2.1 leaves the method to the AS): ``Authorization: Bearer
<introspection_secret>``, compared in constant time. Without a configured secret every request is
refused, so a default installation never answers token questions to strangers (§4: the endpoint
must not become a token-scanning oracle).

Served as a plain Starlette route (form_endpoints.py), in the event loop with SQLite (it only
reads). A token's signature is checked with the keys held in memory (key_cache.py) the first time
it is seen and remembered for the same bytes and the same keys (verified_tokens.py); its time
window is checked on every call, and whether it was revoked is read from the database on every
call, one query (revocation_reads.py), so a revocation by any process sharing the database shows
at once.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from demo_as.db import now
from demo_as.errors import NO_STORE, InvalidClient, InvalidRequest
from demo_as.form_endpoints import FORM_ERROR_RESPONSES, FormEndpoint, FormParameters
from demo_as.jwt_access_tokens import verified_access_token_claims
from demo_as.lab import hooks as lab_hooks
from demo_as.lab.journal import fingerprint
from demo_as.parameters import TOKEN_QUESTION_PARAMETERS
from demo_as.revocation_reads import EventLoopRevocationReads
from demo_as.store import reading_store
from demo_as.verified_tokens import VerifiedToken, verified_token

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
    at = now()
    verified = signature_checked(request, token, at)
    # RFC 7662 §2.2: expired, revoked, foreign or malformed tokens are all "active": false.
    if verified is None or not verified.active_at(at) or revoked(request, verified):
        lab_hooks.introspection(request, token, {"active": False})
        return no_store_answer(INACTIVE_ANSWER)
    active = verified.claims | {"active": True}
    lab_hooks.introspection(request, token, active, token_fingerprint=verified.fingerprint)
    return no_store_answer(verified.answer)


def signature_checked(request: Request, token: str, at: int) -> VerifiedToken | None:
    """``token`` if it is one of ours (signature, ``typ``, ``iss``, claims: RFC 9068 §4), from
    memory when these very bytes passed with the keys loaded now; None if it is not ours or is
    outside its lifetime at ``at`` on its first check."""
    state = request.app.state
    remembered = state.verified_tokens.get(token, state.verification_keys.current)
    if remembered is not None:
        return remembered
    with reading_store(request) as store:
        keys = store.keys_for(token)
    claims = verified_access_token_claims(token, keys, request.app.state.settings.issuer, at)
    if claims is None:
        return None
    verified = verified_token(claims, keys, fingerprint(token))
    state.verified_tokens.put(token, verified, at)
    return verified


def revoked(request: Request, verified: VerifiedToken) -> bool:
    """RFC 7662 §2.2 and RFC 7009 §2.1: read on every call, never remembered."""
    jti = str(verified.claims.get("jti"))
    reads: EventLoopRevocationReads | None = request.app.state.revocation_reads
    if reads is not None:
        return reads.access_token_revoked(jti)
    with reading_store(request) as store:
        return store.access_token_revoked(jti)


INACTIVE_ANSWER = b'{"active":false}'


ANSWER_HEADERS = [
    (b"content-type", b"application/json"),
    *((name.lower().encode(), value.encode()) for name, value in NO_STORE.items()),
]


class NoStoreAnswer(Response):
    """The JSON answer (``IntrospectionResponse``, rendered by verified_tokens.active_answer),
    never cached (RFC 7662 §2.2 via RFC 6749 §5.1): the headers Starlette's JSONResponse sent
    with ``NO_STORE``, prebuilt."""

    media_type = "application/json"

    def __init__(self, body: bytes) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [(b"content-length", str(len(body)).encode()), *ANSWER_HEADERS]


def no_store_answer(body: bytes) -> Response:
    return NoStoreAnswer(body)


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
