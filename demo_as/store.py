"""The AS's storage: clients, signing keys, pending authorization requests, consents,
authorization codes, grants, refresh tokens and access-token records.

One ``Store`` wraps one request's database work: a Core ``Connection`` opened by the endpoint
itself on the hot paths (``connection_store``: /token, /revoke, /authorize, /register;
``reading_store``: /introspect), a SQLModel session on the other routes (``get_store``, a
dependency; routes take ``store: StoreDep``); with SQLite, a writing endpoint running on the
event loop gets the loop's own connection with its transaction begun (loop_writes.py), whose
prebuilt statements run on the sqlite3 driver (sqlite_statements.py). Nothing
is durable until the route calls ``store.commit()`` - once, before it answers, so a client never
sees a response whose rows a crash could lose and a request writes in one transaction.

The queries are SQLAlchemy Core statements on the tables, built once (queries.py), which run the
same on a connection and on a session, and return rows read by column name (``row.client_id``),
as the models' attributes are. Core skips the ORM's identity map and unit of work, which cost
more than the SQL itself on the hot paths (bench/profiling.md §4). The one method marked
"(session)" uses the ORM and needs a session: the CIMD cache's upsert.

Every single-use transition (CSRF token, code redemption, refresh rotation) is one conditional
UPDATE/DELETE whose row count decides who won, so two concurrent requests cannot both succeed
(OAuth 2.1 draft-13 §4.1.3 codes used once, §4.3.1 refresh rotation, RFC 6749 §10.12 CSRF).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from joserfc.jwk import KeySet
from sqlalchemy import Connection, Row, delete, func, select
from sqlmodel import Session

from demo_as import queries as q
from demo_as.browser_binding import bound_token_hash
from demo_as.db import new_secret, now, secret_hash, session
from demo_as.key_cache import VerificationKeys
from demo_as.keys import key_set
from demo_as.loop_writes import loop_connection
from demo_as.models import Client, ClientMetadataDocument, PendingAuthorization
from demo_as.revocation_reads import revoked
from demo_as.scopes import scope_union
from demo_as.sqlite_statements import DriverConnection
from demo_as.unstored_rows import IssuedTokens, NewClient, NewGrant, NewPending, model_row


class Store:
    """The AS's storage, bound to one connection or session (one request), and the process's
    key cache.

    ``verification_keys`` is needed only by ``keys_for`` (checking our own tokens); stores made
    off the request path (the lab's writer, the CIMD cache) leave it out."""

    def __init__(
        self,
        db: Connection | DriverConnection | Session,
        verification_keys: VerificationKeys | None = None,
    ) -> None:
        self.db = db
        self.verification_keys = verification_keys

    def commit(self) -> None:
        """End the request's transaction (call once, before answering)."""
        self.db.commit()

    # --- clients and keys -------------------------------------------------------------------

    def client(self, client_id: str | None) -> Row | None:
        """The client's row (its columns as ``Client``'s attributes), or None."""
        if not client_id:
            return None
        return self.db.execute(q.CLIENT_BY_ID, {"client_id": client_id}).first()

    def add_client(self, client: Client | NewClient) -> None:
        self.db.execute(q.INSERT_CLIENT, model_row(client))

    def client_count(self) -> int:
        return int(self.db.execute(q.CLIENT_COUNT).scalar_one())

    # --- clients identified by a client ID metadata document (cimd_clients.py) ---------------

    def client_metadata_document(self, client_id: str) -> Row | None:
        return self.db.execute(q.DOCUMENT_BY_ID, {"client_id": client_id}).first()

    def save_document_client(
        self, client: Client, record: ClientMetadataDocument, max_clients: int
    ) -> None:
        """(session) Upsert a document client (its ``Client`` row and its provenance), then drop
        the least recently fetched document clients beyond ``max_clients``, never the one just
        saved: anyone who can serve a document could otherwise grow the client table without
        limit."""
        self.db.merge(client)
        self.db.merge(record)
        self.db.flush()
        total = self.db.execute(select(func.count()).select_from(q.DOCUMENTS)).scalar_one()
        if total <= max_clients:
            return
        oldest = (
            self.db.execute(
                select(q.DOCUMENTS.c.client_id)
                .where(q.DOCUMENTS.c.client_id != record.client_id)
                .order_by(q.DOCUMENTS.c.fetched_at)
                .limit(total - max_clients)
            )
            .scalars()
            .all()
        )
        for table in (q.DOCUMENTS, q.CLIENTS):
            self.db.execute(delete(table).where(table.c.client_id.in_(oldest)))

    def public_keys(self) -> KeySet:
        """All stored signing keys, read from the database (for /jwks)."""
        return key_set(self.db.execute(q.SIGNING_KEY_ROWS).all())

    def keys_for(self, token: str) -> KeySet:
        """The keys to check one of our own tokens with: held in memory by the process, read
        from the database only when ``token`` names a key not loaded yet (``key_cache.py``)."""
        if self.verification_keys is None:
            raise RuntimeError("this Store was made without the process's verification keys")
        return self.verification_keys.for_token(token, self.public_keys)

    # --- pending authorization requests and their CSRF tokens ---------------------------------

    def add_pending(self, pending: PendingAuthorization | NewPending) -> None:
        """Store a validated authorization request for the login/consent forms."""
        # /authorize is unauthenticated: drop abandoned requests so they cannot pile up.
        self.db.execute(q.DELETE_EXPIRED_PENDING, {"at": now()})
        self.db.execute(q.INSERT_PENDING, model_row(pending))

    def rotate_csrf_token(self, pending_id: str, binding: str, username: str | None = None) -> str:
        """A fresh CSRF token for the next form of this pending request (RFC 6749 §10.12; OAuth
        2.1 draft-13 §7.10). Only its hash, bound to the browser's cookie (browser_binding.py),
        is stored, and each form gets a new one, so a token works once and only in the browser
        it was shown to."""
        token = new_secret()
        values = {"pending_id": pending_id, "b_csrf": bound_token_hash(binding, token)}
        if username is None:
            self.db.execute(q.SET_CSRF_HASH, values)
        else:
            self.db.execute(q.SET_CSRF_HASH_AND_USER, {**values, "b_username": username})
        return token

    def pending_for_form(self, pending_id: str, csrf_token: str, binding: str | None) -> Row:
        """The pending request a form submission belongs to; LookupError names why it is refused.

        The CSRF token must be the one issued for *this* request, and the submission must come
        from the browser it was shown to (RFC 6749 §10.12: bound to the user-agent's state;
        OWASP pre-session tokens against login CSRF).
        """
        pending = self.db.execute(q.PENDING_BY_ID, {"pending_id": pending_id}).first()
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

    def consume_pending(self, pending: Row) -> bool:
        """Delete the pending request if it is still as we read it (single use)."""
        found = {"pending_id": pending.id, "csrf_hash": pending.csrf_hash}
        return self.db.execute(q.CONSUME_PENDING, found).rowcount == 1

    # --- consents --------------------------------------------------------------------------

    def granted_scopes(self, username: str, client_id: str) -> list[str]:
        """What this user has granted this client so far."""
        keys = {"username": username, "client_id": client_id}
        scopes = self.db.execute(q.CONSENT_SCOPES, keys).scalar()
        return list(scopes) if scopes else []

    def record_consent(self, username: str, client_id: str, scopes: list[str]) -> None:
        """Add ``scopes`` to the user's consent record for the client."""
        keys = {"username": username, "client_id": client_id}
        granted = self.db.execute(q.CONSENT_SCOPES, keys).scalar()
        if granted is None:
            self.db.execute(q.INSERT_CONSENT, {**keys, "scopes": scopes})
        else:
            union = scope_union(granted, scopes)
            self.db.execute(
                q.UPDATE_CONSENT,
                {"b_username": username, "b_client_id": client_id, "b_scopes": union},
            )

    # --- codes, grants and tokens -----------------------------------------------------------

    def issue_code(self, pending: Any, username: str, scopes: list[str], ttl: int) -> str:
        """OAuth 2.1 draft-13 §4.1.2: a random, short-lived, single-use code bound to the client,
        redirect URI, PKCE challenge, resource (RFC 8707) and the granted scopes; stored hashed.
        ``pending``: the pending request (a stored row, or the unstored one of auto-approve)."""
        code = new_secret()
        self.db.execute(
            q.INSERT_CODE,
            {
                "code_hash": secret_hash(code),
                "client_id": pending.client_id,
                "redirect_uri": pending.redirect_uri,
                "scopes": scopes,
                "resource": pending.resource,
                "code_challenge": pending.code_challenge,
                "username": username,
                "expires_at": now() + ttl,
                "used_at": None,
                "grant_id": None,
            },
        )
        return code

    def find_code(self, code: str) -> Row | None:
        return self.db.execute(q.CODE_BY_HASH, {"code_hash": secret_hash(code)}).first()

    def grant(self, grant_id: str) -> Row | None:
        return self.db.execute(q.GRANT_BY_ID, {"grant_id": grant_id}).first()

    def revoke_grant(self, grant_id: str, reason: str) -> None:
        """Revoke a grant with every refresh and access token issued under it (OAuth 2.1
        draft-13 §4.1.3 code replay, §4.3.1 refresh reuse; RFC 7009 §2.1)."""
        values = {"b_grant_id": grant_id, "b_at": now(), "b_reason": reason}
        self.db.execute(q.REVOKE_GRANT, values)
        self.db.execute(q.REVOKE_GRANT_REFRESH_TOKENS, {"b_grant_id": grant_id})
        self.db.execute(q.REVOKE_GRANT_ACCESS_TOKENS, values)

    def find_refresh_token(self, token: str) -> Row | None:
        return self.db.execute(q.REFRESH_TOKEN_BY_HASH, {"token_hash": secret_hash(token)}).first()

    def _add_issued(self, grant: Any, issued: IssuedTokens) -> None:
        self.db.execute(
            q.INSERT_ACCESS_TOKEN,
            {
                "jti": issued.jti,
                "grant_id": grant.id,
                "client_id": grant.client_id,
                "expires_at": issued.access_expires_at,
                "revoked_at": None,
            },
        )
        if issued.refresh_token is not None:
            at = now()
            self.db.execute(
                q.INSERT_REFRESH_TOKEN,
                {
                    "token_hash": secret_hash(issued.refresh_token),
                    "grant_id": grant.id,
                    "client_id": grant.client_id,
                    "status": "active",
                    "created_at": at,
                    "expires_at": at + issued.refresh_ttl,
                },
            )

    def redeem_code(self, code: Row, grant: NewGrant, issued: IssuedTokens) -> bool:
        """Mark the code used (only if it was unused), create its grant and record the tokens,
        all in the request's one transaction. False when a concurrent request redeemed the code
        first: the transaction is rolled back and nothing is written.

        One transaction means a crash can never leave a used code without its grant, or a grant
        without its tokens.
        """
        used = {"b_code_hash": code.code_hash, "b_used_at": now(), "b_grant_id": grant.id}
        if self.db.execute(q.REDEEM_CODE, used).rowcount != 1:
            self.db.rollback()
            return False
        self.db.execute(q.INSERT_GRANT, grant.row())
        self._add_issued(grant, issued)
        return True

    def rotate_refresh_token(self, old: Row, grant: Row, issued: IssuedTokens) -> bool:
        """OAuth 2.1 draft-13 §4.3.1: retire the presented refresh token (only if still active)
        and record its successor and the new access token, in one transaction. False when it
        was not active any more (a concurrent refresh won; rolled back, nothing written). A
        crash therefore leaves either the old token usable or the new one, never neither."""
        if self.db.execute(q.ROTATE_REFRESH_TOKEN, {"b_token_hash": old.token_hash}).rowcount != 1:
            self.db.rollback()
            return False
        self._add_issued(grant, issued)
        return True

    def access_token_revoked(self, jti: str) -> bool:
        """True when the jti is unknown, revoked, or its grant is revoked (or gone): the rule
        of ``revocation_reads.revoked``, read through this store's connection."""
        return revoked(self.db.execute(q.ACCESS_TOKEN_STATE, {"jti": jti}).first())

    def revoke_access_token(self, jti: str) -> None:
        self.db.execute(q.REVOKE_ACCESS_TOKEN, {"b_jti": jti, "b_at": now()})


def get_store(request: Request) -> Iterator[Store]:
    """FastAPI dependency: one session per request; uncommitted work is rolled back at the end."""
    with session(request.app.state.engine) as db:
        yield Store(db, request.app.state.verification_keys)


@contextmanager
def connection_store(request: Request) -> Iterator[Store]:
    """The store of an endpoint that opens its own: one Core connection (one transaction) for
    the request, returned to the pool at the end; uncommitted work is rolled back. A request
    running on the event loop (loop_writes.run_writing) uses the transaction begun for it."""
    if (connection := loop_connection(request)) is not None:
        # SQLite on the event loop: the prebuilt statements run on its driver (sqlite_statements.py)
        yield Store(DriverConnection(connection), request.app.state.verification_keys)
        return
    with request.app.state.engine.connect() as connection:
        yield Store(connection, request.app.state.verification_keys)


@contextmanager
def reading_store(request: Request) -> Iterator[Store]:
    """``connection_store`` for a request that only reads and, with SQLite, runs in the event
    loop (form_endpoints.FormEndpoint ``reads_only``): there it reads through the loop's own
    connection (db.create_event_loop_reader)."""
    engine = request.app.state.event_loop_reader or request.app.state.engine
    with engine.connect() as connection:
        yield Store(connection, request.app.state.verification_keys)


StoreDep = Annotated[Store, Depends(get_store)]
