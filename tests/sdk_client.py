"""The official `mcp` SDK client as tests open it: ``OAuthClientProvider`` on an
``httpx2.AsyncClient``, ``streamable_http_client`` and a connected ``ClientSession`` in either
protocol revision (2026-07-28 connects with ``server/discover``, earlier ones ``initialize``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from sdk_token_storage import MemoryStorage


@contextlib.asynccontextmanager
async def sdk_session(
    resource_url: str,
    *,
    mode: str,
    client_name: str,
    redirect_uri: str,
    storage: MemoryStorage,
    redirect_handler: Callable[[str], Awaitable[None]],
    callback_handler: Callable[[], Awaitable[AuthorizationCodeResult]],
) -> AsyncIterator[ClientSession]:
    """A connected SDK session; the client registers as a public client with refresh tokens."""
    auth = OAuthClientProvider(
        server_url=resource_url,
        client_metadata=OAuthClientMetadata(
            client_name=client_name,
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30.0) as http,
        streamable_http_client(resource_url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        if mode == "2026-07-28":
            await session.discover()
        else:
            await session.initialize()
        yield session
