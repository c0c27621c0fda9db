"""Typed reasons a presented access token is refused, and the one for "cannot check right now".

Each ``TokenRejected`` becomes a 401 ``error="invalid_token"`` challenge whose
``error_description`` is the exception's ``description`` (RFC 6750 §3.1; OAuth 2.1 §5.3:
"Invalid or expired tokens MUST receive a HTTP 401 response"), and whose ``rule`` names the spec
section in the refusal's log line. The mapping to HTTP happens in one place:
``rejections.rejection_response``.

``client_id`` is set when the token's signature verified before a later check failed (an expired
or foreign-audience token our AS really issued): the lab can then say which client sent it.
"""

from __future__ import annotations


class TokenRejected(Exception):
    """The token is not acceptable to this resource server."""

    default_description = "The access token is invalid"
    rule = "RFC 6750 §3.1 invalid_token"

    def __init__(self, description: str | None = None, *, client_id: str | None = None) -> None:
        self.description = description or self.default_description
        self.client_id = client_id
        super().__init__(self.description)


class MalformedToken(TokenRejected):
    default_description = "The access token is not a well-formed signed JWT"
    rule = "RFC 7515 §7.1 / RFC 7519 §7.2"


class UnsupportedAlgorithm(TokenRejected):
    default_description = "The access token is not signed with the algorithm this server accepts"
    rule = "RFC 8725 §3.1, RFC 9068 §4"


class WrongTokenType(TokenRejected):
    default_description = "The access token's typ header is not at+jwt"
    rule = "RFC 9068 §4 (typ at+jwt)"


class UnknownSigningKey(TokenRejected):
    default_description = (
        "The access token names a signing key the authorization server does not publish"
    )
    rule = "RFC 7515 §4.1.4 (kid)"


class BadSignature(TokenRejected):
    default_description = "The access token's signature does not verify"
    rule = "RFC 7515 §5.2 (signature)"


class MissingClaim(TokenRejected):
    default_description = "The access token lacks a required claim"
    rule = "RFC 9068 §2.2 (required claims)"


class WrongIssuer(TokenRejected):
    default_description = "The access token was issued by another authorization server"
    rule = "RFC 9068 §4 (iss)"


class WrongAudience(TokenRejected):
    default_description = "The access token was not issued for this resource"
    rule = "RFC 8707 §2, RFC 9068 §4 (aud)"


class TokenExpired(TokenRejected):
    default_description = "The access token expired"
    rule = "RFC 7519 §4.1.4 (exp)"


class TokenNotYetValid(TokenRejected):
    default_description = "The access token is not valid yet (nbf is in the future)"
    rule = "RFC 7519 §4.1.5 (nbf)"


class InactiveToken(TokenRejected):
    default_description = "The authorization server says the access token is not active"
    rule = "RFC 7662 §2.2 (active)"


class IntrospectionRefused(TokenRejected):
    default_description = "The authorization server refused to introspect the access token"
    rule = "RFC 7662 §2.1 / RFC 6749 §5.2 (the AS refused the introspection request's token)"


class AuthServerUnavailable(Exception):
    """The AS's metadata, JWKS or introspection endpoint could not be used, so the token cannot be
    checked either way. Answered 503 (not 401: the token may be fine, and a 401 would send the
    client into a pointless re-authorization)."""
