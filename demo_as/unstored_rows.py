"""Rows about to be stored, as plain frozen dataclasses: the new grant of a code redemption, the
pending request of ``/authorize`` (never stored under auto-approve), the new client of
``/register``, and what a token response writes.

Not the SQLModel models (models.py): an ORM-instrumented model instance cost more to build than
the request's own checks (bench/profiling.md §4c), and these are only written through Core
``insert`` statements (store.py, queries.py). Each has the columns of its table.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from demo_as.authorization_request import AuthorizationRequest
from demo_as.db import now

PENDING_TTL = 600  # seconds a user has for login + consent


@dataclass(frozen=True)
class IssuedTokens:
    """What one token response writes: the access token's jti and expiry, and the new refresh
    token (None when the client gets none)."""

    jti: str
    access_expires_at: int
    refresh_token: str | None
    refresh_ttl: int


@dataclass(frozen=True)
class NewGrant:
    """A grant about to be stored (a ``Grant`` row's columns; a plain dataclass, as building the
    SQLModel instance validated every field for nothing: the values come from a stored code)."""

    id: str
    client_id: str
    username: str
    scopes: list[str]
    resource: str
    created_at: int
    revoked_at: None = None
    revoked_reason: None = None

    def row(self) -> dict[str, Any]:
        """Its columns, for the Core ``insert``."""
        return dict(self.__dict__)


def new_grant(code: Row) -> NewGrant:
    """The (not yet stored) grant the redemption of ``code`` (its row) creates."""
    return NewGrant(
        id=secrets.token_urlsafe(18),
        client_id=code.client_id,
        username=code.username,
        scopes=code.scopes,
        resource=code.resource,
        created_at=now(),
    )


@dataclass(frozen=True)
class NewPending:
    """A validated authorization request not stored (yet): a ``PendingAuthorization`` row's
    columns. Under auto-approve it is never stored; a plain dataclass, as an ORM-instrumented
    model instance cost more to build than the request's checks."""

    id: str
    client_id: str
    redirect_uri: str
    state: str | None
    scopes: list[str]
    resource: str
    code_challenge: str
    expires_at: int
    username: str | None = None
    csrf_hash: str | None = None


@dataclass(frozen=True)
class NewClient:
    """A registered client about to be stored: a ``Client`` row's columns (see ``NewPending``)."""

    client_id: str
    client_secret_hash: str | None
    client_name: str | None
    redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    token_endpoint_auth_method: str
    scope: str | None
    client_id_issued_at: int


def pending_for(request: AuthorizationRequest) -> NewPending:
    """The pending-request row of a validated authorization request (not yet stored)."""
    return NewPending(
        id=secrets.token_urlsafe(24),
        client_id=request.client.client_id,
        redirect_uri=request.redirect_uri,
        state=request.state,
        scopes=request.scopes,
        resource=request.resource,
        code_challenge=request.code_challenge,
        expires_at=now() + PENDING_TTL,
    )


def model_row(model: Any) -> dict[str, Any]:
    """A model instance's (or a ``New*`` dataclass's) columns, for a Core ``insert``."""
    if isinstance(model, NewPending | NewClient):
        return dict(model.__dict__)
    return {name: getattr(model, name) for name in type(model).model_fields}
