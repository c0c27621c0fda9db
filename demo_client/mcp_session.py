"""Open an MCP session over Streamable HTTP with the `mcp` SDK, authenticated by `StepUpAuth`.

MCP itself is not hand-written here: `Client` and `streamable_http_client` come from the
official SDK. An error raised inside the auth flow tears down the SDK transport's task group
and reaches the caller wrapped in an `ExceptionGroup`; `session()` unwraps it so callers catch
this client's typed errors (`InsufficientScopeError`, `IssuerMismatchError`, ...) directly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation

from demo_client.errors import DemoClientError

CLIENT_INFO = Implementation(name="demo-client", version="0.1.0")


class CertificatesOnFirstUse(ssl.SSLContext):
    """What `ssl.create_default_context()` makes (a TLS client context that requires a valid
    certificate for the host name, trusting the system's CA certificates, `SSLKEYLOGFILE`
    honoured), except that the CA certificates are loaded when the first TLS connection starts
    rather than when the context is made. Loading them costs ~20 ms of CPU, and in embedded
    mode every URL is http://127.0.0.1: no connection of the story ever needs them. Until they
    are loaded the store is empty, so a handshake could only fail verification, never pass it."""

    def __new__(cls) -> CertificatesOnFirstUse:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self) -> None:
        super().__init__()
        self.verify_mode = ssl.CERT_REQUIRED
        self.check_hostname = True
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            self.keylog_filename = keylog
        self._loaded = False
        self._loading = threading.Lock()

    def _load_certificates(self) -> None:
        with self._loading:
            if not self._loaded:
                self.load_default_certs(ssl.Purpose.SERVER_AUTH)
                self._loaded = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # asyncio, anyio
        self._load_certificates()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # blocking sockets
        self._load_certificates()
        return super().wrap_socket(*args, **kwargs)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One default TLS context (certificate verification on) shared by every HTTP client this
    process makes: the CA bundle is loaded at most once, and only if a URL is https."""
    return CertificatesOnFirstUse()


def http_client(**kwargs: Any) -> httpx2.AsyncClient:
    """An `httpx2.AsyncClient` that verifies TLS with the shared context."""
    return httpx2.AsyncClient(verify=tls_context(), **kwargs)


def first_client_error(exc: BaseException) -> DemoClientError | None:
    """The first of our typed errors inside (possibly nested) exception groups."""
    if isinstance(exc, DemoClientError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_client_error(inner)
            if found is not None:
                return found
    if exc.__cause__ is not None and exc.__cause__ is not exc:
        return first_client_error(exc.__cause__)
    return None


@contextlib.asynccontextmanager
async def session(server_url: str, auth: httpx2.Auth) -> AsyncIterator[Client]:
    """A connected SDK `Client`; our typed errors propagate unwrapped.

    `Client` negotiates the protocol era itself (probes `server/discover`, falls back to the
    `initialize` handshake), so the same code talks to 2025-11-25 and 2026-07-28 servers.
    """
    try:
        async with (
            http_client(auth=auth, timeout=httpx2.Timeout(30.0, read=300.0)) as http,
            Client(
                streamable_http_client(server_url, http_client=http), client_info=CLIENT_INFO
            ) as mcp,
        ):
            yield mcp
    except BaseException as exc:
        found = first_client_error(exc)
        if found is not None and found is not exc:
            raise found from None
        raise
