"""Authorization server metadata (RFC 8414) and /jwks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from demo_as.client_auth import TOKEN_ENDPOINT_AUTH_METHODS
from demo_as.keys import jwks_document
from demo_as.lab import hooks as lab_hooks
from demo_as.settings import Settings
from demo_as.store import StoreDep

router = APIRouter(tags=["discovery"])


class AuthorizationServerMetadata(BaseModel):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    introspection_endpoint: str
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    code_challenge_methods_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    scopes_supported: list[str]
    authorization_response_iss_parameter_supported: bool
    client_id_metadata_document_supported: bool
    service_documentation: str


class JsonWebKeySet(BaseModel):
    keys: list[dict]


def endpoint(settings: Settings, path: str) -> str:
    """An endpoint URL under the issuer (one place that joins issuer and path)."""
    return settings.issuer.rstrip("/") + path


def metadata_document(settings: Settings) -> AuthorizationServerMetadata:
    """RFC 8414 §2. ``issuer`` is the configured string byte for byte (RFC 8414 §3.3: it MUST be
    identical to the issuer the well-known URL was built from, and RFC 9207 §2.3 to ``iss``)."""
    return AuthorizationServerMetadata(
        issuer=settings.issuer,
        authorization_endpoint=endpoint(settings, "/authorize"),
        token_endpoint=endpoint(settings, "/token"),
        registration_endpoint=endpoint(settings, "/register"),
        jwks_uri=endpoint(settings, "/jwks"),
        revocation_endpoint=endpoint(settings, "/revoke"),
        introspection_endpoint=endpoint(settings, "/introspect"),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token"],
        code_challenge_methods_supported=["S256"],
        token_endpoint_auth_methods_supported=list(TOKEN_ENDPOINT_AUTH_METHODS),
        revocation_endpoint_auth_methods_supported=list(TOKEN_ENDPOINT_AUTH_METHODS),
        # /introspect is for resource servers: a shared bearer secret (docs/architecture.md).
        introspection_endpoint_auth_methods_supported=["bearer"],
        scopes_supported=list(settings.scopes),
        # RFC 9207 §2.3; stays true in every iss_mode so clients' checks can be tested.
        authorization_response_iss_parameter_supported=True,
        # CIMD §5: client_id URLs are resolved by fetching the document (cimd_clients.py).
        client_id_metadata_document_supported=True,
        service_documentation=endpoint(settings, "/"),
    )


@router.get(
    "/.well-known/oauth-authorization-server",
    response_model=AuthorizationServerMetadata,
    summary="RFC 8414 authorization server metadata",
)
async def authorization_server_metadata(request: Request) -> AuthorizationServerMetadata:
    # async: no database work, so it runs in the event loop (no thread-pool hop).
    lab_hooks.metadata_fetch(request)
    return metadata_document(request.app.state.settings)


@router.get("/jwks", response_model=JsonWebKeySet, summary="RFC 7517 JWK Set (public keys)")
def jwks(store: StoreDep) -> JsonWebKeySet:
    return JsonWebKeySet.model_validate(jwks_document(store.public_keys()))
