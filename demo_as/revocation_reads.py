"""Whether an access token was revoked: the one database read of every introspection.

RFC 7662 §2.2: a token is active only if it was not revoked, so /introspect reads this on every
call, even when the token's signature is remembered (verified_tokens.py). The rule is
``queries.ACCESS_TOKEN_STATE``'s row read as ``revoked``: unknown jti, the token revoked, or its
grant revoked or gone (RFC 7009 §2.1: revoking a refresh token revokes its grant's access tokens).

With SQLite, /introspect runs in the event loop (form_endpoints.py), and
``EventLoopRevocationReads`` runs that statement on one sqlite3 connection held for the process's
life, through the driver (sqlite_statements.py): SQLAlchemy's checkout, execution context and
result objects cost about twenty times the query (41 µs against 2 µs on this machine;
bench/profiling.md §4b). The statement is the prebuilt Core one, compiled once for SQLite. Each
read is a statement of its own outside any transaction
(Python's sqlite3 opens none for a SELECT) and runs to completion, so it reads the latest commit
of every process sharing the database (WAL: a reader never waits for a writer), and it holds no
snapshot between requests. Other databases read through the request's Core connection
(``store.Store.access_token_revoked``, same statement, same rule).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.engine import Engine

from demo_as import queries as q
from demo_as.sqlite_statements import compiled, run


def revoked(state: Any) -> bool:
    """``ACCESS_TOKEN_STATE``'s row (or None when the jti is unknown) read as revoked."""
    if state is None:
        return True
    record_revoked_at, grant_id, grant_revoked_at = state
    return record_revoked_at is not None or grant_id is None or grant_revoked_at is not None


class EventLoopRevocationReads:
    """SQLite only, on the event loop thread only: ``access_token_revoked`` through one sqlite3
    connection of ``engine`` (a one-connection engine, db.create_event_loop_reader, with the
    same pragmas as every connection), checked out on first use and kept until ``close``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pooled: Any = None
        self._driver: sqlite3.Connection | None = None
        self._statement = compiled(q.ACCESS_TOKEN_STATE)

    def access_token_revoked(self, jti: str) -> bool:
        if self._driver is None:
            self._pooled = self._engine.raw_connection()
            self._driver = self._pooled.driver_connection
        # A sqlite3 error is raised as SQLAlchemy's, so errors.py answers it as from any read
        # (a locked database is a 503, anything else a 500).
        return revoked(run(self._driver, self._statement, {"jti": jti}).first())

    def close(self) -> None:
        if self._pooled is not None:
            self._pooled.close()
            self._pooled = self._driver = None
        self._engine.dispose()
