"""The verified-token cache skips the repeated ES256 check, never the time window."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from scoped_tools_server.token_errors import TokenExpired
from scoped_tools_server.token_verification import (
    JwtTokenVerifier,
    VerifiedToken,
    VerifiedTokenCache,
)


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


def test_cache_is_bounded_and_keeps_the_most_recent() -> None:
    cache = VerifiedTokenCache(max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(name, _verified(time.time() + 60))
    assert cache.get("a") is None
    assert cache.get("b") is not None and cache.get("c") is not None


def test_a_cached_token_is_refused_once_it_expires() -> None:
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
    verifier._verified.put("token", _verified(exp=1010.0))
    assert anyio.run(verifier.verify, "token").subject == "alice"
    now[0] = 1010.0
    with pytest.raises(TokenExpired):
        anyio.run(verifier.verify, "token")
