"""Obtain a client_id: pre-registered credentials, a Client ID Metadata Document URL, or
Dynamic Client Registration (RFC 7591), in the order MCP authorization recommends.

Teaching code, hand-written on purpose. One registration is made per authorization server and
reused for every later authorization (re-registering on every run is a known client smell);
it is bound to the issuer that issued it (SEP-2352).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx2

from demo_client.discovery import AuthorizationServerMetadata
from demo_client.errors import RegistrationError

CLIENT_NAME = "demo-client (MCP step-up story)"
GRANT_TYPES = ["authorization_code", "refresh_token"]


def loopback_redirect_uri(port: int) -> str:
    """RFC 8252 §7.3 / §8.3: a loopback IP literal (not `localhost`) with an explicit port."""
    return f"http://127.0.0.1:{port}/callback"


@dataclass
class ClientRegistration:
    """What the client keeps about itself at one authorization server."""

    client_id: str
    issuer: str
    redirect_uris: list[str]
    grant_types: list[str] = field(default_factory=lambda: list(GRANT_TYPES))
    client_secret: str | None = None
    token_endpoint_auth_method: str = "none"
    kind: str = "dcr"  # dcr | cimd | pre-registered

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientRegistration:
        return cls(**data)


def registration_request(redirect_uri: str, scope: list[str] | None = None) -> dict[str, Any]:
    """RFC 7591 §2 client metadata for a native public client.

    - `application_type: native` (SEP-837: CLI clients "SHOULD use application_type native").
    - `grant_types` includes `refresh_token` (SEP-2207: "Clients SHOULD include refresh_token
      in their grant_types client metadata").
    - `token_endpoint_auth_method: none`: a CLI cannot keep a secret (OAuth 2.1 §2.1).
    """
    body: dict[str, Any] = {
        "client_name": CLIENT_NAME,
        "redirect_uris": [redirect_uri],
        "application_type": "native",
        "grant_types": list(GRANT_TYPES),
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    if scope:
        body["scope"] = " ".join(scope)
    return body


async def register_dynamically(
    http: httpx2.AsyncClient, metadata: AuthorizationServerMetadata, redirect_uri: str
) -> ClientRegistration:
    """RFC 7591 §3.1 registration; §3.2.2 errors are reported with the AS's own text."""
    if not metadata.registration_endpoint:
        raise RegistrationError(
            f"{metadata.issuer} has no registration_endpoint and no other registration method "
            "is configured (MCP authorization, Client Registration)"
        )
    response = await http.post(
        metadata.registration_endpoint,
        json=registration_request(redirect_uri),
        follow_redirects=False,
    )
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if response.status_code not in (200, 201) or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        raise RegistrationError(
            f"registration at {metadata.registration_endpoint} failed: HTTP "
            f"{response.status_code} {error or ''} {description or ''}".rstrip()
        )
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError("registration response has no client_id (RFC 7591 §3.2.1)")
    return ClientRegistration(
        client_id=client_id,
        issuer=metadata.issuer,
        redirect_uris=body.get("redirect_uris") or [redirect_uri],
        grant_types=body.get("grant_types") or list(GRANT_TYPES),
        client_secret=body.get("client_secret"),
        token_endpoint_auth_method=body.get("token_endpoint_auth_method") or "none",
        kind="dcr",
    )


def cimd_registration(client_id_url: str, issuer: str, redirect_uri: str) -> ClientRegistration:
    """SEP-991: the client_id *is* the HTTPS URL of the client's metadata document; nothing is
    sent to the AS, which fetches the document itself."""
    return ClientRegistration(
        client_id=client_id_url,
        issuer=issuer,
        redirect_uris=[redirect_uri],
        kind="cimd",
    )


def choose_token_endpoint_auth_method(supported: list[str] | None, has_secret: bool) -> str:
    """RFC 8414 §2 `token_endpoint_auth_methods_supported` (default client_secret_basic);
    a pre-registered secret is sent the way the AS prefers, else nothing (public client)."""
    if not has_secret:
        return "none"
    offered = supported or ["client_secret_basic"]
    for method in ("client_secret_basic", "client_secret_post"):
        if method in offered:
            return method
    return "client_secret_basic"
