"""SQLModel tables of the demo authorization server.

Secrets (client secrets, authorization codes, refresh tokens, CSRF tokens) are
stored only as SHA-256 hashes: they are 256-bit random values, so a plain hash is enough to make a
stolen database useless for replay (RFC 6749 §10.3/§10.5, OAuth 2.1 §7.1). The signing key is the
one secret kept in clear: this is a demo AS, and a restart must keep issued tokens valid.

The tables live in their own SQLAlchemy registry so that ``create_all`` never touches tables other
packages may define on SQLModel's global metadata.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from demo_as import field_limits

# Registered ids are short ("client-" + 24 characters); a client ID metadata document URL is the
# client_id itself (docs/cimd.md), so every client_id column holds up to this many characters.
CLIENT_ID_LENGTH = 1000


class ASTable(SQLModel, registry=registry()):
    """Base class: every demo_as table shares this metadata."""


class Client(ASTable, table=True):
    """A client: registered at /register (RFC 7591 §2 metadata we understand), or identified by
    a client ID metadata document, whose row is then a cache of that document (its provenance in
    ``ClientMetadataDocument``, same ``client_id``)."""

    client_id: str = Field(primary_key=True, max_length=CLIENT_ID_LENGTH)
    client_secret_hash: str | None = Field(default=None, max_length=64)
    client_name: str | None = Field(default=None, max_length=field_limits.CLIENT_NAME)
    redirect_uris: list[str] = Field(sa_column=Column(JSON, nullable=False))
    grant_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    response_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    token_endpoint_auth_method: str = Field(max_length=32)
    scope: str | None = Field(default=None, max_length=field_limits.SCOPE)
    client_id_issued_at: int


class SigningKey(ASTable, table=True):
    """An ES256 private key as a JWK (RFC 7517), created on first start."""

    kid: str = Field(primary_key=True, max_length=128)
    private_jwk: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: int


class PendingAuthorization(ASTable, table=True):
    """A validated /authorize request waiting for login and consent.

    Only requests that passed every check are stored, so the login and consent forms can only
    ever finish with a redirect to a registered redirect URI.
    """

    id: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(index=True, max_length=CLIENT_ID_LENGTH)
    redirect_uri: str = Field(max_length=field_limits.REDIRECT_URI)
    state: str | None = Field(default=None, max_length=field_limits.STATE)
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    resource: str = Field(max_length=field_limits.RESOURCE)
    code_challenge: str = Field(max_length=128)
    username: str | None = Field(default=None, max_length=200)
    csrf_hash: str | None = Field(default=None, max_length=64)
    expires_at: int = Field(index=True)  # Store.add_pending deletes the expired ones


class AuthorizationCode(ASTable, table=True):
    """An issued authorization code (OAuth 2.1 §4.1.2), bound to everything the token request
    must repeat. ``used_at``/``grant_id`` let a replay revoke what the first use issued."""

    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(index=True, max_length=CLIENT_ID_LENGTH)
    redirect_uri: str = Field(max_length=field_limits.REDIRECT_URI)
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    resource: str = Field(max_length=field_limits.RESOURCE)
    code_challenge: str = Field(max_length=128)
    username: str = Field(max_length=200)
    expires_at: int = Field(index=True)  # housekeeping.purge_expired_codes deletes by it
    used_at: int | None = None
    grant_id: str | None = Field(default=None, max_length=64)


class Grant(ASTable, table=True):
    """One authorization: a user's consent for a client, scopes and a resource.

    Every access and refresh token hangs off a grant, so revoking the grant revokes them all.
    """

    id: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(index=True, max_length=CLIENT_ID_LENGTH)
    username: str = Field(max_length=200)
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    resource: str = Field(max_length=field_limits.RESOURCE)
    created_at: int
    revoked_at: int | None = None
    revoked_reason: str | None = Field(default=None, max_length=200)


class RefreshToken(ASTable, table=True):
    """A refresh token of a grant. ``status`` is ``active`` or ``rotated`` (OAuth 2.1 §4.3.1)."""

    token_hash: str = Field(primary_key=True, max_length=64)
    grant_id: str = Field(index=True, max_length=64)
    client_id: str = Field(max_length=CLIENT_ID_LENGTH)
    status: str = Field(default="active", max_length=16)
    created_at: int
    expires_at: int


class AccessTokenRecord(ASTable, table=True):
    """The ``jti`` of every access token issued, so /introspect can report revocation."""

    jti: str = Field(primary_key=True, max_length=64)
    grant_id: str = Field(index=True, max_length=64)
    client_id: str = Field(max_length=CLIENT_ID_LENGTH)
    expires_at: int
    revoked_at: int | None = None


class Consent(ASTable, table=True):
    """The scopes a user has granted a client so far (shown as "already granted" on consent)."""

    username: str = Field(primary_key=True, max_length=200)
    client_id: str = Field(primary_key=True, max_length=CLIENT_ID_LENGTH)
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))


class ClientMetadataDocument(ASTable, table=True):
    """Provenance of a client identified by a client ID metadata document (its ``client_id`` is
    the document's URL; the OAuth metadata itself is in the ``Client`` row of the same id).

    ``expires_at`` is the cache lifetime from the response's caching headers (CIMD §4.4); only
    valid documents are ever stored. The number of rows is bounded (``cimd_clients``).
    """

    client_id: str = Field(primary_key=True, max_length=CLIENT_ID_LENGTH)
    software_id: str | None = Field(default=None, max_length=200)
    software_version: str | None = Field(default=None, max_length=200)
    fetched_from: str = Field(max_length=64)
    fetched_at: int = Field(index=True)
    expires_at: int
    document: dict = Field(sa_column=Column(JSON, nullable=False))


class PendingAuthorizationError(ASTable, table=True):
    """The error of an authorization request whose client and redirect URI were verified, kept
    until the user has signed in (OAuth 2.1 §7.12.2: authenticate first, then redirect; see
    deferred_errors.py). The pending request with the same id holds the redirect URI, ``state``
    and the login form's CSRF token; deleting it deletes this row."""

    pending_id: str = Field(
        primary_key=True, max_length=64, foreign_key="pendingauthorization.id", ondelete="CASCADE"
    )
    error: str = Field(max_length=64)
    error_description: str = Field(max_length=1000)
