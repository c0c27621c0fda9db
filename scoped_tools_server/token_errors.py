"""Typed reasons a presented access token is refused, and the one for "cannot check right now".

Each ``TokenRejected`` becomes a 401 ``error="invalid_token"`` challenge whose
``error_description`` is the exception's ``description`` (RFC 6750 §3.1; OAuth 2.1 §5.3:
"Invalid or expired tokens MUST receive a HTTP 401 response"). The mapping to HTTP happens in
one place: ``responses.rejection_response``.
"""

from __future__ import annotations


class TokenRejected(Exception):
    """The token is not acceptable to this resource server."""

    default_description = "The access token is invalid"

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)


class MalformedToken(TokenRejected):
    default_description = "The access token is not a well-formed signed JWT"


class UnsupportedAlgorithm(TokenRejected):
    default_description = "The access token is not signed with ES256"


class WrongTokenType(TokenRejected):
    default_description = "The access token's typ header is not at+jwt"


class UnknownSigningKey(TokenRejected):
    default_description = (
        "The access token names a signing key the authorization server does not publish"
    )


class BadSignature(TokenRejected):
    default_description = "The access token's signature does not verify"


class MissingClaim(TokenRejected):
    default_description = "The access token lacks a required claim"


class WrongIssuer(TokenRejected):
    default_description = "The access token was issued by another authorization server"


class WrongAudience(TokenRejected):
    default_description = "The access token was not issued for this resource"


class TokenExpired(TokenRejected):
    default_description = "The access token expired"


class TokenNotYetValid(TokenRejected):
    default_description = "The access token is not valid yet (nbf is in the future)"


class InactiveToken(TokenRejected):
    default_description = "The authorization server says the access token is not active"


class AuthServerUnavailable(Exception):
    """The AS's metadata, JWKS or introspection endpoint could not be used, so the token cannot be
    checked either way. Answered 503 (not 401: the token may be fine, and a 401 would send the
    client into a pointless re-authorization)."""
