"""The OAuth 2.1 round trips the bench times, as plain HTTP against ``demo-as --auto-approve``.

One *token round trip* is what a new MCP client does before its first call: RFC 7591
registration (public client, ``token_endpoint_auth_method=none``), ``GET /authorize`` with PKCE
S256 and an RFC 8707 ``resource`` (auto-approve answers the 302 at once), the RFC 9207 ``iss``
and ``state`` checks on the redirect, and the ``authorization_code`` exchange at ``/token``.
A *refresh* is one ``refresh_token`` grant at ``/token``; the AS rotates the refresh token every
time, so each worker keeps its own chain.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx2
from loadgen import RequestFailed

ALL_SCOPES = "notes:read notes:write notes:delete"
REDIRECT_URI = "http://127.0.0.1:3999/callback"  # never fetched: the code is read off Location


@dataclass
class Grant:
    """A registered client and the tokens of its current grant."""

    client_id: str
    access_token: str
    refresh_token: str


def pkce_pair() -> tuple[str, str]:
    """RFC 7636 §4.1/§4.2: a 43-character verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def expect(response: httpx2.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise RequestFailed(f"{what}: HTTP {response.status_code}: {response.text[:200]}")


async def register(
    client: httpx2.AsyncClient, issuer: str, extra: dict[str, str] | None = None
) -> str:
    """RFC 7591 registration of a public client (``extra``: more metadata, e.g. ``scope``)."""
    response = await client.post(
        f"{issuer}/register",
        json={
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "bench",
            **(extra or {}),
        },
    )
    expect(response, 201, "register")
    return str(response.json()["client_id"])


def authorization_query(
    client_id: str, scope: str, state: str, challenge: str, resource: str
) -> dict[str, str]:
    """An authorization request (OAuth 2.1 §4.1.1) with PKCE S256 and an RFC 8707 resource."""
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resource,
    }


async def authorize(
    client: httpx2.AsyncClient, issuer: str, client_id: str, resource: str, challenge: str
) -> str:
    """``GET /authorize`` → 302 to the redirect URI; checks ``state`` and ``iss``; the code."""
    state = secrets.token_urlsafe(16)
    response = await client.get(
        f"{issuer}/authorize",
        params=authorization_query(client_id, ALL_SCOPES, state, challenge, resource),
        follow_redirects=False,
    )
    expect(response, 302, "authorize")
    location = response.headers["location"]
    if not location.startswith(REDIRECT_URI + "?"):
        raise RequestFailed(f"authorize redirected elsewhere: {location[:200]}")
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    if query.get("state") != state or query.get("iss") != issuer or "code" not in query:
        raise RequestFailed(f"authorization response failed the state/iss checks: {query}")
    return query["code"]


async def exchange_code(
    client: httpx2.AsyncClient, issuer: str, client_id: str, code: str, verifier: str, resource: str
) -> Grant:
    response = await client.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": client_id,
            "resource": resource,
        },
    )
    expect(response, 200, "token (authorization_code)")
    body = response.json()
    return Grant(client_id, body["access_token"], body["refresh_token"])


async def token_round_trip(client: httpx2.AsyncClient, issuer: str, resource: str) -> Grant:
    """Registration + authorization (auto-approve) + token exchange: a new client's first token."""
    client_id = await register(client, issuer)
    verifier, challenge = pkce_pair()
    code = await authorize(client, issuer, client_id, resource, challenge)
    return await exchange_code(client, issuer, client_id, code, verifier, resource)


async def refresh(client: httpx2.AsyncClient, issuer: str, grant: Grant) -> None:
    """One ``refresh_token`` grant; the rotated refresh token replaces the old one in ``grant``."""
    response = await client.post(
        f"{issuer}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": grant.refresh_token,
            "client_id": grant.client_id,
        },
    )
    expect(response, 200, "token (refresh_token)")
    body = response.json()
    grant.access_token = body["access_token"]
    grant.refresh_token = body["refresh_token"]
