"""Dynamic client registration (RFC 7591) at ``/register``.

Everything is checked before anything is written: a refused registration leaves no row.
"""

from __future__ import annotations

import email.message
import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticUndefined as Undefined
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route

from demo_as import field_limits
from demo_as.client_auth import TOKEN_ENDPOINT_AUTH_METHODS
from demo_as.db import new_secret, now, secret_hash
from demo_as.display_text import first_spoofing_character
from demo_as.errors import (
    InvalidClientMetadata,
    InvalidRedirectUri,
    OAuthErrorBody,
    RegistrationErrorRoute,
    registration_validation_error,
)
from demo_as.housekeeping import purge_stale
from demo_as.lab import hooks as lab_hooks
from demo_as.loop_writes import loop_connection, run_writing
from demo_as.parameters import no_store_json
from demo_as.redirect_uris import redirect_uris_problem
from demo_as.registration_bounds import RegistryFull
from demo_as.scopes import parse_scope, unknown_scopes
from demo_as.store import Store, connection_store
from demo_as.unstored_rows import NewClient

router = APIRouter(tags=["registration"], route_class=RegistrationErrorRoute)

MAX_CLIENT_NAME_LENGTH = field_limits.CLIENT_NAME
MAX_SCOPE_LENGTH = field_limits.SCOPE
SUPPORTED_GRANT_TYPES = ("authorization_code", "refresh_token")


class ClientMetadata(BaseModel):
    """RFC 7591 §2 client metadata. Unknown fields are ignored, as §2 requires."""

    model_config = ConfigDict(extra="ignore")

    redirect_uris: list[str]
    token_endpoint_auth_method: str = "client_secret_basic"
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code"])
    response_types: list[str] = Field(default_factory=lambda: ["code"])
    client_name: str | None = None
    scope: str | None = None


class ClientInformation(BaseModel):
    """RFC 7591 §3.2.1 client information response."""

    client_id: str
    client_id_issued_at: int
    client_secret: str | None = None
    client_secret_expires_at: int | None = None
    redirect_uris: list[str]
    token_endpoint_auth_method: str
    grant_types: list[str]
    response_types: list[str]
    client_name: str | None = None
    scope: str | None = None


def client_metadata_problem(metadata: ClientMetadata, supported_scopes: list[str]) -> str | None:
    """RFC 7591 §2/§3.2.2 ``invalid_client_metadata`` checks other than the redirect URIs."""
    if metadata.token_endpoint_auth_method not in TOKEN_ENDPOINT_AUTH_METHODS:
        return (
            f"token_endpoint_auth_method {metadata.token_endpoint_auth_method[:40]!r} is not "
            f"supported; use one of {', '.join(TOKEN_ENDPOINT_AUTH_METHODS)}"
        )
    if not set(metadata.grant_types) <= set(SUPPORTED_GRANT_TYPES):
        return f"grant_types may only contain {', '.join(SUPPORTED_GRANT_TYPES)}"
    # RFC 7591 §2.1: grant_types and response_types must be consistent; code is our only flow.
    if "authorization_code" not in metadata.grant_types:
        return "grant_types must include authorization_code (the only flow this AS offers)"
    if metadata.response_types != ["code"]:
        return 'response_types must be ["code"] (RFC 7591 §2.1, OAuth 2.1 has no implicit flow)'
    if metadata.client_name is not None and not (
        0 < len(metadata.client_name) <= MAX_CLIENT_NAME_LENGTH
    ):
        return f"client_name must be 1 to {MAX_CLIENT_NAME_LENGTH} characters"
    if metadata.client_name is not None and (
        problem := first_spoofing_character(metadata.client_name)
    ):
        return f"client_name contains {problem}"
    if metadata.scope is not None:
        if len(metadata.scope) > MAX_SCOPE_LENGTH:
            return f"scope may be at most {MAX_SCOPE_LENGTH} characters"
        try:
            unknown = unknown_scopes(parse_scope(metadata.scope), supported_scopes)
        except ValueError as error:
            return str(error)
        if unknown:
            return f"unknown scope(s) {' '.join(unknown)}; supported: {' '.join(supported_scopes)}"
    return None


def new_client_id() -> str:
    """An opaque client_id that never starts with ``https://`` (so it can never be
    mistaken for a client ID metadata document URL, draft-ietf-oauth-client-id-metadata-document-01
    §3 Client Identifier)."""
    return "client-" + secrets.token_urlsafe(18)


@router.post(
    "/register",
    status_code=201,
    response_model=ClientInformation,
    response_model_exclude_none=True,
    responses={
        400: {"model": OAuthErrorBody},
        413: {"model": OAuthErrorBody},
        429: {"model": OAuthErrorBody, "description": "Too many registrations from this address"},
    },
    summary="RFC 7591 dynamic client registration (loopback redirect URIs only)",
)
def register(metadata: ClientMetadata, request: Request) -> Response:
    # The FastAPI route for /openapi.json only (no docstring: it would become the operation's
    # description): ROUTE, first in the routing table, serves the requests.
    raise RuntimeError("/register is served by registration.register_endpoint")


async def register_endpoint(request: Request) -> Response:
    """``POST /register`` as a plain Starlette route: FastAPI's dependency solving and its
    thread-pool hop cost more than the registration (bench/profiling.md §4c). The body is read
    and validated by FastAPI's own rules (``json_body``, ``validated_metadata``); the
    registration runs on the event loop when it may (loop_writes.py), else in the pool."""
    metadata = validated_metadata(await json_body(request))
    purge_due = request.app.state.periodic_purge.due()
    return await run_writing(request, not purge_due, register_now, metadata)


def register_now(request: Request, metadata: ClientMetadata) -> Response:
    with connection_store(request) as store:  # one Core connection, one transaction (store.py)
        return no_store_json(registered(request, store, metadata), status_code=201)


async def json_body(request: Request) -> Any:
    """The body as FastAPI's route read it for a JSON body parameter (strict content type):
    parsed when ``Content-Type`` is ``application/json`` or ``application/*+json``, the bytes
    for any other (or no) content type, ``Undefined`` when empty. Malformed JSON is a
    ``json_invalid`` validation error; a body that cannot be read at all is
    ``invalid_client_metadata`` (RFC 7591 §3.2.2), as FastAPI's 400 was mapped."""
    try:
        body = await request.body()
        if not body:
            return Undefined
        content_type = request.headers.get("content-type")
        if not content_type:
            return body
        message = email.message.Message()
        message["content-type"] = content_type
        if message.get_content_maintype() == "application":
            subtype = message.get_content_subtype()
            if subtype == "json" or subtype.endswith("+json"):
                return await request.json()  # kept on the request (the lab's hook reads it)
        return body
    except json.JSONDecodeError as error:
        invalid = {"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error"}
        raise registration_validation_error(RequestValidationError([invalid])) from None
    except StarletteHTTPException:
        raise  # the body size limit's 413
    except Exception:
        raise InvalidClientMetadata("There was an error parsing the body") from None


def validated_metadata(body: Any) -> ClientMetadata:
    """RFC 7591 §2 metadata from the body, validated as FastAPI validated the route's body
    parameter (the same pydantic model, errors located under ``body``); errors are RFC 7591
    §3.2.2 ``invalid_client_metadata`` or ``invalid_redirect_uri`` (errors.py)."""
    if body is Undefined:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required"}
        raise registration_validation_error(RequestValidationError([missing]))
    try:
        return ClientMetadata.model_validate(body, from_attributes=True)
    except ValidationError as error:
        errors = [
            {**detail, "loc": ("body", *detail["loc"])}
            for detail in error.errors(include_url=False)
        ]
        raise registration_validation_error(RequestValidationError(errors)) from None


ROUTE = Route("/register", register_endpoint, methods=["POST"], name="register")


def registered(request: Request, store: Store, metadata: ClientMetadata) -> ClientInformation:
    """RFC 7591 §3.2.1: check the metadata (§3.2.2 errors), apply the bounds, store the client."""
    settings = request.app.state.settings
    if problem := redirect_uris_problem(metadata.redirect_uris):
        raise InvalidRedirectUri(problem)
    if problem := client_metadata_problem(metadata, settings.scopes):
        raise InvalidClientMetadata(problem)

    secret = None if metadata.token_endpoint_auth_method == "none" else new_secret()
    client = NewClient(
        client_id=new_client_id(),
        client_secret_hash=secret_hash(secret) if secret else None,
        client_name=metadata.client_name,
        redirect_uris=list(metadata.redirect_uris),
        grant_types=list(dict.fromkeys(metadata.grant_types)),
        response_types=["code"],
        token_endpoint_auth_method=metadata.token_endpoint_auth_method,
        scope=" ".join(parse_scope(metadata.scope)) if metadata.scope else None,
        client_id_issued_at=now(),
    )
    # Bounds (registration_bounds.py): the per-source rate, then purge and the total cap. The
    # purge writes through its own connection, so not inside a transaction on the event loop
    # (there it is never due but if it fell due this instant: the next request in the pool runs
    # it; register_endpoint).
    request.app.state.registration_rate.check(request.client.host if request.client else "?")
    if loop_connection(request) is None:
        request.app.state.periodic_purge.maybe_run()
    if store.client_count() >= settings.max_clients:
        # The cap counts live clients only: a full registry is purged now, then counted again.
        purge_stale(store.db, settings.unused_client_ttl)
        if store.client_count() >= settings.max_clients:
            store.commit()  # keep what the purge deleted; only the new client is refused
            raise RegistryFull(settings.max_clients, settings.unused_client_ttl)
    store.add_client(client)
    store.commit()
    lab_hooks.registration(request, client)
    return ClientInformation(
        client_id=client.client_id,
        client_id_issued_at=client.client_id_issued_at,
        # RFC 7591 §3.2.1: the secret is returned once; only its hash is stored.
        client_secret=secret,
        client_secret_expires_at=0 if secret else None,
        redirect_uris=client.redirect_uris,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        grant_types=client.grant_types,
        response_types=client.response_types,
        client_name=client.client_name,
        scope=client.scope,
    )
