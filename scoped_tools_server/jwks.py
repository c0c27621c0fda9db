"""Where the AS's signing keys come from: AS metadata → ``jwks_uri`` → a cached JWKS.

``as_metadata.discover_endpoint`` finds ``jwks_uri`` (RFC 8414 §3, issuer checked per §3.3).
RFC 7517 §5: the JWKS is a ``keys`` array.
Keys are fetched lazily (so the RS can start before the AS), cached, and refetched when a token
names an unknown ``kid`` (the AS rotated its key) — at most once per ``min_refetch_seconds`` so a
flood of tokens with made-up ``kid`` values cannot turn into a flood of requests to the AS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, import_key

from scoped_tools_server.as_metadata import discover_endpoint
from scoped_tools_server.outbound_http import async_client
from scoped_tools_server.token_errors import AuthServerUnavailable

logger = logging.getLogger(__name__)

ACCEPTED_ALGORITHM = "ES256"
"""The one signature algorithm this server accepts (the demo AS signs ES256; RFC 8725 §3.1)."""


def signing_key_from_jwk(jwk: dict[str, Any]) -> ECKey | None:
    """Accept only P-256 EC signature keys (the only kind that can verify ES256, RFC 7518 §3.4)."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or not isinstance(jwk.get("kid"), str):
        return None
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", ACCEPTED_ALGORITHM) != ACCEPTED_ALGORITHM:
        return None
    try:
        key = import_key(jwk, "EC")
    except (JoseError, ValueError, TypeError):
        return None
    if key.is_private:
        # A JWKS must never carry private parts; use only the public half if it does.
        key = import_key(key.as_dict(private=False), "EC")
    return key


class JwksCache:
    """The AS's public signing keys by ``kid``."""

    def __init__(
        self,
        issuer: str,
        as_base_url: str,
        *,
        min_refetch_seconds: float = 30.0,
        http_client: Callable[[], httpx2.AsyncClient] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.as_base_url = as_base_url.rstrip("/")
        self.min_refetch_seconds = min_refetch_seconds
        self._http_client = http_client or (lambda: async_client(timeout=10.0))
        self._clock = clock
        self._keys: dict[str, ECKey] = {}
        self._jwks_url: str | None = None
        self._last_fetch: float | None = None
        self._lock = anyio.Lock()
        self.fetch_count = 0

    async def key_for(self, kid: str) -> ECKey | None:
        """The key with ``kid``; refetches the JWKS (rate-limited) when it is not cached."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._keys.get(kid)
            if key is None and self._may_refetch():
                await self._refresh()
                key = self._keys.get(kid)
        return key

    def _may_refetch(self) -> bool:
        if self._last_fetch is None:
            return True
        return self._clock() - self._last_fetch >= self.min_refetch_seconds

    async def _refresh(self) -> None:
        self._last_fetch = self._clock()
        try:
            async with self._http_client() as client:
                if self._jwks_url is None:
                    self._jwks_url = await discover_endpoint(
                        client, self.as_base_url, self.issuer, "jwks_uri"
                    )
                response = await client.get(self._jwks_url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            logger.warning("could not fetch the AS's JWKS: %s", exc)
            if not self._keys:
                # Allow an immediate retry: nothing was ever loaded, the AS may just be starting.
                self._last_fetch = None
            raise AuthServerUnavailable(
                f"could not fetch the authorization server's keys: {exc}"
            ) from exc
        self.fetch_count += 1
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise AuthServerUnavailable("the authorization server's JWKS has no keys array")
        loaded = {}
        for jwk in keys:
            key = signing_key_from_jwk(jwk) if isinstance(jwk, dict) else None
            if key is not None:
                loaded[str(key.kid)] = key
        self._keys = loaded
        logger.info("loaded %d signing key(s) from the AS", len(loaded))
