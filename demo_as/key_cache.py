"""The AS's own public keys, held in memory for checking its own tokens (/introspect, /revoke).

Reading the signing keys from the database and importing them as JWKs on every introspection
cost more than the signature check itself. Keys change only when a process sharing the database
creates one (``keys.load_or_create_signing_key``: two servers starting together may both add a
key, and each signs with the oldest it saw), so a token signed by a key this process has not
loaded names a ``kid`` it does not know: that, and only that, reloads the keys (RFC 7515 §4.1.4,
``kid`` picks the key). Reloads are at most one per ``min_reload_seconds``, so tokens with
made-up ``kid`` values cannot turn every request into a database read.

``/jwks`` is not served from here: it reads the database, so every process publishes every
stored key (resource servers fetch it once and on an unknown ``kid``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet


def token_kid(token: str) -> str | None:
    """The ``kid`` of a compact JWS's protected header, or None when it has none or is not one."""
    try:
        kid = jws.extract_compact(token.encode("ascii")).headers().get("kid")
    except (JoseError, ValueError, TypeError, UnicodeError):
        return None
    return kid if isinstance(kid, str) else None


class VerificationKeys:
    """The stored keys, loaded on first use and again only for a token naming an unknown kid."""

    def __init__(
        self,
        *,
        min_reload_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._min_reload = min_reload_seconds
        self._clock = clock
        self._lock = threading.Lock()  # sync endpoints run in a thread pool
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self.loads = 0

    @property
    def current(self) -> KeySet | None:
        """The key set loaded last (a new object after every reload), None before the first."""
        return self._keys

    def _reload(self, load: Callable[[], KeySet]) -> KeySet:
        keys = load()
        self._keys = keys
        self._kids = frozenset(str(key.kid) for key in keys.keys)
        self._loaded_at = self._clock()
        self.loads += 1
        return keys

    def for_token(self, token: str, load: Callable[[], KeySet]) -> KeySet:
        """The keys to verify ``token`` with; ``load`` reads them from the database, called on
        first use and when ``token`` names a kid not loaded (at most once per interval)."""
        keys = self._keys
        if keys is not None:
            kid = token_kid(token)
            if kid is None or kid in self._kids:
                return keys
        with self._lock:
            if self._keys is None:
                return self._reload(load)
            kid = token_kid(token)
            if kid not in self._kids and self._clock() - self._loaded_at >= self._min_reload:
                return self._reload(load)
            return self._keys
