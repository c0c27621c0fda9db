"""Database engine and sessions. Dialect-neutral: SQLite by default, any SQLAlchemy URL works
(e.g. ``postgresql+psycopg://user:pw@host/db``).

SQLite gets WAL journaling and a busy timeout so that two processes (a restarted server next to
an old one, or two test apps) can share one database file without "database is locked" errors.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from demo_as.models import ASTable
from demo_as.private_files import private_directory, private_sqlite_file


def create_db_engine(database_url: str) -> Engine:
    """An engine with all demo_as tables created."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            # The database holds the signing key: directory 0700, files 0600 (private_files.py).
            database = Path(url.database)
            if not database.parent.exists():
                private_directory(database.parent)
            private_sqlite_file(database)
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(database_url, pool_pre_ping=True)
    ASTable.metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
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
