"""The lab's Python API (COORDINATION.md): what the JSON API and the lab pages show.

Every function takes the AS's engine and returns plain dicts (the JSON API's bodies), or None for
a client the journal does not know. Probe functions raise ``UnknownProbe``/``UnknownClient``.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from demo_as.db import session
from demo_as.lab.catalog import CHALLENGE_PROBES, PROBES, RULES
from demo_as.lab.errors import UnknownClient, UnknownProbe
from demo_as.lab.grading import TWIN_WINDOW, Context
from demo_as.lab.journal import (
    INFERENCE_WINDOW,
    NewEvent,
    client_ids_seen,
    client_known,
    client_rows,
    client_stamp,
    iso,
    registrations_stamp,
    write_events,
)
from demo_as.lab.markdown import render_report
from demo_as.lab.models import LabEvent, LabProbe
from demo_as.lab.probes import active_probes as stored_active_probes
from demo_as.lab.probes import clear_kinds, get_probe, mark_consumed, store_probe
from demo_as.lab.probes import clear_probe as clear_stored_probe
from demo_as.lab.report import grade, rule_of_events
from demo_as.lab.steps import Step, Verdict
from demo_as.models import Client, Grant
from demo_as.store import Store

logger = logging.getLogger("demo_as.lab")
TWIN_KEYS = ("client_name", "redirect_uris", "software_id", "software_version", "peer")


def registration_method(client_id: str, registered: bool) -> str:
    """COORDINATION.md: https:// ids are CIMD, /register clients DCR, anything else
    preregistered."""
    if client_id.startswith("https://"):
        return "cimd"
    return "dcr" if registered else "preregistered"


def to_step(row: LabEvent) -> Step:
    return Step(
        id=int(row.id or 0),
        at=row.at,
        server=row.server,
        kind=row.kind,
        detail=dict(row.detail or {}),
        client_id=row.client_id,
        token_fingerprint=row.token_fingerprint,
    )


def registration_of(rows: list[LabEvent]) -> LabEvent | None:
    """The client's first registration step (rows are in time order)."""
    return next((r for r in rows if r.kind == "registration"), None)


def twin_key(detail: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(detail.get(k)) for k in TWIN_KEYS)


def twins_of(db: Any, client_id: str, registration: LabEvent | None) -> list[Step]:
    """The oldest registration of another client_id with the same metadata from the same
    address within ``TWIN_WINDOW`` of this client's registration, as a one-element list (or
    empty): all that rule registers-once looks at (grading.registers_once).

    Only registrations inside the window are read, oldest first, and reading stops at the first
    twin: a workshop's journal of thousands of registrations costs a grade one row, not all."""
    if registration is None or not registration.detail:
        return []
    key = twin_key(registration.detail)
    # The window is widened by a second here; registers_once applies the exact bound.
    window = TWIN_WINDOW + 1.0
    candidates = db.exec(
        select(
            LabEvent.id,
            LabEvent.at,
            LabEvent.server,
            LabEvent.client_id,
            LabEvent.token_fingerprint,
            LabEvent.detail,
        )
        .where(
            LabEvent.kind == "registration",
            LabEvent.client_id != client_id,
            LabEvent.at >= registration.at - window,
            LabEvent.at <= registration.at + window,
        )
        .order_by(LabEvent.id)
        .execution_options(yield_per=16)
    )
    for event_id, at, server, other, fingerprint, detail in candidates:
        if abs(at - registration.at) <= TWIN_WINDOW and twin_key(detail or {}) == key:
            return [Step(event_id, at, server, "registration", dict(detail), other, fingerprint)]
    return []


class ClientState:
    """One client's rows, its registration facts and its graded report."""

    def __init__(self, engine: Engine, client_id: str) -> None:
        self.client_id = client_id
        self.rows = client_rows(engine, client_id)
        with session(engine) as db:  # one connection for the client and its twins
            client = db.get(Client, client_id)
            registration = registration_of(self.rows)
            twins = twins_of(db, client_id, registration)
        self.registration_detail = dict(registration.detail or {}) if registration else {}
        self.method = registration_method(
            client_id, client is not None or bool(self.registration_detail)
        )
        self.client_name = (client.client_name if client else None) or self.registration_detail.get(
            "client_name"
        )
        context = Context(now=time.time(), registration=self.method, twins=twins)
        self.verdicts: list[Verdict] = grade([to_step(r) for r in self.rows], context)

    def counts(self) -> dict[str, int]:
        counts = {"pass": 0, "fail": 0, "warn": 0, "unobserved": 0}
        for verdict in self.verdicts:
            counts[verdict.verdict] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_name": self.client_name,
            "registration": self.method,
            "software_id": self.registration_detail.get("software_id"),
            "software_version": self.registration_detail.get("software_version"),
            "first_seen": iso(self.rows[0].at) if self.rows else None,
            "last_seen": iso(self.rows[-1].at) if self.rows else None,
            "counts": self.counts(),
        }

    def report(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_name": self.client_name,
            "rules": [
                {
                    "id": v.rule,
                    "title": RULES[v.rule].title,
                    "verdict": v.verdict,
                    "detail": v.detail,
                    "spec": RULES[v.rule].spec,
                    "correct": RULES[v.rule].correct,
                    "events": v.events,
                }
                for v in self.verdicts
            ],
        }

    def events(self, after_id: int | None = None) -> list[dict[str, Any]]:
        rules = rule_of_events(self.verdicts)
        return [
            event_dict(row, rules.get(int(row.id or 0)))
            for row in self.rows
            if after_id is None or int(row.id or 0) > after_id
        ]


def event_dict(row: LabEvent, rule: str | None) -> dict[str, Any]:
    detail = dict(row.detail or {})
    if row.attribution == "inferred":
        detail["attribution"] = (
            f"inferred: the next client seen at the AS within {INFERENCE_WINDOW:.0f} s"
        )
    return {
        "id": int(row.id or 0),
        "at": iso(row.at),
        "server": row.server,
        "kind": row.kind,
        "summary": row.summary,
        "detail": detail,
        "rule": rule,
        "spec": RULES[rule].spec if rule else None,
    }


@dataclass(frozen=True)
class Graded:
    """What a grading pass leaves for reuse: the client's summary row and its verdicts (not its
    events: a room's worth of those would sit in memory twice, in the journal and here)."""

    summary: dict[str, Any]
    verdicts: list[Verdict]


class GradedClients:
    """Graded clients, reused while nothing that decides their verdicts changed.

    Grading reads all of a client's events, and the instructor's ``/lab`` page asks for every
    client every 1.5 s: regrading a quiet room on every poll would cost more than the room's
    traffic. A client is graded again when its events change (their count or largest id), when
    any client registers (``registers-once`` compares twins), or ``REGRADE_SECONDS`` after the
    last grading (one rule depends on the clock: an unredeemed code expiring). At most
    ``MAX_CLIENTS`` results per database are kept (least recently used dropped). A client's own
    page and report grade afresh: they need its events anyway."""

    REGRADE_SECONDS = 5.0
    MAX_CLIENTS = 2000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_engine: weakref.WeakKeyDictionary[Engine, OrderedDict] = weakref.WeakKeyDictionary()

    def get(
        self, engine: Engine, client_id: str, stamp: tuple[int, int], registrations: int
    ) -> Graded:
        """``stamp``: the client's (journal.client_stamp); ``registrations``: the journal's
        (journal.registrations_stamp), read once for a whole list."""
        key = (stamp, registrations, int(time.time() // self.REGRADE_SECONDS))
        with self.lock:
            results = self.by_engine.setdefault(engine, OrderedDict())
            cached = results.get(client_id)
            if cached is not None and cached[0] == key:
                results.move_to_end(client_id)
                return cached[1]
        state = ClientState(engine, client_id)  # outside the lock: grading takes a while
        graded = Graded(state.summary(), state.verdicts)
        with self.lock:
            results[client_id] = (key, graded)
            results.move_to_end(client_id)
            while len(results) > self.MAX_CLIENTS:
                results.popitem(last=False)
        return graded


GRADED = GradedClients()


def state_of(engine: Engine, client_id: str) -> ClientState | None:
    if not client_known(engine, client_id):
        return None
    return ClientState(engine, client_id)


def graded(engine: Engine, client_id: str) -> Graded | None:
    """The client's verdicts, reused while unchanged (the grader's log lines)."""
    stamp = client_stamp(engine, client_id)
    if not stamp[0]:
        return None
    return GRADED.get(engine, client_id, stamp, registrations_stamp(engine))


def list_clients(engine: Engine) -> list[dict]:
    """Every client the journal names, ordered by first seen."""
    registrations = registrations_stamp(engine)
    return [
        GRADED.get(engine, client_id, stamp, registrations).summary
        for client_id, stamp in client_ids_seen(engine)
    ]


def client_summary(engine: Engine, client_id: str) -> dict | None:
    state = state_of(engine, client_id)
    return state.summary() if state else None


def client_report(engine: Engine, client_id: str) -> dict | None:
    state = state_of(engine, client_id)
    return state.report() if state else None


def client_events(engine: Engine, client_id: str, after_id: int | None = None) -> list[dict]:
    """The client's events in time order (only those with id > ``after_id`` when given: ids
    grow with insertion, so a poller passes the largest id it has)."""
    state = state_of(engine, client_id)
    if state is None:
        raise UnknownClient(f"the lab has seen no client with client_id {client_id[:200]!r}")
    return state.events(after_id)


def report_markdown(engine: Engine, client_id: str) -> str | None:
    state = state_of(engine, client_id)
    if state is None:
        return None
    return render_report(state.summary(), state.report(), state.events())


# --- probes -----------------------------------------------------------------------------------


def probe_dict(row: LabProbe) -> dict[str, Any]:
    return {
        "id": row.id,
        "probe": row.probe,
        "client_id": row.client_id,
        "once": row.once,
        "fired_at": iso(row.fired_at),
        "delivered": row.delivered,
        "consumed": row.consumed_at is not None,
    }


def active_probes(engine: Engine) -> list[dict]:
    return [probe_dict(p) for p in stored_active_probes(engine)]


def fire_probe(engine: Engine, probe: str, client_id: str | None, once: bool) -> dict:
    """Fire a probe for one client (or all, ``client_id`` None). Server-wide probes (the RS
    challenge mode) ignore ``client_id`` and last until cleared; ``revoke-grant`` acts now."""
    spec = PROBES.get(probe)
    if spec is None:
        raise UnknownProbe(f"unknown probe {probe[:60]!r}; known: {', '.join(PROBES)}")
    if client_id is not None and not client_known(engine, client_id):
        raise UnknownClient(f"the lab has seen no client with client_id {client_id[:200]!r}")
    if not spec.per_client:
        client_id, once = None, False
        clear_kinds(engine, CHALLENGE_PROBES)
    row = store_probe(engine, probe, client_id, once)
    events = [fired_event(row)]
    if probe == "revoke-grant":
        events += revoke_grants_now(engine, row)
        mark_consumed(engine, [row.id], only_once=False)
    write_events(engine, None, events)
    logger.info(
        "lab: probe %s fired (%s) for %s, %s",
        row.id,
        probe,
        client_id or "every client",
        "once" if once else "until cleared",
    )
    return probe_dict(get_probe(engine, row.id) or row)


def fired_event(row: LabProbe) -> NewEvent:
    target = row.client_id or "every client"
    return NewEvent(
        server="as",
        kind="probe-fired",
        summary=f"probe {row.probe} fired for {target} ({'once' if row.once else 'until cleared'})",
        detail={"probe_id": row.id, "probe": row.probe, "once": row.once, "for": row.client_id},
        client_id=row.client_id,
        attribution="request" if row.client_id else None,
    )


def revoke_grants_now(engine: Engine, row: LabProbe) -> list[NewEvent]:
    """The revoke-grant probe: every live grant of the client (or of all clients) is revoked
    with its tokens (RFC 7009 §2.1 semantics), one event per grant."""
    query = select(Grant).where(Grant.revoked_at.is_(None))
    if row.client_id is not None:
        query = query.where(Grant.client_id == row.client_id)
    events = []
    with session(engine) as db:
        grants = list(db.exec(query).scalars())
        store = Store(db)  # revoking needs no keys
        for grant in grants:
            store.revoke_grant(grant.id, f"lab probe {row.id} (revoke-grant)")
        store.commit()
    for grant in grants:
        events.append(
            NewEvent(
                server="as",
                kind="grant-revoked",
                summary=f"grant revoked by probe {row.id}: {' '.join(grant.scopes)}",
                detail={"probe_id": row.id, "scope": list(grant.scopes)},
                client_id=grant.client_id,
                attribution="request",
            )
        )
    return events


def clear_probe(engine: Engine, probe_id: str) -> bool:
    """Clear an active probe; False when no active probe has this id."""
    return clear_stored_probe(engine, probe_id)
