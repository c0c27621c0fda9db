"""The RS's outbound HTTP clients (JWKS and AS metadata, introspection, lab reports).

They share one TLS context: building one loads the CA bundle (~60 ms of CPU here), and each new
``httpx2.AsyncClient`` would otherwise build its own at start-up, whether it ever speaks TLS or not.
All of them trust the same CAs (certifi's, as httpx2's default does).
"""

from __future__ import annotations

import functools
import ssl

import httpx2


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx2's default verifying context, built once per process."""
    return httpx2.create_ssl_context()


def async_client(timeout: float) -> httpx2.AsyncClient:
    """A client for one of the RS's outbound uses, with the shared TLS context."""
    return httpx2.AsyncClient(timeout=timeout, verify=tls_context())
