"""Access tokens as JWTs per RFC 9068, signed ES256 with joserfc."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

ACCESS_TOKEN_TYPE = "at+jwt"
ALGORITHM = "ES256"


@dataclass(frozen=True)
class AccessTokenClaims:
    """What goes into an access token (RFC 9068 §2.2)."""

    issuer: str
    subject: str
    audience: str
    client_id: str
    scopes: list[str]
    issued_at: int
    lifetime: int


def mint_access_token(claims: AccessTokenClaims, key: ECKey) -> tuple[str, str]:
    """Sign a JWT access token; returns ``(token, jti)``.

    RFC 9068 §2.1: header ``typ: at+jwt`` and an asymmetric ``alg`` (never ``none``), plus ``kid``
    so resource servers pick the key from /jwks. §2.2: ``iss``, ``exp``, ``aud`` (the RFC 8707
    resource), ``sub``, ``client_id``, ``iat``, ``jti``; ``scope`` per §2.2.3.
    """
    jti = uuid.uuid4().hex
    payload = {
        "iss": claims.issuer,
        "sub": claims.subject,
        "aud": claims.audience,
        "client_id": claims.client_id,
        "scope": " ".join(claims.scopes),
        "iat": claims.issued_at,
        "nbf": claims.issued_at,
        "exp": claims.issued_at + claims.lifetime,
        "jti": jti,
    }
    header = {"alg": ALGORITHM, "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
    return jwt.encode(header, payload, key, algorithms=[ALGORITHM]), jti


def verified_access_token_claims(token: str, keys: KeySet, issuer: str, at: int) -> dict | None:
    """The claims of a token this AS issued and that is still within its lifetime, else None.

    Used by /introspect and /revoke. Checks RFC 9068 §4: signature with one of our keys (ES256
    only), ``typ`` ``at+jwt``, ``iss`` equal to our issuer; and RFC 7519 §4.1.4/§4.1.5 (``exp``
    in the future, ``nbf`` not) through joserfc's claims registry.
    """
    try:
        decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
        if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
            return None
        own_token_claims(issuer, at).validate(decoded.claims)
    except (JoseError, ValueError, TypeError):
        return None
    return decoded.claims


def own_token_claims(issuer: str, at: int) -> jwt.JWTClaimsRegistry:
    """RFC 9068 §2.2: the claims every access token of ours carries, ``iss`` being our issuer."""
    return jwt.JWTClaimsRegistry(
        now=at,
        iss={"essential": True, "value": issuer},
        exp={"essential": True},
        jti={"essential": True},
    )
