"""Access-token validation by asking the AS (RFC 7662 introspection): ``--token-check introspect``.

Trade-off against local JWT checks: a revoked token stops working on the very next request, at the
cost of one round trip to the AS per MCP request (concurrent requests with one token share one,
``introspection_sharing.py``; the RS depends on the AS being up). The
request is authenticated with ``Authorization: Bearer <introspection_secret>`` (our AS's contract,
docs/architecture.md §Introspection; RFC 7662 §2.1 requires *some* authorization).

The endpoint is the AS metadata's ``introspection_endpoint`` (RFC 8414 §2), discovered on first
use like ``jwks_uri``. The response is not trusted blindly: ``active`` must be true, and
``aud``/``iss``/``exp`` are checked with the same rule functions the JWT path uses, so both paths
accept the same tokens.

Refused token or outage: an AS that answers 400 (or 413/422) has looked at the request and refused
the token in it (e.g. longer than it accepts), so the token is refused, 401 ``invalid_token``;
only an AS that cannot be reached, fails (5xx) or refuses *us* (401/403: a wrong introspection
secret) is an outage, 503 (``AuthServerUnavailable``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx2

from scoped_tools_server.as_metadata import discover_endpoint
from scoped_tools_server.introspection_sharing import SharedIntrospections
from scoped_tools_server.outbound_http import async_client
from scoped_tools_server.token_errors import (
    AuthServerUnavailable,
    InactiveToken,
    IntrospectionRefused,
    MissingClaim,
    TokenRejected,
)
from scoped_tools_server.token_verification import (
    VerifiedToken,
    check_audience,
    check_issuer,
    check_time_window,
    signed_client_id,
    verified_token_from_claims,
)

logger = logging.getLogger(__name__)

TOKEN_REFUSED_STATUSES = frozenset({400, 413, 422})
"""The AS read the request and refused what it carries: the only variable part is the token."""

RETRIED_ONCE = (httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError)
"""A pooled keep-alive connection the AS closed just as a request went out (its idle timeout):
the request never got an answer. Introspection is a read (RFC 7662 §2.1: it only asks about
the token), so it is sent again once on a new connection; a second failure is an outage."""


def require_active(response: dict[str, Any]) -> None:
    """RFC 7662 §2.2: ``active`` is REQUIRED; anything but ``true`` means the token is unusable
    (expired, revoked, unknown, or not for this caller) and the AS "SHOULD NOT" say which."""
    if response.get("active") is not True:
        raise InactiveToken()


def check_introspection_status(status: int) -> None:
    """RFC 7662 §2.3: "If the protected resource uses OAuth 2.0 client credentials ... and the
    client credentials are invalid, the authorization server responds with an HTTP 401" (our
    secret is wrong: an outage of this server's set-up, 503); RFC 6749 §5.2 ``invalid_request``
    (400) for a request it will not process: the token in it is refused (401 ``invalid_token``)."""
    if status == 200:
        return
    if status in TOKEN_REFUSED_STATUSES:
        raise IntrospectionRefused(
            f"The authorization server refused to introspect this access token (HTTP {status})"
        )
    raise AuthServerUnavailable(f"token introspection answered HTTP {status}")


def claims_from_introspection(response: dict[str, Any], issuer: str) -> dict[str, Any]:
    """Normalise an RFC 7662 §2.2 response into JWT-style claims for the shared checks.

    ``iss`` is OPTIONAL in RFC 7662; when absent, the answer came from the one AS we are configured
    to trust (MCP Authorization §Token Handling: the RS accepts only tokens its own AS issued).
    """
    claims = dict(response)
    claims.setdefault("iss", issuer)
    for name in ("sub", "client_id", "aud", "exp"):
        if name not in claims:
            raise MissingClaim(f"The introspection response lacks {name} (RFC 7662 section 2.2)")
    if not isinstance(claims["sub"], str) or not isinstance(claims["client_id"], str):
        raise MissingClaim("The introspection response's sub/client_id are not strings")
    if isinstance(claims["exp"], bool) or not isinstance(claims["exp"], int | float):
        raise MissingClaim("The introspection response's exp is not a number")
    return claims


class IntrospectionTokenVerifier:
    """Asks the AS about every request's token (no cache: immediate revocation is the reason to
    use this). Concurrent requests with one token share a call that started after each of them
    arrived (``introspection_sharing``)."""

    def __init__(
        self,
        *,
        issuer: str,
        as_base_url: str,
        secret: str,
        resource_url: str,
        leeway: int = 30,
        http_client: Callable[[], httpx2.AsyncClient] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.as_base_url = as_base_url.rstrip("/")
        self.endpoint: str | None = None  # from the AS metadata, on first use
        self._secret = secret
        self.resource_url = resource_url
        self.leeway = leeway
        self._make_client = http_client or (lambda: async_client(timeout=10.0))
        self._client: httpx2.AsyncClient | None = None
        self._clock = clock
        self._shared = SharedIntrospections(self._introspect)

    async def verify(self, token: str) -> VerifiedToken:
        response = await self._shared.introspect(token)
        require_active(response)
        claims = claims_from_introspection(response, self.issuer)
        try:
            check_issuer(claims, self.issuer)
            check_audience(claims, self.resource_url)
            check_time_window(claims, self._clock(), self.leeway)
        except TokenRejected as reason:
            reason.client_id = signed_client_id(claims)  # the AS vouched for it
            raise
        return verified_token_from_claims(claims)

    async def aclose(self) -> None:
        """Close the pooled HTTP client (called when the app shuts down)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 §2.1: POST ``token`` form-encoded, with ``token_type_hint=access_token``."""
        if self._client is None:
            # One pooled client for the server's lifetime: the round trip is the price of this
            # mode, a new TCP connection per request should not be.
            self._client = self._make_client()
        try:
            if self.endpoint is None:
                self.endpoint = await discover_endpoint(
                    self._client, self.as_base_url, self.issuer, "introspection_endpoint"
                )
            try:
                response = await self._post(token)
            except RETRIED_ONCE as exc:
                logger.info("token introspection: %s on a pooled connection; sent again", exc)
                response = await self._post(token)
            check_introspection_status(response.status_code)
            body = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            logger.warning("token introspection failed: %s", type(exc).__name__)
            raise AuthServerUnavailable(f"token introspection failed: {exc}") from exc
        if not isinstance(body, dict):
            raise AuthServerUnavailable("the introspection response is not a JSON object")
        return body

    async def _post(self, token: str) -> httpx2.Response:
        assert self._client is not None and self.endpoint is not None
        return await self._client.post(
            self.endpoint,
            data={"token": token, "token_type_hint": "access_token"},
            headers={"Authorization": f"Bearer {self._secret}", "Accept": "application/json"},
        )
