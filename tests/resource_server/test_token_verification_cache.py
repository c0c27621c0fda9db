"""The verified-token cache skips the repeated ES256 check, never the time window, and is bounded
by the memory it holds (not by a count a workshop exceeds)."""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

import anyio
import pytest

from scoped_tools_server.token_errors import TokenExpired
from scoped_tools_server.token_verification import (
    DEFAULT_CACHE_BYTES,
    JwtTokenVerifier,
    VerifiedToken,
    VerifiedTokenCache,
    decode_claims,
    verified_token_from_claims,
)


def _as_issued(index: int, exp: float) -> tuple[str, VerifiedToken]:
    """A token string and its verified form shaped like demo_as's RFC 9068 access tokens: the
    claims decoded from JSON, as the verifier holds them."""
    claims = {
        "iss": "http://127.0.0.1:9000",
        "sub": f"user-{index}",
        "aud": "http://127.0.0.1:8000/mcp",
        "client_id": f"client-{index:024d}",
        "scope": "notes:read notes:write notes:delete offline_access",
        "iat": int(exp) - 300,
        "exp": int(exp),
        "jti": f"{index:032x}",
    }
    payload = json.dumps(claims).encode()
    token = f"eyJhbGciOiJFUzI1NiJ9.{payload.hex()}.{'s' * 86}"
    return token, verified_token_from_claims(decode_claims(payload))


def _verified(exp: float) -> VerifiedToken:
    claims: dict[str, Any] = {"exp": exp, "sub": "alice"}
    return VerifiedToken(
        subject="alice",
        client_id="c",
        scopes=frozenset({"notes:read"}),
        expires_at=int(exp),
        issuer="http://127.0.0.1:9000",
        audience=("http://127.0.0.1:8000/mcp",),
        claims=claims,
    )


def test_a_workshop_of_ten_thousand_live_tokens_stays_cached_within_the_default_budget() -> None:
    cache = VerifiedTokenCache()
    tokens = [_as_issued(index, time.time() + 300) for index in range(10_000)]
    for token, verified in tokens:
        cache.put(token, verified)
    assert len(cache) == 10_000
    assert cache.bytes_used <= DEFAULT_CACHE_BYTES
    assert all(cache.get(token) is verified for token, verified in tokens)


def test_the_cache_charges_each_entry_what_it_really_allocates() -> None:
    """The byte count the bound is enforced on agrees with what tracemalloc sees the same
    entries allocate (decoded claims, VerifiedToken, key, OrderedDict slot)."""
    expiry = time.time() + 300
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache = VerifiedTokenCache()
        for index in range(2_000):
            cache.put(*_as_issued(index, expiry))
        allocated = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.8 * allocated <= cache.bytes_used <= 1.25 * allocated


def test_the_cache_is_bounded_by_bytes_and_keeps_the_most_recent() -> None:
    expiry = time.time() + 300
    one_entry = VerifiedTokenCache()
    one_entry.put(*_as_issued(0, expiry))
    cache = VerifiedTokenCache(max_bytes=one_entry.bytes_used * 100)
    tokens = [_as_issued(index, expiry) for index in range(250)]
    for token, verified in tokens:
        cache.put(token, verified)
    assert cache.bytes_used <= cache.max_bytes
    assert 90 <= len(cache) <= 100
    assert cache.get(tokens[0][0]) is None
    assert cache.get(tokens[-1][0]) is tokens[-1][1]


def test_expired_entries_leave_the_cache_before_live_ones() -> None:
    cache = VerifiedTokenCache()
    now = 1_000_000.0
    stale_token, stale = _as_issued(1, exp=now + 10)
    cache.put(stale_token, stale, now=now)
    cache.put(*_as_issued(2, exp=now + 300), now=now + 20)
    assert cache.get(stale_token) is None
    assert len(cache) == 1


def test_a_cached_token_is_refused_once_it_expires_and_leaves_the_cache() -> None:
    now = [1000.0]

    class NoKeys:
        async def key_for(self, kid: str) -> None:
            raise AssertionError("a cache hit must not look up keys")

    verifier = JwtTokenVerifier(
        NoKeys(),  # type: ignore[arg-type]
        issuer="http://127.0.0.1:9000",
        resource_url="http://127.0.0.1:8000/mcp",
        leeway=0,
        clock=lambda: now[0],
    )
    verifier._verified.put("token", _verified(exp=1010.0), now=now[0])
    assert anyio.run(verifier.verify, "token").subject == "alice"
    now[0] = 1010.0
    with pytest.raises(TokenExpired):
        anyio.run(verifier.verify, "token")
    assert len(verifier._verified) == 0
