"""The AS's storage: clients, signing keys, pending authorization requests, consents,
authorization codes, grants, refresh tokens and access-token records.

One ``Store`` wraps one SQLModel session for one request (``get_store``, a FastAPI dependency;
routes take ``store: StoreDep``). Methods stage reads and writes in that session; nothing is
durable until the route calls ``store.commit()`` - once, before it answers, so a client never
sees a response whose rows a crash could lose and a request writes in one transaction.

Every single-use transition (CSRF token, code redemption, refresh rotation) is one conditional
UPDATE/DELETE whose row count decides who won, so two concurrent requests cannot both succeed
(OAuth 2.1 draft-13 §4.1.3 codes used once, §4.3.1 refresh rotation, RFC 6749 §10.12 CSRF).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from joserfc.jwk import KeySet
from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from demo_as.authorization_request import AuthorizationRequest
from demo_as.browser_binding import bound_token_hash
from demo_as.db import new_secret, now, secret_hash, session
from demo_as.key_cache import VerificationKeys
from demo_as.keys import key_set
from demo_as.models import (
    AccessTokenRecord,
    AuthorizationCode,
    Client,
    ClientMetadataDocument,
    Consent,
    Grant,
    PendingAuthorization,
    RefreshToken,
    SigningKey,
)
from demo_as.scopes import scope_union

PENDING_TTL = 600  # seconds a user has for login + consent


@dataclass(frozen=True)
class IssuedTokens:
    """What one token response writes: the access token's jti and expiry, and the new refresh
    token (None when the client gets none)."""

    jti: str
    access_expires_at: int
    refresh_token: str | None
    refresh_ttl: int


def new_grant(code: AuthorizationCode) -> Grant:
    """The (not yet stored) grant a code redemption creates."""
    return Grant(
        id=secrets.token_urlsafe(18),
        client_id=code.client_id,
        username=code.username,
        scopes=code.scopes,
        resource=code.resource,
        created_at=now(),
    )


def pending_for(request: AuthorizationRequest) -> PendingAuthorization:
    """The pending-request row of a validated authorization request (not yet stored)."""
    return PendingAuthorization(
        id=secrets.token_urlsafe(24),
        client_id=request.client.client_id,
        redirect_uri=request.redirect_uri,
        state=request.state,
        scopes=request.scopes,
        resource=request.resource,
        code_challenge=request.code_challenge,
        expires_at=now() + PENDING_TTL,
    )


class Store:
    """The AS's storage, bound to one session (one request), and the process's key cache.

    ``verification_keys`` is needed only by ``keys_for`` (checking our own tokens); stores made
    off the request path (the lab's writer, the CIMD cache) leave it out."""

    def __init__(self, db: Session, verification_keys: VerificationKeys | None = None) -> None:
        self.db = db
        self.verification_keys = verification_keys

    def commit(self) -> None:
        """End the request's transaction (call once, before answering)."""
        self.db.commit()

    # --- clients and keys -------------------------------------------------------------------

    def client(self, client_id: str | None) -> Client | None:
        return self.db.get(Client, client_id) if client_id else None

    def add_client(self, client: Client) -> None:
        self.db.add(client)

    def client_count(self) -> int:
        return int(self.db.exec(select(func.count()).select_from(Client)).one())

    # --- clients identified by a client ID metadata document (cimd_clients.py) ---------------

    def client_metadata_document(self, client_id: str) -> ClientMetadataDocument | None:
        return self.db.get(ClientMetadataDocument, client_id)

    def save_document_client(
        self, client: Client, record: ClientMetadataDocument, max_clients: int
    ) -> None:
        """Upsert a document client (its ``Client`` row and its provenance), then drop the least
        recently fetched document clients beyond ``max_clients``, never the one just saved:
        anyone who can serve a document could otherwise grow the client table without limit."""
        self.db.merge(client)
        self.db.merge(record)
        self.db.flush()
        total = self.db.exec(select(func.count()).select_from(ClientMetadataDocument)).one()
        if total <= max_clients:
            return
        oldest = self.db.exec(
            select(ClientMetadataDocument.client_id)
            .where(ClientMetadataDocument.client_id != record.client_id)
            .order_by(ClientMetadataDocument.fetched_at)
            .limit(total - max_clients)
        ).all()
        for table in (ClientMetadataDocument, Client):
            self.db.exec(delete(table).where(table.client_id.in_(oldest)))

    def public_keys(self) -> KeySet:
        """All stored signing keys, read from the database (for /jwks)."""
        return key_set(self.db.exec(select(SigningKey)).all())

    def keys_for(self, token: str) -> KeySet:
        """The keys to check one of our own tokens with: held in memory by the process, read
        from the database only when ``token`` names a key not loaded yet (``key_cache.py``)."""
        if self.verification_keys is None:
            raise RuntimeError("this Store was made without the process's verification keys")
        return self.verification_keys.for_token(token, self.public_keys)

    # --- pending authorization requests and their CSRF tokens ---------------------------------

    def add_pending(self, pending: PendingAuthorization) -> None:
        """Store a validated authorization request for the login/consent forms."""
        # /authorize is unauthenticated: drop abandoned requests so they cannot pile up.
        self.db.exec(delete(PendingAuthorization).where(PendingAuthorization.expires_at <= now()))
        self.db.add(pending)
        self.db.flush()

    def rotate_csrf_token(self, pending_id: str, binding: str, username: str | None = None) -> str:
        """A fresh CSRF token for the next form of this pending request (RFC 6749 §10.12; OAuth
        2.1 draft-13 §7.10). Only its hash, bound to the browser's cookie (browser_binding.py),
        is stored, and each form gets a new one, so a token works once and only in the browser
        it was shown to."""
        token = new_secret()
        values: dict = {"csrf_hash": bound_token_hash(binding, token)}
        if username is not None:
            values["username"] = username
        self.db.exec(
            update(PendingAuthorization)
            .where(PendingAuthorization.id == pending_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return token

    def pending_for_form(
        self, pending_id: str, csrf_token: str, binding: str | None
    ) -> PendingAuthorization:
        """The pending request a form submission belongs to; LookupError names why it is refused.

        The CSRF token must be the one issued for *this* request, and the submission must come
        from the browser it was shown to (RFC 6749 §10.12: bound to the user-agent's state;
        OWASP pre-session tokens against login CSRF).
        """
        pending = self.db.get(PendingAuthorization, pending_id)
        if pending is None or pending.expires_at <= now():
            raise LookupError("this authorization request has expired or was already answered")
        if binding is None:
            raise LookupError(
                "this browser did not open the authorization request (its demo_as_browser "
                "cookie is missing; are cookies blocked?)"
            )
        presented = bound_token_hash(binding, csrf_token)
        if not pending.csrf_hash or not hmac.compare_digest(presented, pending.csrf_hash):
            raise LookupError(
                "the form's CSRF token is not valid for this authorization request in this browser"
            )
        return pending

    def consume_pending(self, pending: PendingAuthorization) -> bool:
        """Delete the pending request if it is still as we read it (single use)."""
        result = self.db.exec(
            delete(PendingAuthorization)
            .where(
                PendingAuthorization.id == pending.id,
                PendingAuthorization.csrf_hash == pending.csrf_hash,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    # --- consents --------------------------------------------------------------------------

    def granted_scopes(self, username: str, client_id: str) -> list[str]:
        """What this user has granted this client so far."""
        consent = self.db.get(Consent, (username, client_id))
        return list(consent.scopes) if consent else []

    def record_consent(self, username: str, client_id: str, scopes: list[str]) -> None:
        """Add ``scopes`` to the user's consent record for the client."""
        consent = self.db.get(Consent, (username, client_id))
        if consent is None:
            self.db.add(Consent(username=username, client_id=client_id, scopes=scopes))
        else:
            consent.scopes = scope_union(consent.scopes, scopes)
            self.db.add(consent)

    # --- codes, grants and tokens -----------------------------------------------------------

    def issue_code(
        self, pending: PendingAuthorization, username: str, scopes: list[str], ttl: int
    ) -> str:
        """OAuth 2.1 draft-13 §4.1.2: a random, short-lived, single-use code bound to the client,
        redirect URI, PKCE challenge, resource (RFC 8707) and the granted scopes; stored hashed."""
        code = new_secret()
        self.db.add(
            AuthorizationCode(
                code_hash=secret_hash(code),
                client_id=pending.client_id,
                redirect_uri=pending.redirect_uri,
                scopes=scopes,
                resource=pending.resource,
                code_challenge=pending.code_challenge,
                username=username,
                expires_at=now() + ttl,
            )
        )
        return code

    def find_code(self, code: str) -> AuthorizationCode | None:
        return self.db.get(AuthorizationCode, secret_hash(code), populate_existing=True)

    def grant(self, grant_id: str) -> Grant | None:
        return self.db.get(Grant, grant_id)

    def revoke_grant(self, grant_id: str, reason: str) -> None:
        """Revoke a grant with every refresh and access token issued under it (OAuth 2.1
        draft-13 §4.1.3 code replay, §4.3.1 refresh reuse; RFC 7009 §2.1)."""
        at = now()
        self.db.exec(
            update(Grant)
            .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )
        self.db.exec(
            update(RefreshToken)
            .where(RefreshToken.grant_id == grant_id)
            .values(status="revoked")
            .execution_options(synchronize_session=False)
        )
        self.db.exec(
            update(AccessTokenRecord)
            .where(AccessTokenRecord.grant_id == grant_id, AccessTokenRecord.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )

    def find_refresh_token(self, token: str) -> RefreshToken | None:
        return self.db.get(RefreshToken, secret_hash(token))

    def _add_issued(self, grant: Grant, issued: IssuedTokens) -> None:
        self.db.add(
            AccessTokenRecord(
                jti=issued.jti,
                grant_id=grant.id,
                client_id=grant.client_id,
                expires_at=issued.access_expires_at,
            )
        )
        if issued.refresh_token is not None:
            self.db.add(
                RefreshToken(
                    token_hash=secret_hash(issued.refresh_token),
                    grant_id=grant.id,
                    client_id=grant.client_id,
                    created_at=now(),
                    expires_at=now() + issued.refresh_ttl,
                )
            )

    def redeem_code(self, code: AuthorizationCode, grant: Grant, issued: IssuedTokens) -> bool:
        """Mark the code used (only if it was unused), create its grant and record the tokens,
        all in the request's one transaction. False when a concurrent request redeemed the code
        first: the transaction is rolled back and nothing is written.

        One transaction means a crash can never leave a used code without its grant, or a grant
        without its tokens.
        """
        result = self.db.exec(
            update(AuthorizationCode)
            .where(
                AuthorizationCode.code_hash == code.code_hash,
                AuthorizationCode.used_at.is_(None),
            )
            .values(used_at=now(), grant_id=grant.id)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            self.db.rollback()
            return False
        self.db.add(grant)
        self._add_issued(grant, issued)
        return True

    def rotate_refresh_token(self, old: RefreshToken, grant: Grant, issued: IssuedTokens) -> bool:
        """OAuth 2.1 draft-13 §4.3.1: retire the presented refresh token (only if still active)
        and record its successor and the new access token, in one transaction. False when it
        was not active any more (a concurrent refresh won; rolled back, nothing written). A
        crash therefore leaves either the old token usable or the new one, never neither."""
        result = self.db.exec(
            update(RefreshToken)
            .where(RefreshToken.token_hash == old.token_hash, RefreshToken.status == "active")
            .values(status="rotated")
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            self.db.rollback()
            return False
        self._add_issued(grant, issued)
        return True

    def access_token_revoked(self, jti: str) -> bool:
        """True when the jti is unknown, revoked, or its grant is revoked (or gone). One query
        for the record and its grant: /introspect asks this on every call."""
        found = self.db.exec(
            select(AccessTokenRecord.revoked_at, Grant.id, Grant.revoked_at)
            .select_from(AccessTokenRecord)
            .join(Grant, Grant.id == AccessTokenRecord.grant_id, isouter=True)
            .where(AccessTokenRecord.jti == jti)
        ).first()
        if found is None:
            return True
        record_revoked_at, grant_id, grant_revoked_at = found
        return record_revoked_at is not None or grant_id is None or grant_revoked_at is not None

    def revoke_access_token(self, jti: str) -> None:
        self.db.exec(
            update(AccessTokenRecord)
            .where(AccessTokenRecord.jti == jti, AccessTokenRecord.revoked_at.is_(None))
            .values(revoked_at=now())
            .execution_options(synchronize_session=False)
        )


def get_store(request: Request) -> Iterator[Store]:
    """FastAPI dependency: one session per request; uncommitted work is rolled back at the end."""
    with session(request.app.state.engine) as db:
        yield Store(db, request.app.state.verification_keys)


StoreDep = Annotated[Store, Depends(get_store)]
