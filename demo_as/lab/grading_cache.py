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

A new client is not read back at all: the journal writer ``offer``s the rows it has just stored
(with their ids, on SQLite) and a client met first in those rows gets its copy from them (its
``written`` copy). Reading a new client's five rows back was three quarters of the grader's
CPU under a run of first tokens (py-spy; bench/profiling.md §11). A written copy is used only
when the journal proves it whole: a count of all the client's rows and their oldest id (one
query for the chunk) must match it, or the client is read in full as above (rows the writer
did not offer: written by another process or before this one started, attributed later,
pruned, or offered after the count). Each offered ``detail`` is the decoded JSON the journal
stores, so the rules read the same values either way.

A client that is still busy when it is first graded (it has steps too recent to judge yet, so
it will be graded again) has its copy put back among the written copies instead
(``rewritten``), where the writer's next rows for it join it: a client that goes on (one
refreshing all the time) was read in full at its second grading, and that full read was half
of the grader's CPU under a run of refreshes (bench/profiling.md §13). Graded a second time, it
is proved whole as above and kept. A client that has gone quiet is not put back: its copy would
only take room.

Memory is bounded: at most ``MAX_STEPS`` steps in all, the least recently graded clients
dropped first; a client with more steps than that is read in full each time, as before. Written
copies wait for their client's grading (a new client is graded once its steps settle, 2 s), at
most ``MAX_WRITTEN_STEPS`` of them, the oldest dropped first.
"""

from __future__ import annotations

import json
import math
import threading
from bisect import insort
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, bindparam, func, select, type_coerce
from sqlalchemy.engine import Engine

from demo_as.lab.journal import EVENTS, StoredBatch
from demo_as.lab.steps import Step

MAX_STEPS = 20_000
MAX_GRADED_ONCE = 20_000
MAX_WRITTEN_STEPS = 10_000

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
COUNT_ALL = (
    select(EVENTS.c.client_id, func.count(EVENTS.c.id), func.min(EVENTS.c.id))
    .where(EVENTS.c.client_id.in_(bindparam("client_ids", expanding=True)))
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


JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def json_native(value: Any) -> bool:
    """Whether ``value`` is what decoding its JSON gives back, types included (plain dicts with
    string keys, lists and scalars): the check costs a third of the round trip. A scalar in a
    dict or list is checked in place, without a call: most of a detail's values are."""
    kind = type(value)
    if kind in JSON_SCALARS:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in JSON_SCALARS and not json_native(item):
                return False
        return True
    if kind is list:
        for item in value:
            if type(item) not in JSON_SCALARS and not json_native(item):
                return False
        return True
    return False


def offered_step(step_id: int, row: dict[str, Any]) -> Step:
    """A row the writer stored, as ``step_of`` makes it from the journal: a detail the JSON
    would change (a tuple becomes a list, a key a string) through that JSON."""
    detail = row["detail"] or {}
    if not json_native(detail):
        detail = json.loads(json.dumps(detail))
    return Step(
        step_id,
        row["at"],
        row["server"],
        row["kind"],
        detail,
        row["client_id"],
        row["token_fingerprint"],
    )


class StepsCache:
    """Used by the grader's thread, but for ``offer`` (the journal writer's)."""

    def __init__(self, max_steps: int = MAX_STEPS) -> None:
        self.max_steps = max_steps
        self.clients: OrderedDict[str, ClientSteps] = OrderedDict()
        self.held = 0  # steps in all copies
        self.full_reads = 0  # clients read in full (a fresh copy, or one proved incomplete)
        self.graded_once: OrderedDict[str, None] = OrderedDict()  # read, not kept
        # Copies made from the rows the writer stored, for clients the grader holds no copy of.
        self.written: OrderedDict[str, ClientSteps] = OrderedDict()
        self.written_held = 0
        self.written_used = 0  # clients graded from their written copy
        self.written_lock = threading.Lock()

    def offer(self, batch: StoredBatch) -> None:
        """The journal writer stored ``batch`` (its thread): keep its clients' rows as written
        copies, but for clients the grader holds a copy of (it reads their new rows)."""
        if batch.first_id is None:
            return
        steps = [
            offered_step(batch.first_id + index, row)
            for index, row in enumerate(batch.rows)
            if row["client_id"] is not None and row["client_id"] not in self.clients
        ]
        with self.written_lock:
            added = 0
            for step in steps:
                copy = self.written.get(step.client_id)  # type: ignore[arg-type]
                if copy is None:
                    copy = self.written[step.client_id] = ClientSteps()  # type: ignore[index]
                elif step.id <= copy.newest_id:
                    continue  # read already, by the grading that put this copy back (rewritten)
                copy.add(step)
                added += 1
            self.written_held += added
            self.drop_oldest_written()

    def take_written(self, client_ids: list[str]) -> dict[str, ClientSteps]:
        with self.written_lock:
            taken = {c: copy for c in client_ids if (copy := self.written.pop(c, None))}
            self.written_held -= sum(len(copy.steps) for copy in taken.values())
        return taken

    def steps_of(
        self, engine: Engine, client_ids: list[str], settled: float = math.inf
    ) -> dict[str, list[Step]]:
        """Each client's steps in journal order, as the journal holds them now. A client with a
        step after ``settled`` (wall time) is graded again once that step settles
        (recorder.log_new_failures): if this is its first grading, its copy is ``rewritten``."""
        copies = {c: self.clients.pop(c, None) for c in client_ids}
        for copy in copies.values():
            if copy is not None:
                self.held -= len(copy.steps)
        written = {
            c: copy for c, copy in self.take_written(client_ids).items() if copies[c] is None
        }
        with engine.connect() as db:
            known = [c for c, copy in copies.items() if copy is not None]
            if known:
                self.add_new_rows(db, known, copies)
            if written:
                whole = self.whole(db, written)
                self.written_used += len(whole)
                copies.update(whole)
            stale = [c for c, copy in copies.items() if copy is None]
            if stale:
                self.full_reads += len(stale)
                fresh = self.read_all(db, stale)
                copies.update(fresh)
        held_before = set(known)
        for client_id in client_ids:
            copy = copies[client_id]
            if client_id in held_before or self.graded_before(client_id):
                self.keep(client_id, copy)  # type: ignore[arg-type]
            elif copy.steps and copy.steps[-1].at > settled:  # type: ignore[union-attr]
                self.rewritten(client_id, copy)  # type: ignore[arg-type]
        return {c: copies[c].steps for c in client_ids}  # type: ignore[union-attr]

    def rewritten(self, client_id: str, copy: ClientSteps) -> None:
        """A client still busy at its first grading goes back among the written copies (a copy
        of its copy: the grader is still reading this one), where the writer's next offers for
        it land: graded again, it is proved whole and not read in full. What the writer offered
        for it meanwhile joins it."""
        again = ClientSteps(list(copy.steps), copy.newest_id)
        with self.written_lock:
            meanwhile = self.written.pop(client_id, None)
            if meanwhile is not None:
                self.written_held -= len(meanwhile.steps)
                for step in meanwhile.steps:
                    if step.id > again.newest_id:
                        again.add(step)
            self.written[client_id] = again
            self.written_held += len(again.steps)
            self.drop_oldest_written()

    def drop_oldest_written(self) -> None:
        """Within ``MAX_WRITTEN_STEPS`` (``written_lock`` held), the oldest copies first."""
        while self.written_held > MAX_WRITTEN_STEPS:
            _oldest, dropped = self.written.popitem(last=False)
            self.written_held -= len(dropped.steps)

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

    def whole(self, db: Any, written: dict[str, ClientSteps]) -> dict[str, ClientSteps]:
        """The written copies the journal proves whole: all the client's rows, counted, are as
        many as the copy's steps, from the same oldest id (the copy's rows are journal rows)."""
        stamps = {
            row[0]: (int(row[1]), int(row[2]))
            for row in db.execute(COUNT_ALL, {"client_ids": list(written)})
        }
        return {c: copy for c, copy in written.items() if stamps.get(c) == copy.stamp()}

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
