"""Where this server finds the AS's endpoints: its metadata document (RFC 8414), not guesses.

RFC 8414 §3: the metadata lives at ``/.well-known/oauth-authorization-server``; §3.3: its
``issuer`` must equal the configured issuer, or nothing in it is used. ``jwks_uri`` (the signing
keys, ``--token-check jwt``) and ``introspection_endpoint`` (RFC 7662, ``--token-check
introspect``) are read from it, then rewritten onto the internal base URL when the AS is reached
under another name than its issuer (containers).
"""

from __future__ import annotations

from typing import Any

import httpx2

from scoped_tools_server.token_errors import AuthServerUnavailable

AS_METADATA_PATH = "/.well-known/oauth-authorization-server"


def internal_url(public_url: str, issuer: str, internal_base: str | None) -> str:
    """Rewrite a URL the AS published under its public issuer onto the internal base URL.

    Containers: the AS advertises ``http://127.0.0.1:9000/jwks`` but this process may only reach
    it as ``http://as:9000``. Only URLs under the issuer are rewritten; anything else is used as is.
    """
    if internal_base and public_url.startswith(issuer.rstrip("/") + "/"):
        return internal_base.rstrip("/") + public_url[len(issuer.rstrip("/")) :]
    return public_url


async def discover_endpoint(
    client: httpx2.AsyncClient, as_base_url: str, issuer: str, name: str
) -> str:
    """The AS metadata's ``name`` endpoint (e.g. ``jwks_uri``), as this process must call it.

    Raises ``AuthServerUnavailable`` (→ 503) when the document cannot be fetched, names another
    issuer (RFC 8414 §3.3), or lacks the endpoint. ``httpx2.HTTPError`` and ``ValueError``
    (unreadable JSON) are left to the caller, which also treats them as "unavailable".
    """
    base = as_base_url.rstrip("/")
    response = await client.get(base + AS_METADATA_PATH, headers={"Accept": "application/json"})
    response.raise_for_status()
    metadata: Any = response.json()
    if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
        found = metadata.get("issuer") if isinstance(metadata, dict) else None
        raise AuthServerUnavailable(
            f"AS metadata names issuer {found!r}, expected {issuer!r} (RFC 8414 §3.3)"
        )
    url = metadata.get(name)
    if not isinstance(url, str) or not url:
        raise AuthServerUnavailable(f"AS metadata has no {name}")
    internal_base = base if base != issuer.rstrip("/") else None
    return internal_url(url, issuer, internal_base)
