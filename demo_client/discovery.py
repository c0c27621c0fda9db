"""Find out who protects an MCP server and how to talk to that authorization server.

Teaching code, hand-written on purpose (the SDK has its own; here every rule is a small
function with its spec section):

1. Protected Resource Metadata, RFC 9728: from the challenge's `resource_metadata` when present,
   otherwise the path-inserted well-known URI, then the root one (MCP authorization, Protected
   Resource Metadata Discovery Requirements). Its `resource` must be the server's (RFC 9728 §3.3).
2. Authorization server metadata for `authorization_servers[0]`: RFC 8414 §3.1 path insertion,
   then the OpenID Connect Discovery variants, in MCP's order. Its `issuer` must be exactly the
   issuer the URL was built from (RFC 8414 §3.3, SEP-2468), and it must offer PKCE S256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2

from demo_client.errors import DiscoveryError

PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
RFC8414_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class ProtectedResourceMetadata:
    """RFC 9728 §2 fields this client uses, plus where the document came from."""

    url: str
    resource: str
    authorization_servers: list[str]
    scopes_supported: list[str] | None


@dataclass(frozen=True)
class AuthorizationServerMetadata:
    """RFC 8414 §2 fields this client uses (plus RFC 9207 §3 and CIMD's flag)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None
    scopes_supported: list[str] | None
    code_challenge_methods_supported: list[str]
    token_endpoint_auth_methods_supported: list[str] | None
    iss_parameter_supported: bool
    client_id_metadata_document_supported: bool
    revocation_endpoint: str | None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def prm_candidate_urls(server_url: str, resource_metadata: str | None) -> list[tuple[str, str]]:
    """(URL, the resource identifier it was built from), in the order MCP prescribes.

    "use the resource metadata URL from the parsed WWW-Authenticate headers when present;
    otherwise ... fall back to constructing and requesting the well-known URIs": first
    RFC 9728 §3.1 path insertion (`/.well-known/oauth-protected-resource/mcp`), then the root.
    """
    if resource_metadata:
        return [(resource_metadata, server_url)]
    parts = urlsplit(server_url)
    path = parts.path.rstrip("/")
    origin = _origin(server_url)
    candidates = []
    if path:
        candidates.append((f"{origin}{PRM_WELL_KNOWN}{path}", server_url))
    candidates.append((f"{origin}{PRM_WELL_KNOWN}", origin))
    return candidates


def prm_resource_is_acceptable(resource: str, *, server_url: str, built_from: str) -> bool:
    """RFC 9728 §3.3: "The resource value returned MUST be identical to the protected
    resource's resource identifier value into which the well-known URI path suffix was
    inserted", or, for a `resource_metadata` URL, "identical to the URL that the client used to
    make the request". Exact string comparison; no prefix matching.

    A root document may also name the server URL itself (MCP lets clients fall back to the root
    well-known for an endpoint with a path: MCP Authorization Server Discovery §Protected Resource
    Metadata Discovery Requirements).
    """
    return resource in {built_from, server_url}


def as_metadata_candidate_urls(issuer: str) -> list[str]:
    """MCP authorization, Authorization Server Metadata Discovery: for issuer `https://h/t`
    try `/.well-known/oauth-authorization-server/t`, `/.well-known/openid-configuration/t`,
    `/t/.well-known/openid-configuration`; for a path-less issuer the first two without `/t`."""
    origin = _origin(issuer)
    path = urlsplit(issuer).path.rstrip("/")
    if not path:
        return [f"{origin}{RFC8414_WELL_KNOWN}", f"{origin}{OIDC_WELL_KNOWN}"]
    return [
        f"{origin}{RFC8414_WELL_KNOWN}{path}",
        f"{origin}{OIDC_WELL_KNOWN}{path}",
        f"{origin}{path}{OIDC_WELL_KNOWN}",
    ]


def _str_list(doc: dict[str, Any], name: str) -> list[str] | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DiscoveryError(f"metadata field {name!r} must be a list of strings")
    return value


def _required_str(doc: dict[str, Any], name: str, where: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise DiscoveryError(f"{where} lacks the required string field {name!r}")
    return value


def parse_prm(doc: Any, *, url: str, server_url: str, built_from: str) -> ProtectedResourceMetadata:
    """Validate one PRM document (RFC 9728 §2, §3.3)."""
    if not isinstance(doc, dict):
        raise DiscoveryError(f"protected resource metadata at {url} is not a JSON object")
    resource = _required_str(doc, "resource", f"protected resource metadata at {url}")
    if not prm_resource_is_acceptable(resource, server_url=server_url, built_from=built_from):
        raise DiscoveryError(
            f"protected resource metadata at {url} is for resource {resource!r}, not for "
            f"{server_url!r}; RFC 9728 §3.3 says its contents MUST NOT be used"
        )
    servers = _str_list(doc, "authorization_servers")
    if not servers:
        raise DiscoveryError(f"protected resource metadata at {url} names no authorization server")
    return ProtectedResourceMetadata(
        url=url,
        resource=resource,
        authorization_servers=servers,
        scopes_supported=_str_list(doc, "scopes_supported"),
    )


def parse_as_metadata(doc: Any, *, url: str, expected_issuer: str) -> AuthorizationServerMetadata:
    """Validate one AS metadata document.

    - RFC 8414 §3.3 / SEP-2468: "the issuer value in the document MUST be identical to the
      issuer identifier used to construct the well-known URL" (exact string comparison).
    - MCP authorization, Authorization Code Protection: without `S256` in
      `code_challenge_methods_supported` the client "MUST refuse to proceed".
    """
    where = f"authorization server metadata at {url}"
    if not isinstance(doc, dict):
        raise DiscoveryError(f"{where} is not a JSON object")
    issuer = _required_str(doc, "issuer", where)
    if issuer != expected_issuer:
        raise DiscoveryError(
            f"{where} names issuer {issuer!r}, but it was looked up for {expected_issuer!r}; "
            "RFC 8414 §3.3 forbids using it"
        )
    methods = _str_list(doc, "code_challenge_methods_supported") or []
    if "S256" not in methods:
        raise DiscoveryError(
            f"{where} does not list S256 in code_challenge_methods_supported; MCP clients MUST "
            "refuse to proceed without PKCE S256"
        )
    return AuthorizationServerMetadata(
        issuer=issuer,
        authorization_endpoint=_required_str(doc, "authorization_endpoint", where),
        token_endpoint=_required_str(doc, "token_endpoint", where),
        registration_endpoint=doc.get("registration_endpoint") or None,
        scopes_supported=_str_list(doc, "scopes_supported"),
        code_challenge_methods_supported=methods,
        token_endpoint_auth_methods_supported=_str_list(
            doc, "token_endpoint_auth_methods_supported"
        ),
        iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
        client_id_metadata_document_supported=doc.get("client_id_metadata_document_supported")
        is True,
        revocation_endpoint=doc.get("revocation_endpoint") or None,
    )


async def _get_json(http: httpx2.AsyncClient, url: str) -> tuple[int, Any]:
    """GET a metadata document; redirects are not followed (RFC 8414 §3 gives one URL)."""
    response = await http.get(url, headers={"Accept": "application/json"}, follow_redirects=False)
    if response.status_code != 200:
        return response.status_code, None
    try:
        return 200, json.loads(response.content)
    except ValueError as exc:
        raise DiscoveryError(f"metadata at {url} is not valid JSON") from exc


async def discover_protected_resource(
    http: httpx2.AsyncClient, server_url: str, resource_metadata: str | None
) -> ProtectedResourceMetadata:
    """Step 1 of MCP discovery; raises DiscoveryError when no acceptable PRM exists."""
    tried = []
    for url, built_from in prm_candidate_urls(server_url, resource_metadata):
        status, doc = await _get_json(http, url)
        tried.append(f"{url} -> HTTP {status}")
        if status == 200:
            return parse_prm(doc, url=url, server_url=server_url, built_from=built_from)
        if status >= 500 or status == 429:
            # A server error says nothing about whether the document exists elsewhere.
            break
    raise DiscoveryError("no protected resource metadata found: " + "; ".join(tried))


async def discover_authorization_server(
    http: httpx2.AsyncClient, issuer: str
) -> AuthorizationServerMetadata:
    """Step 2 of MCP discovery, for the issuer named by PRM `authorization_servers[0]`."""
    tried = []
    for url in as_metadata_candidate_urls(issuer):
        status, doc = await _get_json(http, url)
        tried.append(f"{url} -> HTTP {status}")
        if status == 200:
            return parse_as_metadata(doc, url=url, expected_issuer=issuer)
    raise DiscoveryError(f"no authorization server metadata for {issuer}: " + "; ".join(tried))
