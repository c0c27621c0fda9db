"""The journal: writing events (with retention), attributing unattributed ones, reading them.

Retention (the journal is grown by unauthenticated callers, so it is bounded): after every batch
and every ``PRUNE_EVERY``-th single write, every event older than ``max_age_seconds`` is deleted;
once ``JournalLimits.count_every`` events were written since the last count pass (a batch of
that many prunes in its own transaction), the oldest events beyond ``max_events`` are deleted
(so at most ``max_events + count_every`` are kept: 2 % more). Both deletes use indexed columns;
finding the count boundary steps over ``max_events`` rows (2-5 ms at 20,000), which is why it
runs once per ``count_every`` events (every 400 at 20,000: about 10 µs per event), not per
batch.

Attribution of unattributed events (a request to the RS without a token, an AS metadata fetch):
such an event is given to the next client that registers or sends an authorization request to
the AS within ``INFERENCE_WINDOW`` seconds after it (the client that was discovering before it
showed itself). Events attributed so are marked ``attribution = "inferred"``; in a room where
many clients start at the same second the rule can name the wrong one, and says so.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from demo_as.db import session
from demo_as.lab.models import CLIENT_ID_LENGTH, LabEvent
from demo_as.sqlite_statements import DriverConnection, register

EVENTS = LabEvent.__table__  # Core: the journal writes plain rows (write_events says why)

INFERENCE_WINDOW = 30.0
PRUNE_EVERY = 20  # single writes between two age passes; events between two count passes
# Kinds a client does before it has a client_id or a token, and may be attributed by inference.
INFERABLE_KINDS = ("metadata-fetch", "prm-fetch", "mcp-request", "challenge", "tool-result")
# Kinds with which a client first names itself at the AS.
SHOWS_CLIENT_KINDS = ("registration", "authorization-request")


class RetentionDue:
    """Which retention passes a write owes: the writes and events of this process (any thread)
    since the last age pass and the last count pass."""

    def __init__(self) -> None:
        self.writes = 0
        self.events = 0
        self.lock = threading.Lock()

    def after(self, events: int, limits: JournalLimits) -> tuple[bool, bool]:
        """(age pass due, count pass due) after a write of ``events``; due counts restart."""
        with self.lock:
            self.writes += 1
            self.events += events
            by_age = events > 1 or self.writes >= PRUNE_EVERY
            by_count = self.events >= limits.count_every
            if by_age:
                self.writes = 0
            if by_count:
                self.events = 0
            return by_age, by_count


def fingerprint(secret: str) -> str:
    """The lab's one public name for a secret (token, code, verifier, refresh token): the same
    string at the AS and the RS, so their events can be linked without storing the secret."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class JournalLimits:
    max_events: int
    max_age_seconds: int

    @property
    def count_every(self) -> int:
        """Events written between two count passes (what the journal may exceed max_events by)."""
        return max(PRUNE_EVERY, self.max_events // 50)


_retention = RetentionDue()


@dataclass
class NewEvent:
    """An event about to be written."""

    server: str
    kind: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    client_id: str | None = None
    attribution: str | None = None
    token_fingerprint: str | None = None
    at: float = field(default_factory=time.time)
    graded: bool = False  # may change a verdict: the grader looks at the client afterwards


# Kinds whose identical repeats within one batch of the writer are stored as one event (Repeats).
MERGED_KINDS = ("introspection",)


class Repeats:
    """Identical introspections of one token as one event: ``detail.repeats`` (N ≥ 2),
    ``detail.last_at``, summary suffixed ``(×N)`` (``label_repeats``), as the RS merges its
    identical successful requests. Only back-to-back repeats of a client merge: any other step
    of that client in between ends the run, so the timeline keeps the order of what happened.
    Without this the AS's own introspection steps would be most of the journal under
    introspection traffic (one per RS request), pushing every client's other steps out of the
    retention bound.

    The journal writer merges as events are submitted (``absorbs``), not when it takes its
    batch: a thread that spends its time on hundreds of queued copies of one introspection
    takes the GIL from the event loop at each of the loop's own GIL releases (its SQLite reads,
    its socket writes), and that cost the loop 20 µs of CPU per introspection (bench/profiling.md
    §13), ten times the queued copies' own cost."""

    def __init__(self) -> None:
        # client (else token) -> its latest event, with what a repeat of it must equal (None:
        # not a kind that merges)
        self.latest: dict[str | None, tuple[NewEvent, tuple[Any, ...] | None]] = {}

    def absorbs(self, event: NewEvent) -> bool:
        """True when ``event`` was counted as one more repeat of its client's latest event (the
        caller drops it); otherwise it becomes that client's latest."""
        who = event.client_id or event.token_fingerprint
        mergeable = repeat_key(event) if event.kind in MERGED_KINDS else None
        held = self.latest.get(who)
        if held is not None and mergeable is not None and held[1] == mergeable:
            first = held[0]
            if "repeats" not in first.detail:
                first.detail = {**first.detail, "repeats": 1}  # its own copy: the key holds one
            first.detail["repeats"] += 1
            first.detail["last_at"] = event.at
            return True
        self.latest[who] = (event, mergeable)
        return False


def repeat_key(event: NewEvent) -> tuple[Any, ...]:
    """What two events must share to be one event repeated."""
    return (
        event.server,
        event.kind,
        event.client_id,
        event.attribution,
        event.token_fingerprint,
        event.detail,
    )


def label_repeats(events: list[NewEvent]) -> list[NewEvent]:
    """The ``(×N)`` suffix on each merged event's summary, once, as it is written."""
    for event in events:
        if "repeats" in event.detail and event.kind in MERGED_KINDS:
            event.summary = f"{event.summary} (×{event.detail['repeats']})"
    return events


@dataclass
class StoredBatch:
    """A batch as ``store_events`` stored it: the rows (their ``client_id`` attributed by
    inference where it was), and the id of the first (the others follow it, one apiece), or
    None where the ids are not known (PostgreSQL: ids are handed out before commit, by a
    sequence other processes share)."""

    rows: list[dict[str, Any]]
    first_id: int | None


def write_events(engine: Engine, limits: JournalLimits | None, events: list[NewEvent]) -> int:
    """``store_events``; returns how many were stored."""
    return len(store_events(engine, limits, events).rows)


def store_events(
    engine: Engine, limits: JournalLimits | None, events: list[NewEvent]
) -> StoredBatch:
    """Store ``events`` in one transaction, attribute by inference, apply retention (unless
    ``limits`` is None: the next write applies it).

    One multi-row INSERT of plain rows, not one ORM object per event (nor the ORM's bulk
    insert, which still builds a command per row): a busy RS reports hundreds of events a
    second, and the ORM cost the AS more than everything else it did for them. With SQLite the
    statements run on the driver (sqlite_statements.py): through SQLAlchemy's execution layer
    an event cost about 48 µs of CPU in a batch of 50, on the driver about 40 µs (SQLite's own
    INSERT with its three indexes and the JSON about 16 µs; bench/profiling.md §7).

    The ids, on SQLite: the batch's rows are numbered one after another (a rowid is one more
    than the largest in the table, and this transaction holds the write lock from its first
    INSERT to its commit), so the last one's (``last_insert_rowid()``, of this connection)
    names them all. The grader uses them to grade a new client from these rows instead of
    reading them back (grading_cache.StepsCache.offer)."""
    if not events:
        return StoredBatch([], None)
    rows = [row_of(e) for e in events]
    first_id = None
    with engine.begin() as connection:
        # SQLite: the statements below run on its driver (sqlite_statements.py): SQLAlchemy's
        # execution layer cost more per event than the INSERT itself.
        sqlite = engine.dialect.name == "sqlite"
        db: Any = DriverConnection(connection) if sqlite else connection
        shown = [r for r in rows if r["client_id"] is not None and r["kind"] in SHOWS_CLIENT_KINDS]
        for row in rows:
            if row["client_id"] is None and row["kind"] in INFERABLE_KINDS:
                infer_from_later(db, row, shown)
        db.execute(INSERT_EVENTS, rows)
        if sqlite:
            first_id = int(db.execute(LAST_ROW_ID).scalar_one()) - len(rows) + 1
        if shown and unattributed_between(
            db, min(r["at"] for r in shown), max(r["at"] for r in shown)
        ):
            for row in shown:
                attribute_earlier(db, row)
        if limits is not None:
            prune(db, limits, *_retention.after(len(rows), limits))
    return StoredBatch(rows, first_id)


def row_of(event: NewEvent) -> dict[str, Any]:
    client_id = (event.client_id or None) and event.client_id[:CLIENT_ID_LENGTH]
    return {
        "at": event.at,
        "server": event.server,
        "kind": event.kind,
        "client_id": client_id,
        "attribution": event.attribution if client_id else None,
        "token_fingerprint": event.token_fingerprint,
        "summary": event.summary[:500],
        "detail": event.detail,
    }


# The statements run for many batches, built once (building the expression per call cost more
# than running it); the bound values are given at each call.
LATER_SHOWN = (
    select(EVENTS.c.at, EVENTS.c.client_id)
    .where(
        EVENTS.c.kind.in_(SHOWS_CLIENT_KINDS),
        EVENTS.c.client_id.is_not(None),
        EVENTS.c.at >= bindparam("low"),
        EVENTS.c.at <= bindparam("high"),
    )
    .order_by(EVENTS.c.at, EVENTS.c.id)
    .limit(1)
)
UNATTRIBUTED = EVENTS.c.client_id.is_(None) & EVENTS.c.kind.in_(INFERABLE_KINDS)
ANY_UNATTRIBUTED = (
    select(EVENTS.c.id)
    .where(UNATTRIBUTED, EVENTS.c.at >= bindparam("low"), EVENTS.c.at <= bindparam("high"))
    .limit(1)
)
ATTRIBUTE = (
    update(EVENTS)
    .where(UNATTRIBUTED, EVENTS.c.at >= bindparam("low"), EVENTS.c.at <= bindparam("high"))
    .values(client_id=bindparam("shown_client"), attribution="inferred")
)
INSERT_EVENTS = insert(EVENTS)
LAST_ROW_ID = select(func.last_insert_rowid())  # SQLite: the id of this connection's last INSERT
DELETE_OLDER = delete(EVENTS).where(EVENTS.c.at < bindparam("before"))
register(LATER_SHOWN, ANY_UNATTRIBUTED, ATTRIBUTE, INSERT_EVENTS, LAST_ROW_ID, DELETE_OLDER)


def infer_from_later(db: Connection, row: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    """An unattributed event arriving after the client showed itself (RS batches lag): the
    first client to show itself within ``INFERENCE_WINDOW`` after it, whether stored already or
    in the same batch (``batch``: that batch's rows of ``SHOWS_CLIENT_KINDS``)."""
    window = (row["at"], row["at"] + INFERENCE_WINDOW)
    stored = db.execute(LATER_SHOWN, {"low": window[0], "high": window[1]}).first()
    candidates = [(r["at"], r["client_id"]) for r in batch if window[0] <= r["at"] <= window[1]]
    if stored is not None:
        candidates.append((stored[0], stored[1]))
    if candidates:
        row["client_id"] = min(candidates, key=lambda c: c[0])[1]
        row["attribution"] = "inferred"


def unattributed_between(db: Connection, first: float, last: float) -> bool:
    """Whether a stored unattributed step lies in the windows before clients shown at ``first``
    to ``last`` (one query per batch instead of an UPDATE per client shown: usually none)."""
    window = {"low": first - INFERENCE_WINDOW, "high": last}
    return db.execute(ANY_UNATTRIBUTED, window).first() is not None


def attribute_earlier(db: Connection, row: dict[str, Any]) -> None:
    """A client showed itself: it owns the unattributed steps of the window before."""
    window = {"low": row["at"] - INFERENCE_WINDOW, "high": row["at"]}
    db.execute(ATTRIBUTE, {**window, "shown_client": row["client_id"]})


def prune(
    db: Connection, limits: JournalLimits, by_age: bool = True, by_count: bool = True
) -> None:
    """Retention by age and by count (ids grow with insertion)."""
    if by_age:
        db.execute(DELETE_OLDER, {"before": time.time() - limits.max_age_seconds})
    if not by_count:
        return
    boundary = db.execute(
        select(EVENTS.c.id).order_by(EVENTS.c.id.desc()).offset(limits.max_events).limit(1)
    ).first()
    if boundary is not None:
        db.execute(delete(EVENTS).where(EVENTS.c.id <= boundary[0]))


# --- reading ----------------------------------------------------------------------------------


def client_rows(engine: Engine, client_id: str, after_id: int | None = None) -> list[Any]:
    """A client's events in time order (then insertion order), as read-only rows with the
    ``LabEvent`` column names as attributes (plain rows: grading reads thousands of them, and
    building an ORM object per row cost more than the grading)."""
    table = LabEvent.__table__
    query = select(*table.columns).where(table.c.client_id == client_id)
    if after_id is not None:
        query = query.where(table.c.id > after_id)
    with engine.connect() as connection:
        return list(connection.execute(query.order_by(table.c.at, table.c.id)).all())


def client_ids_seen(engine: Engine) -> list[tuple[str, tuple[int, int]]]:
    """Every attributed client, ordered by first seen, with its journal stamp (the number of
    its events and the largest id among them: they change whenever its events do)."""
    with session(engine) as db:
        rows = db.exec(
            select(LabEvent.client_id, func.count(LabEvent.id), func.max(LabEvent.id))
            .where(LabEvent.client_id.is_not(None))
            .group_by(LabEvent.client_id)
            .order_by(func.min(LabEvent.at))
        ).all()
    return [(str(r[0]), (int(r[1]), int(r[2]))) for r in rows]


def client_stamp(engine: Engine, client_id: str) -> tuple[int, int]:
    """The number of the client's events and their largest id; ``(0, 0)`` for none."""
    with session(engine) as db:
        row = db.exec(
            select(func.count(LabEvent.id), func.max(LabEvent.id)).where(
                LabEvent.client_id == client_id
            )
        ).first()
    return (int(row[0]), int(row[1] or 0)) if row else (0, 0)


def registrations_stamp(engine: Engine) -> int:
    """The largest id of a registration event (another client's registration can change the
    ``registers-once`` verdict: twins)."""
    with session(engine) as db:
        row = db.exec(select(func.max(LabEvent.id)).where(LabEvent.kind == "registration")).first()
    return int(row[0] or 0) if row else 0


def client_known(engine: Engine, client_id: str) -> bool:
    with session(engine) as db:
        return (
            db.exec(select(LabEvent.id).where(LabEvent.client_id == client_id).limit(1)).first()
            is not None
        )


def iso(at: float) -> str:
    """ISO-8601 UTC with milliseconds."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
