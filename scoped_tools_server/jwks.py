"""Where the AS's signing keys come from: AS metadata → ``jwks_uri`` → a cached JWKS.

RFC 8414 §3: the metadata lives at ``/.well-known/oauth-authorization-server``; its ``issuer``
must equal the configured issuer (RFC 8414 §3.3). RFC 7517 §5: the JWKS is a ``keys`` array.
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

from scoped_tools_server.token_errors import AuthServerUnavailable

logger = logging.getLogger(__name__)

AS_METADATA_PATH = "/.well-known/oauth-authorization-server"


def internal_url(public_url: str, issuer: str, internal_base: str | None) -> str:
    """Rewrite a URL the AS published under its public issuer onto the internal base URL.

    Containers: the AS advertises ``http://127.0.0.1:9000/jwks`` but this process may only reach
    it as ``http://as:9000``. Only URLs under the issuer are rewritten; anything else is used as is.
    """
    if internal_base and public_url.startswith(issuer.rstrip("/") + "/"):
        return internal_base.rstrip("/") + public_url[len(issuer.rstrip("/")) :]
    return public_url


def signing_key_from_jwk(jwk: dict[str, Any]) -> ECKey | None:
    """Accept only P-256 EC signature keys (the only kind that can verify ES256, RFC 7518 §3.4)."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or not isinstance(jwk.get("kid"), str):
        return None
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "ES256") != "ES256":
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
        self._http_client = http_client or (lambda: httpx2.AsyncClient(timeout=10.0))
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
                    self._jwks_url = await self._discover_jwks_url(client)
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

    async def _discover_jwks_url(self, client: httpx2.AsyncClient) -> str:
        """RFC 8414 §3: fetch the metadata; §3.3: its ``issuer`` must be exactly ours."""
        response = await client.get(self.as_base_url + AS_METADATA_PATH)
        response.raise_for_status()
        metadata = response.json()
        if not isinstance(metadata, dict) or metadata.get("issuer") != self.issuer:
            found = metadata.get("issuer") if isinstance(metadata, dict) else None
            raise AuthServerUnavailable(
                f"AS metadata names issuer {found!r}, expected {self.issuer!r} (RFC 8414 §3.3)"
            )
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise AuthServerUnavailable("AS metadata has no jwks_uri")
        internal_base = self.as_base_url if self.as_base_url != self.issuer.rstrip("/") else None
        return internal_url(jwks_uri, self.issuer, internal_base)
