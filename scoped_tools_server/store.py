"""The notes store: one SQLModel table, every row owned by the ``sub`` of the token that made it.

Owner checks live in the queries themselves (``WHERE owner = :sub``), so a note of another user
is indistinguishable from a note that does not exist.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Field, Session, SQLModel, create_engine, select

MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 10_000


class Note(SQLModel, table=True):
    """A note. ``owner`` is the issuer-scoped subject (``iss`` + ``sub``, see ``owner_key``)."""

    __tablename__ = "notes"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True, max_length=600)
    title: str = Field(max_length=MAX_TITLE_CHARS)
    body: str = Field(max_length=MAX_BODY_CHARS)
    created_at: float = Field(default_factory=time.time)


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
        SQLModel.metadata.create_all(self._engine, tables=[Note.__table__])  # type: ignore[list-item]

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
        with Session(self.engine) as session:
            rows = session.exec(select(Note).where(Note.owner == owner).order_by(Note.id))  # type: ignore[arg-type]
            return list(rows)

    def get_note(self, owner: str, note_id: int) -> Note | None:
        with Session(self.engine) as session:
            statement = select(Note).where(Note.owner == owner, Note.id == note_id)
            return session.exec(statement).first()

    def create_note(self, owner: str, title: str, body: str) -> Note:
        with Session(self.engine) as session:
            note = Note(owner=owner, title=title, body=body)
            session.add(note)
            session.commit()
            session.refresh(note)
            return note

    def delete_note(self, owner: str, note_id: int) -> bool:
        """Delete the caller's note; False when there is no such note *of this owner*."""
        with Session(self.engine) as session:
            statement = select(Note).where(Note.owner == owner, Note.id == note_id)
            note = session.exec(statement).first()
            if note is None:
                return False
            session.delete(note)
            session.commit()
            return True
