"""The grader's copy of each busy client's steps: read from the journal once, then only what is
new (runtime.Grader, recorder.log_new_failures).

Why: a grading pass for the log lines read every event of every client it graded, and a busy
client is graded again and again (each refresh schedules it). Reading and decoding the rows and
building their ``Step``s was three quarters of a pass (py-spy, 32 clients refreshing), and it
grew with each client's history. The rules themselves still see every step.

A copy is used only while the journal proves it complete. Each pass reads the rows with an id
above the copies' newest, then counts each client's rows up to the newest id read
(``COUNT_UP_TO``, with the oldest id). A copy plus its new rows must match that count and that
oldest id; when they do not, the client's rows changed in a way new ids do not show, and the
client is read again in full:

- the journal writer attributed older steps to it (journal.attribute_earlier);
- retention deleted some (journal.prune);
- another AS process on the same PostgreSQL database committed a row with a lower id after a
  higher one was read (ids are handed out before commit there).

A copy is kept only for a client graded a second time: most clients are graded once (a new
client's first token, graded when its steps settle), and keeping their copies filled the cache
with clients never graded again (about 2 KiB a step: 39 MiB at ``MAX_STEPS``, three quarters of
what the lab added to the AS's memory after a run of first tokens). Which clients were graded
once is remembered for the last ``MAX_GRADED_ONCE`` of them (their ids only).

Memory is bounded: at most ``MAX_STEPS`` steps in all, the least recently graded clients
dropped first; a client with more steps than that is read in full each time, as before.
"""

from __future__ import annotations

import json
from bisect import insort
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, bindparam, func, select, type_coerce
from sqlalchemy.engine import Engine

from demo_as.lab.journal import EVENTS
from demo_as.lab.steps import Step

MAX_STEPS = 20_000
MAX_GRADED_ONCE = 20_000

# ``detail`` as the text stored, decoded only for the rows a copy does not hold yet: a pass
# reads every row above the oldest of its copies' newest ids, and decoding the ones already held
# was a third of the pass (py-spy, new clients' first tokens). (PostgreSQL's driver hands JSON
# over decoded either way.)
DETAIL_AS_STORED = type_coerce(EVENTS.c.detail, Text).label("detail")
NEW_ROWS = select(*(c for c in EVENTS.columns if c.name != "detail"), DETAIL_AS_STORED).where(
    EVENTS.c.client_id.in_(bindparam("client_ids", expanding=True)),
    EVENTS.c.id > bindparam("after_id"),
)
ALL_ROWS = (
    select(*EVENTS.columns)
    .where(EVENTS.c.client_id.in_(bindparam("client_ids", expanding=True)))
    .order_by(EVENTS.c.at, EVENTS.c.id)
)
COUNT_UP_TO = (
    select(EVENTS.c.client_id, func.count(EVENTS.c.id), func.min(EVENTS.c.id))
    .where(
        EVENTS.c.client_id.in_(bindparam("client_ids", expanding=True)),
        EVENTS.c.id <= bindparam("up_to"),
    )
    .group_by(EVENTS.c.client_id)
)


def step_of(row: Any) -> Step:
    detail = row.detail
    if isinstance(detail, str):  # NEW_ROWS on SQLite
        detail = json.loads(detail)
    return Step(
        int(row.id),
        row.at,
        row.server,
        row.kind,
        detail or {},
        row.client_id,
        row.token_fingerprint,
    )


def order(step: Step) -> tuple[float, int]:
    """The journal's order: time, then insertion (journal.client_rows)."""
    return (step.at, step.id)


@dataclass
class ClientSteps:
    steps: list[Step] = field(default_factory=list)  # in ``order``
    newest_id: int = 0

    def stamp(self) -> tuple[int, int] | None:
        """(number of steps, oldest id), as COUNT_UP_TO reads them; None when empty."""
        return (len(self.steps), min(s.id for s in self.steps)) if self.steps else None

    def add(self, step: Step) -> None:
        if self.steps and order(step) < order(self.steps[-1]):
            insort(self.steps, step, key=order)  # an RS step reported after later AS steps
        else:
            self.steps.append(step)
        self.newest_id = max(self.newest_id, step.id)


class StepsCache:
    """Used by one thread (the grader's)."""

    def __init__(self, max_steps: int = MAX_STEPS) -> None:
        self.max_steps = max_steps
        self.clients: OrderedDict[str, ClientSteps] = OrderedDict()
        self.held = 0  # steps in all copies
        self.full_reads = 0  # clients read in full (a fresh copy, or one proved incomplete)
        self.graded_once: OrderedDict[str, None] = OrderedDict()  # read, not kept

    def steps_of(self, engine: Engine, client_ids: list[str]) -> dict[str, list[Step]]:
        """Each client's steps in journal order, as the journal holds them now."""
        copies = {c: self.clients.pop(c, None) for c in client_ids}
        for copy in copies.values():
            if copy is not None:
                self.held -= len(copy.steps)
        with engine.connect() as db:
            known = [c for c, copy in copies.items() if copy is not None]
            if known:
                self.add_new_rows(db, known, copies)
            stale = [c for c, copy in copies.items() if copy is None]
            if stale:
                self.full_reads += len(stale)
                fresh = self.read_all(db, stale)
                copies.update(fresh)
        held_before = set(known)
        for client_id in client_ids:
            if client_id in held_before or self.graded_before(client_id):
                self.keep(client_id, copies[client_id])  # type: ignore[arg-type]
        return {c: copies[c].steps for c in client_ids}  # type: ignore[union-attr]

    def graded_before(self, client_id: str) -> bool:
        """Whether ``client_id`` was graded before without a copy kept (else remember it was)."""
        if client_id in self.graded_once:
            del self.graded_once[client_id]
            return True
        self.graded_once[client_id] = None
        if len(self.graded_once) > MAX_GRADED_ONCE:
            self.graded_once.popitem(last=False)
        return False

    def add_new_rows(
        self, db: Any, known: list[str], copies: dict[str, ClientSteps | None]
    ) -> None:
        """Bring the copies of ``known`` up to date; a copy the count disproves becomes None."""
        after = min(copies[c].newest_id for c in known)  # type: ignore[union-attr]
        rows = db.execute(NEW_ROWS, {"client_ids": known, "after_id": after}).all()
        for row in rows:
            copy = copies[row.client_id]
            if copy is not None and row.id > copy.newest_id:
                copy.add(step_of(row))
        up_to = max((int(r.id) for r in rows), default=after)
        up_to = max([up_to, *(copies[c].newest_id for c in known)])  # type: ignore[union-attr]
        stamps = {
            row[0]: (int(row[1]), int(row[2]))
            for row in db.execute(COUNT_UP_TO, {"client_ids": known, "up_to": up_to})
        }
        for client_id in known:
            copy = copies[client_id]
            if stamps.get(client_id) != copy.stamp():  # type: ignore[union-attr]
                copies[client_id] = None

    def read_all(self, db: Any, client_ids: Iterable[str]) -> dict[str, ClientSteps]:
        fresh = {c: ClientSteps() for c in client_ids}
        rows = db.execute(ALL_ROWS, {"client_ids": list(fresh)}).all()
        for row in rows:
            copy = fresh[row.client_id]
            copy.steps.append(step_of(row))
            copy.newest_id = max(copy.newest_id, int(row.id))
        return fresh

    def keep(self, client_id: str, copy: ClientSteps) -> None:
        """Remember ``copy`` as the most recently graded, within ``max_steps``."""
        if len(copy.steps) > self.max_steps:
            return
        self.clients[client_id] = copy
        self.held += len(copy.steps)
        while self.held > self.max_steps:
            _oldest, dropped = self.clients.popitem(last=False)
            self.held -= len(dropped.steps)
