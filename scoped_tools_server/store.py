"""The notes store: one table, every row owned by the ``sub`` of the token that made it.

Owner checks live in the queries themselves (``WHERE owner = :sub``), so a note of another user
is indistinguishable from a note that does not exist.

SQLAlchemy Core (any SQLAlchemy URL works): four short statements need no ORM, and leaving the
ORM and SQLModel out of this server's imports makes it start about half a second sooner (it is
imported on the path of ``demo-client story``'s embedded mode).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    select,
    text,
)

MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 10_000

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner", String(600), nullable=False, index=True),
    Column("title", String(MAX_TITLE_CHARS), nullable=False),
    Column("body", String(MAX_BODY_CHARS), nullable=False),
    Column("created_at", Float, nullable=False),
)


@dataclass(frozen=True)
class Note:
    """A note. ``owner`` is the issuer-scoped subject (``iss`` + ``sub``, see ``owner_key``)."""

    id: int
    owner: str
    title: str
    body: str
    created_at: float


def _note(row: object) -> Note:
    return Note(**row._mapping)  # type: ignore[attr-defined]


def owner_key(issuer: str | None, subject: str) -> str:
    """RFC 9068 §2.2: ``sub`` is unique only per issuer, so the owner is the pair.

    With one configured issuer this is just a prefix, but it keeps a changed ``--auth-server``
    from handing one issuer's users another issuer's notes.
    """
    return f"{issuer or ''} {subject}"


def _sqlite_file(database_url: str) -> Path | None:
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    path = database_url[len(prefix) :]
    return None if path in ("", ":memory:") else Path(path)


class NoteStore:
    """All note reads and writes go through here; each call is one short transaction."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None

    def open(self) -> None:
        """Create the database file's folder and the table if needed (called from the lifespan)."""
        sqlite_file = _sqlite_file(self.database_url)
        if sqlite_file is not None:
            sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        connect_args = (
            {"check_same_thread": False} if self.database_url.startswith("sqlite") else {}
        )
        self._engine = create_engine(self.database_url, connect_args=connect_args)
        metadata.create_all(self._engine)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the notes store is not open")
        return self._engine

    def is_healthy(self) -> bool:
        """True when the database answers a trivial query (used by ``/health``)."""
        if self._engine is None:
            return False
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def list_notes(self, owner: str) -> list[Note]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(notes).where(notes.c.owner == owner).order_by(notes.c.id)
            )
            return [_note(row) for row in rows]

    def get_note(self, owner: str, note_id: int) -> Note | None:
        with self.engine.connect() as connection:
            statement = select(notes).where(notes.c.owner == owner, notes.c.id == note_id)
            row = connection.execute(statement).first()
            return _note(row) if row is not None else None

    def create_note(self, owner: str, title: str, body: str) -> Note:
        values = {"owner": owner, "title": title, "body": body, "created_at": time.time()}
        with self.engine.begin() as connection:
            note_id = connection.execute(insert(notes).values(**values)).inserted_primary_key[0]
        return Note(id=note_id, **values)

    def delete_note(self, owner: str, note_id: int) -> bool:
        """Delete the caller's note; False when there is no such note *of this owner*."""
        with self.engine.begin() as connection:
            statement = delete(notes).where(notes.c.owner == owner, notes.c.id == note_id)
            return connection.execute(statement).rowcount == 1
