"""Typed errors of the demo client, all in one place.

Each error says what was refused and which rule refused it, so a reader of the message can go
straight to the spec section. Messages never echo attacker-controlled error text from an
authorization response whose issuer did not check out (SEP-2468, RFC 9207 §2.4).
"""

from __future__ import annotations


class DemoClientError(Exception):
    """Base class: everything this client refuses or fails at."""


class DiscoveryError(DemoClientError):
    """Protected Resource Metadata or authorization server metadata was missing or invalid."""


class RegistrationError(DemoClientError):
    """Dynamic Client Registration (RFC 7591) failed; carries the AS's own error text."""


class AuthorizationResponseError(DemoClientError):
    """The redirect back from the authorization endpoint could not be accepted."""


class StateMismatchError(AuthorizationResponseError):
    """RFC 6749 §10.12 / OAuth 2.1 §7.5.2: `state` missing or not the one we sent."""


class IssuerMismatchError(AuthorizationResponseError):
    """RFC 9207 §2.4: the response's `iss` is wrong or missing where it is required.

    The message deliberately never contains the response's `error`, `error_description` or
    `error_uri`: "on mismatch the client MUST NOT act on or display" them (SEP-2468).
    """

    def __init__(self, *, expected_issuer: str, received_iss: str | None, reason: str) -> None:
        self.expected_issuer = expected_issuer
        self.received_iss = received_iss
        self.reason = reason
        super().__init__(
            f"authorization response rejected (RFC 9207 §2.4): {reason}; "
            f"expected iss {expected_issuer!r}, got {received_iss!r}. The response may come from "
            "another authorization server (mix-up attack), so nothing else in it was read."
        )


class AuthorizationDeniedError(AuthorizationResponseError):
    """The (verified) authorization server answered with an OAuth error (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str | None, uri: str | None) -> None:
        self.error = error
        self.description = description
        self.uri = uri
        detail = f": {description}" if description else ""
        super().__init__(f"authorization server answered {error}{detail}")


class TokenError(DemoClientError):
    """The token endpoint refused a request (RFC 6749 §5.2); carries its error code."""

    def __init__(self, error: str, description: str | None, status: int) -> None:
        self.error = error
        self.description = description
        self.status = status
        detail = f": {description}" if description else ""
        super().__init__(f"token endpoint answered HTTP {status} {error}{detail}")


class UserAgentError(DemoClientError):
    """The user agent (headless or browser) could not complete the login/consent pages."""


class AuthorizationRequestRefusedError(UserAgentError):
    """The authorization endpoint refused the request itself with an error page, before any
    login or consent page (OAuth 2.1 §4.1.2.1: an unknown client_id or an unregistered
    redirect URI is shown to the user, never redirected). `message` is the page's text."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"the authorization server answered HTTP {status}: {message}")


class UnauthorizedError(DemoClientError):
    """The resource server still answered 401 after a fresh authorization."""


class InsufficientScopeError(DemoClientError):
    """RFC 6750 §3.1 `insufficient_scope`, raised instead of looping (SEP-835 retry limits).

    Carries what the server asked for so a caller can decide what to do; the message states
    truthfully how many step-up authorizations were attempted for this request.
    """

    def __init__(
        self,
        *,
        required_scope: list[str],
        resource_metadata: str | None,
        error_description: str | None,
        attempts: int,
        reason: str,
    ) -> None:
        self.required_scope = required_scope
        self.resource_metadata = resource_metadata
        self.error_description = error_description
        self.attempts = attempts
        self.reason = reason
        described = f" ({error_description})" if error_description else ""
        super().__init__(
            f"the server requires scope {' '.join(required_scope) or '(unspecified)'}"
            f"{described}; {reason}"
        )
