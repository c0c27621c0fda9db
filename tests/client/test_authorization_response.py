"""Callback validation: state first, then the RFC 9207 §2.4 table as MCP states it (SEP-2468),
and only then `error` or `code`."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from demo_client.authorization_response import (
    PendingAuthorization,
    accept_authorization_response,
    issuer_decision,
)
from demo_client.errors import (
    AuthorizationDeniedError,
    AuthorizationResponseError,
    IssuerMismatchError,
    StateMismatchError,
)

ISSUER = "http://127.0.0.1:9000"
REDIRECT = "http://127.0.0.1:8765/callback"


def pending(iss_supported: bool = True) -> PendingAuthorization:
    return PendingAuthorization(
        state="s-123",
        code_verifier="v" * 43,
        expected_issuer=ISSUER,
        iss_parameter_supported=iss_supported,
        redirect_uri=REDIRECT,
        requested_scope=["notes:read"],
        resource="http://127.0.0.1:8000/mcp",
    )


def callback(**params: str) -> str:
    return f"{REDIRECT}?{urlencode(params)}"


# The four rows of the table (MCP authorization, Authorization Response Validation).
@pytest.mark.parametrize(
    ("advertised", "iss", "outcome"),
    [
        (True, ISSUER, "proceed"),
        (True, "https://evil.example", "reject"),
        (True, None, "reject"),  # advertised + absent → reject
        (False, ISSUER, "proceed"),  # not advertised + present → compare (MCP's local policy)
        (False, "https://evil.example", "reject"),
        (False, None, "proceed"),  # neither → proceed
    ],
)
def test_rfc9207_decision_table(advertised: bool, iss: str | None, outcome: str) -> None:
    if outcome == "reject":
        with pytest.raises(IssuerMismatchError):
            issuer_decision(iss_supported=advertised, iss=iss, expected_issuer=ISSUER)
    else:
        issuer_decision(iss_supported=advertised, iss=iss, expected_issuer=ISSUER)
    params = {"code": "c", "state": "s-123", **({"iss": iss} if iss is not None else {})}
    if outcome == "reject":
        with pytest.raises(IssuerMismatchError):
            accept_authorization_response(callback(**params), pending(advertised))
    else:
        assert accept_authorization_response(callback(**params), pending(advertised)) == "c"


@pytest.mark.parametrize(
    "variant",
    [
        ISSUER + "/",  # trailing slash
        "HTTP://127.0.0.1:9000",  # scheme case
        "http://127.0.0.1:9000:80".replace(":9000:80", ":09000"),  # port spelling
        "http://127.0.0.1%3A9000",  # percent-encoding survives one decode
    ],
)
def test_issuer_comparison_does_not_normalize(variant: str) -> None:
    """MCP: no case folding, default-port elision, trailing-slash or percent-encoding
    normalization (conformance auth/iss-normalized)."""
    with pytest.raises(IssuerMismatchError):
        accept_authorization_response(callback(code="c", state="s-123", iss=variant), pending())


def test_error_fields_of_an_unverified_response_are_never_shown() -> None:
    """SEP-2468: on mismatch the client MUST NOT act on or display error, error_description,
    error_uri."""
    url = callback(
        error="server_error",
        error_description="Call +1-555-PHISH to restore access",
        error_uri="https://phish.example/help",
        state="s-123",
        iss="https://attacker.example",
    )
    with pytest.raises(IssuerMismatchError) as caught:
        accept_authorization_response(url, pending())
    message = str(caught.value)
    for leaked in ("server_error", "PHISH", "phish.example"):
        assert leaked not in message
    assert "RFC 9207" in message


def test_a_verified_error_is_reported() -> None:
    url = callback(error="access_denied", error_description="no", state="s-123", iss=ISSUER)
    with pytest.raises(AuthorizationDeniedError) as caught:
        accept_authorization_response(url, pending())
    assert caught.value.error == "access_denied"


def test_state_is_checked_before_anything_else() -> None:
    with pytest.raises(StateMismatchError):
        accept_authorization_response(callback(code="c", state="other", iss=ISSUER), pending())
    with pytest.raises(StateMismatchError):  # a wrong-issuer response with a bad state: state first
        accept_authorization_response(callback(code="c", iss="https://evil"), pending())


def test_repeated_parameters_and_foreign_redirects_are_refused() -> None:
    repeated = f"{REDIRECT}?code=a&state=s-123&iss={ISSUER}&iss={ISSUER}"
    with pytest.raises(AuthorizationResponseError):
        accept_authorization_response(repeated, pending())
    with pytest.raises(AuthorizationResponseError):
        accept_authorization_response(
            f"http://127.0.0.1:9999/callback?code=c&state=s-123&iss={ISSUER}", pending()
        )
    with pytest.raises(AuthorizationResponseError):
        accept_authorization_response(callback(state="s-123", iss=ISSUER), pending())
