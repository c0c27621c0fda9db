"""Run the peer's AS or RS (``mcp_simple_auth``, found on ``PYTHONPATH``; see ``peer.py``).

    python bench/peer_launcher.py as --port N
    python bench/peer_launcher.py rs-pooled --port N --auth-server URL

``rs-pooled`` runs the peer's RS unchanged except that every ``httpx2.AsyncClient`` its token
verifier opens per request is one shared client whose connections stay open (keep-alive), so the
peer's introspection pays one round trip per request, not a TCP connection too.
"""

from __future__ import annotations

import sys
from typing import Any

import httpx2


class _SharedClient:
    """Stands in for ``httpx2.AsyncClient(...)`` used as ``async with``: one pooled client."""

    client: httpx2.AsyncClient | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _SharedClient.client is None:
            _SharedClient.client = _ORIGINAL_CLIENT(*args, **kwargs)

    async def __aenter__(self) -> httpx2.AsyncClient:
        assert _SharedClient.client is not None
        return _SharedClient.client

    async def __aexit__(self, *exc: object) -> None:
        return None


_ORIGINAL_CLIENT = httpx2.AsyncClient


def main() -> None:
    role, argv = sys.argv[1], sys.argv[2:]
    if role == "as":
        from mcp_simple_auth.auth_server import main as peer_main
    elif role == "rs-pooled":
        from mcp_simple_auth import token_verifier
        from mcp_simple_auth.server import main as peer_main

        assert token_verifier  # the verifier does `import httpx2` per call: patch the module
        httpx2.AsyncClient = _SharedClient  # type: ignore[misc]
    else:
        raise SystemExit(f"unknown role {role!r}: as | rs-pooled")
    peer_main(argv)


if __name__ == "__main__":
    main()
