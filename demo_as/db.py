"""Database engine and sessions. Dialect-neutral: SQLite by default, any SQLAlchemy URL works
(e.g. ``postgresql+psycopg://user:pw@host/db``).

SQLite gets WAL journaling and a busy timeout so that two processes (a restarted server next to
an old one, or two test apps) can share one database file without "database is locked" errors.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.schema import CreateIndex
from sqlmodel import Session, create_engine

from demo_as.models import ASTable
from demo_as.private_files import private_directory, private_sqlite_file

# SQLAlchemy's default cap on connections (a pool of 5 plus 10 overflow), all kept open once made:
# an overflow connection is closed when it is returned, so with more than five requests at once
# the AS opened (and, on SQLite, ran the four PRAGMAs on) a new connection for most of them.
POOL_CONNECTIONS = 15


def create_db_engine(database_url: str, sqlite_synchronous: str = "normal") -> Engine:
    """An engine with all demo_as tables created; ``sqlite_synchronous`` see ``_sqlite_pragmas``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            # The database holds the signing key: directory 0700, files 0600 (private_files.py).
            database = Path(url.database)
            if not database.parent.exists():
                private_directory(database.parent)
            private_sqlite_file(database)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=POOL_CONNECTIONS,
            max_overflow=0,
        )
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, sqlite_synchronous))
    else:
        engine = create_engine(
            database_url, pool_pre_ping=True, pool_size=POOL_CONNECTIONS, max_overflow=0
        )
    ASTable.metadata.create_all(engine)
    create_missing_indexes(engine)
    return engine


def create_event_loop_reader(
    database_url: str, sqlite_synchronous: str = "normal"
) -> Engine | None:
    """For SQLite: a one-connection engine the event loop reads with, no thread-pool hop (the
    hop cost more than the query: bench/profiling.md §4). None for other databases, whose reads
    are network round trips that must not block the event loop.

    Safe on the loop because a read there never waits: in WAL mode readers do not wait for
    writers (https://sqlite.org/wal.html, "readers do not block writers and a writer does not
    block readers"), and the one connection is used by the loop thread alone, one request at a
    time (the reads run without an ``await`` in between), so it is always free. It never writes.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    engine = create_engine(
        database_url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=1,
        max_overflow=0,
    )
    event.listen(engine, "connect", functools.partial(_sqlite_pragmas, sqlite_synchronous))
    return engine


def create_missing_indexes(engine: Engine) -> None:
    """``create_all`` makes only missing tables: an index added to an existing table in a later
    version is created here, once (a database from an earlier version keeps working either way)."""
    with engine.begin() as connection:
        for table in ASTable.metadata.sorted_tables:
            for index in table.indexes:
                # IF NOT EXISTS: two processes starting on one database do not race.
                connection.execute(CreateIndex(index, if_not_exists=True))


def _sqlite_pragmas(synchronous: str, dbapi_connection, _record) -> None:
    """WAL journaling, a busy timeout and foreign keys on every connection.

    ``synchronous``: with WAL, ``normal`` writes each commit to the WAL without waiting for the
    disk (fsync only at checkpoints): a commit survives the process being killed (the data is in
    the operating system's page cache), a power cut may roll back the last ones. ``full`` waits
    for the disk on every commit. https://sqlite.org/pragma.html#pragma_synchronous and
    https://sqlite.org/wal.html ("WAL mode is safe from corruption with synchronous=NORMAL").
    """
    if synchronous not in ("normal", "full"):
        raise ValueError(f"unsupported synchronous mode {synchronous!r}")
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session(engine: Engine) -> Session:
    """A session whose objects stay readable after commit (we return them from functions)."""
    return Session(engine, expire_on_commit=False)


def now() -> int:
    """Seconds since the epoch; all expiry columns use this."""
    return int(time.time())


def new_secret() -> str:
    """A 256-bit random URL-safe string (codes, refresh tokens, client secrets, CSRF tokens)."""
    return secrets.token_urlsafe(32)


def secret_hash(value: str) -> str:
    """SHA-256 hex of a random secret; what the database stores instead of the secret."""
    return hashlib.sha256(value.encode()).hexdigest()
