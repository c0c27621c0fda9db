"""The AS's memory of its own access tokens whose signature it already checked (/introspect).

A resource server introspects the same token on every request it serves (RFC 7662 §2.1), and the
ES256 check was a seventh of the AS's CPU per introspection (bench/profiling.md §4b). Only the
checks whose answer cannot change are remembered: the signature with one of our keys, ``typ``
``at+jwt``, ``iss`` our issuer, the claims' types (jwt_access_tokens.verified_access_token_claims).
What can change is checked on every call, as before:

* the time window (RFC 7519 §4.1.4 ``exp``, §4.1.5 ``nbf``, and ``iat`` not in the future, the
  comparisons joserfc makes): ``active_at``;
* revocation (RFC 7662 §2.2: active means issued, not expired *and not revoked*), read from the
  database by the caller every time, whatever this cache holds.

An entry is trusted only for the very token it was made from (keyed by the token's SHA-256, so the
bearer token itself is not kept in memory) and only with the key set it was verified against:
when the process loads the keys again (key_cache.VerificationKeys: a token named a key it had not
loaded, so the stored keys changed) every entry made with the older set is a miss and is checked
in full again. Only tokens that passed every check are stored, so forged or junk tokens cost a
full check each and cannot fill the memory.

Bounded by bytes, like the resource server's cache (scoped_tools_server/token_verification.py,
which this mirrors; the packages share no code): each entry is charged its key, its claims and its
answer; the least recently used leave once the total passes ``max_bytes``, and expired ones as
soon as they are seen.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import KeySet

DEFAULT_CACHE_BYTES = 32 * 1024 * 1024  # as the RS: about 17,000 tokens (1.9 KiB charged each)
# An OrderedDict entry's own cost (hash slot, linked-list node, the tuple), beyond key and value.
ENTRY_OVERHEAD_BYTES = 200
# The claims an active answer repeats as they are, after ``token_type`` (RFC 7662 §2.2).
ANSWER_CLAIMS = ("exp", "iat", "nbf", "sub", "aud", "iss", "jti")


@dataclass(frozen=True)
class VerifiedToken:
    """One of our tokens whose signature and static claims passed: its claims, the time window
    they allow, the JSON body of its active answer, and its lab fingerprint (lab.journal:
    computed once here rather than on every introspection the lab records)."""

    claims: dict[str, Any]
    valid_from: int | float
    expires_at: int | float
    keys: KeySet
    answer: bytes
    fingerprint: str

    def active_at(self, at: int) -> bool:
        """joserfc's checks (``exp`` > now, ``nbf`` and ``iat`` ≤ now) made again for ``at``."""
        return self.valid_from <= at < self.expires_at


def active_answer(claims: dict[str, Any]) -> bytes:
    """RFC 7662 §2.2 body for an active token: ``active`` first, then the fields present, in
    IntrospectionResponse's order, as its ``model_dump(exclude_none=True)`` and Starlette's
    JSONResponse rendered it (a test holds the two equal)."""
    values = {
        "active": True,
        "scope": claims.get("scope"),
        "client_id": claims.get("client_id"),
        "username": claims.get("sub"),
        "token_type": "Bearer",
        **{name: claims.get(name) for name in ANSWER_CLAIMS},
    }
    body = {name: value for name, value in values.items() if value is not None}
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def verified_token(claims: dict[str, Any], keys: KeySet, fingerprint: str) -> VerifiedToken:
    """The entry for claims that passed every check with ``keys``."""
    starts = [claims[name] for name in ("nbf", "iat") if claims.get(name) is not None]
    return VerifiedToken(
        claims, max(starts, default=0), claims["exp"], keys, active_answer(claims), fingerprint
    )


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _size(key: bytes, verified: VerifiedToken) -> int:
    claims = sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in verified.claims.items())
    return (
        sys.getsizeof(key)
        + sys.getsizeof(verified.claims)
        + claims
        + sys.getsizeof(verified.answer)
        + sys.getsizeof(verified)
        + ENTRY_OVERHEAD_BYTES
    )


class VerifiedTokens:
    """Byte-bounded, least recently used first. ``get`` is a miss for a token verified with a key
    set other than ``keys`` (the process's current one)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes_used = 0
        self._entries: OrderedDict[bytes, tuple[VerifiedToken, int]] = OrderedDict()
        self._lock = threading.Lock()  # the thread pool serves /introspect off SQLite

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, keys: KeySet | None) -> VerifiedToken | None:
        key = _key(token)
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            if hit[0].keys is not keys:  # the keys were reloaded since: check it in full again
                self._discard(key)
                return None
            self._entries.move_to_end(key)
            return hit[0]

    def put(self, token: str, verified: VerifiedToken, at: int) -> None:
        key = _key(token)
        size = _size(key, verified)
        with self._lock:
            self._discard(key)
            if size > self.max_bytes:
                return
            self._entries[key] = (verified, size)
            self.bytes_used += size
            self._evict(at)

    def _discard(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes_used -= entry[1]

    def _evict(self, at: int) -> None:
        """Oldest first: expired entries, then whatever brings the total under the budget."""
        while self._entries:
            oldest_key, (oldest, _size) = next(iter(self._entries.items()))
            if self.bytes_used <= self.max_bytes and oldest.expires_at > at:
                return
            self._discard(oldest_key)
