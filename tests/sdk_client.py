"""The official `mcp` SDK client as tests open it: ``OAuthClientProvider`` on an
``httpx2.AsyncClient``, ``streamable_http_client`` and a connected ``ClientSession`` in either
protocol revision (2026-07-28 connects with ``server/discover``, earlier ones ``initialize``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2
from harness.oauth_flow import registration_metadata
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from sdk_token_storage import MemoryStorage


def sdk_provider(
    resource_url: str,
    *,
    client_name: str,
    redirect_uri: str,
    storage: MemoryStorage,
    redirect_handler: Callable[[str], Awaitable[None]],
    callback_handler: Callable[[], Awaitable[AuthorizationCodeResult]],
    client_metadata_url: str | None = None,
) -> OAuthClientProvider:
    """The SDK's ``OAuthClientProvider`` for ``resource_url``, registering (or, with
    ``client_metadata_url``, identifying by CIMD) as the test kit's public client with refresh
    tokens (``harness.oauth_flow.registration_metadata``)."""
    metadata = registration_metadata([redirect_uri], client_name=client_name)
    return OAuthClientProvider(
        server_url=resource_url,
        client_metadata=OAuthClientMetadata(**metadata),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=client_metadata_url,
    )


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
    auth = sdk_provider(
        resource_url,
        client_name=client_name,
        redirect_uri=redirect_uri,
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
