"""Run ``scoped-tools-server`` with the fixes proposed in results.md *monkeypatched in*.

An experiment, not a fix: the real change belongs in ``scoped_tools_server`` (see results.md,
*Profile*). Used by ``compare_fixes.py`` as a prefix before the console script's path:

    python bench/proposed_fixes.py /path/to/scoped-tools-server --port ...

``BENCH_FIXES`` (comma-separated) picks the fixes:

- ``cache``: ``JwtTokenVerifier.verify`` remembers the ``VerifiedToken`` of each token string it
  verified (bounded, 1024 entries) and on a hit only re-checks the time window (RFC 7519 §4.1.4).
- ``client``: ``IntrospectionTokenVerifier`` keeps one ``httpx2.AsyncClient`` (keep-alive to the
  AS) instead of opening a client and a connection per request.
- ``quietlog``: the ``httpx2``/``httpcore2`` loggers at WARNING, so the per-introspection INFO
  line is not rendered by the RichHandler that ``MCPServer`` installs on the root logger.

Delete this file when the fixes land.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import httpx2
import mcp.server.mcpserver.server as mcp_server

import scoped_tools_server.introspection as introspection
import scoped_tools_server.token_verification as token_verification

CACHE_ENTRIES = 1024
FIXES = set(os.environ.get("BENCH_FIXES", "").split(","))


def patch_verified_token_cache() -> None:
    original = token_verification.JwtTokenVerifier.verify

    async def verify(self: Any, token: str) -> token_verification.VerifiedToken:
        cache = self.__dict__.setdefault("_verified", {})
        hit = cache.get(token)
        if hit is not None:
            token_verification.check_time_window(hit.claims, self._clock(), self.leeway)
            return hit
        verified = await original(self, token)
        if len(cache) >= CACHE_ENTRIES:
            cache.pop(next(iter(cache)))
        cache[token] = verified
        return verified

    token_verification.JwtTokenVerifier.verify = verify  # type: ignore[method-assign]


def patch_shared_introspection_client() -> None:
    original = introspection.IntrospectionTokenVerifier.__init__

    class Borrowed:
        def __init__(self, client: httpx2.AsyncClient) -> None:
            self.client = client

        async def __aenter__(self) -> httpx2.AsyncClient:
            return self.client

        async def __aexit__(self, *exc: object) -> None:
            return None

    def init(self: Any, **kwargs: Any) -> None:
        original(self, **kwargs)
        shared = httpx2.AsyncClient(timeout=10.0)
        self._http_client = lambda: Borrowed(shared)

    introspection.IntrospectionTokenVerifier.__init__ = init  # type: ignore[method-assign]


def patch_quiet_http_logs() -> None:
    original = mcp_server.configure_logging

    def configure(level: Any = "INFO") -> None:
        original(level)
        logging.getLogger("httpx2").setLevel(logging.WARNING)
        logging.getLogger("httpcore2").setLevel(logging.WARNING)

    mcp_server.configure_logging = configure


if __name__ == "__main__":
    if "cache" in FIXES:
        patch_verified_token_cache()
    if "client" in FIXES:
        patch_shared_introspection_client()
    if "quietlog" in FIXES:
        patch_quiet_http_logs()
    sys.argv = sys.argv[1:]
    from scoped_tools_server.cli import main

    main()
