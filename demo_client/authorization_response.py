"""Validate the redirect back from the authorization endpoint, in the order that keeps a client
safe from mix-up attacks: `state` first, then `iss` (RFC 9207 §2.4), and only then `code` or
`error`.

Teaching code, hand-written on purpose. MCP authorization (Authorization Response Validation,
SEP-2468) states the RFC 9207 §2.4 decision table as:

    | AS metadata advertises iss support | `iss` in response | client action                  |
    |------------------------------------|-------------------|--------------------------------|
    | true                               | present           | compare (exact string)         |
    | true                               | absent            | reject                         |
    | false or absent                    | present           | compare (exact string)         |
    | false or absent                    | absent            | proceed                        |

"This validation applies equally to error responses - on mismatch the client MUST NOT act on
or display error, error_description, or error_uri."
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from demo_client.errors import (
    AuthorizationDeniedError,
    AuthorizationResponseError,
    IssuerMismatchError,
    StateMismatchError,
)


@dataclass(frozen=True)
class PendingAuthorization:
    """What the client recorded before sending the user agent away (MCP authorization:
    "record the issuer ... with the same per-request record used to store the PKCE code
    verifier")."""

    state: str
    code_verifier: str
    expected_issuer: str
    iss_parameter_supported: bool
    redirect_uri: str
    requested_scope: list[str]
    resource: str


def issuer_decision(*, iss_supported: bool, iss: str | None, expected_issuer: str) -> None:
    """RFC 9207 §2.4 as MCP states it (the table in this module's docstring).

    The comparison is "simple string comparison" (RFC 3986 §6.2.1): no case folding, no
    default-port elision, no trailing-slash or percent-encoding normalization (MCP
    authorization; conformance `auth/iss-normalized`). Raises IssuerMismatchError.
    """
    if iss is None:
        if iss_supported:
            raise IssuerMismatchError(
                expected_issuer=expected_issuer,
                received_iss=None,
                reason="the authorization server advertises "
                "authorization_response_iss_parameter_supported but the response has no iss",
            )
        return
    if iss != expected_issuer:
        raise IssuerMismatchError(
            expected_issuer=expected_issuer,
            received_iss=iss,
            reason="iss is not the issuer this request was sent to",
        )


def _single(query: dict[str, list[str]], name: str) -> str | None:
    """RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"."""
    values = query.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise AuthorizationResponseError(
            f"authorization response repeats the {name!r} parameter (RFC 6749 §3.1)"
        )
    return values[0]


def redirect_matches(location: str, redirect_uri: str) -> bool:
    """Is `location` our redirect URI plus a query (scheme, host, port and path all equal)?"""
    loc, ours = urlsplit(location), urlsplit(redirect_uri)
    return (loc.scheme, loc.netloc, loc.path) == (ours.scheme, ours.netloc, ours.path)


def accept_authorization_response(callback_url: str, pending: PendingAuthorization) -> str:
    """The authorization code from `callback_url`, or a typed error, checked in this order:

    1. `state` equals the one we sent (RFC 6749 §10.12; MCP "discard any results that do not
       include or have a mismatch with the original state").
    2. `iss` per RFC 9207 §2.4 (`issuer_decision`), before anything else is read.
    3. `error` (RFC 6749 §4.1.2.1), now known to come from the intended server.
    4. `code` (RFC 6749 §4.1.2).
    """
    if not redirect_matches(callback_url, pending.redirect_uri):
        raise AuthorizationResponseError("the callback did not arrive at our redirect URI")
    # parse_qs does the application/x-www-form-urlencoded decoding RFC 9207 §2.4 asks for
    # before comparison; nothing else is normalized.
    query = parse_qs(urlsplit(callback_url).query, keep_blank_values=True)
    state = _single(query, "state")
    if state is None or state != pending.state:
        raise StateMismatchError(
            "authorization response rejected: state is missing or not the value this client "
            "sent (RFC 6749 §10.12)"
        )
    issuer_decision(
        iss_supported=pending.iss_parameter_supported,
        iss=_single(query, "iss"),
        expected_issuer=pending.expected_issuer,
    )
    error = _single(query, "error")
    if error is not None:
        raise AuthorizationDeniedError(
            error, _single(query, "error_description"), _single(query, "error_uri")
        )
    code = _single(query, "code")
    if not code:
        raise AuthorizationResponseError("authorization response has neither code nor error")
    return code
