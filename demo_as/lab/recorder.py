"""Handing one AS event from a request to the journal writer (never failing the request) and
logging newly failed rules: one readable AS log line per failure, fingerprints only."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request

from demo_as.lab.grading import Context
from demo_as.lab.journal import NewEvent
from demo_as.lab.probes import take_probe
from demo_as.lab.report import CAN_FAIL, grade, may_fail_a_rule
from demo_as.lab.runtime import SETTLE_SECONDS, LabRuntime, logger
from demo_as.lab.steps import Step, Verdict

MAX_LOGGED = 10000
GRADE_CHUNK = 200  # clients read in one query by a grading pass
LOGGED_EVENT_IDS = 5  # event ids a log line names (events_named)


def lab_of(request: Request) -> LabRuntime | None:
    return getattr(request.app.state, "lab", None)


def record(request: Request, event: NewEvent) -> None:
    """Queue one AS event for the journal writer (no database work on the request path)."""
    lab = lab_of(request)
    if lab is None:
        return
    event.graded = bool(event.client_id) and may_fail_a_rule("as", event.kind, event.detail)
    lab.writer.submit(event)


def log_new_failures(lab: LabRuntime, client_ids: set[str]) -> dict[str, float]:
    """One readable AS log line per newly failed rule (no secrets: fingerprints only). Runs on
    the lab's grading thread (runtime.Grader), never on a request.

    Only the rules that can fail are graded (report.CAN_FAIL), from one query for up to
    ``GRADE_CHUNK`` clients: a pass costs a new client's first token well under a millisecond
    (it cost 6-7 ms through the pages' full grading: five queries per client, its Client row
    and its twins). The pages and the API grade in full when they are read.

    A log line cannot be taken back, so each client is graded as the journal stood
    ``SETTLE_SECONDS`` ago (``settled_steps``); returns the clients with newer steps, each with
    the time from which those can be graded too."""
    pending = sorted(client_ids)
    later: dict[str, float] = {}
    for start in range(0, len(pending), GRADE_CHUNK):
        chunk = pending[start : start + GRADE_CHUNK]
        settled = time.time() - SETTLE_SECONDS
        steps_by_client = lab.steps_cache.steps_of(lab.engine, chunk, settled)
        context = Context(now=settled)
        for client_id in chunk:
            steps, newest = settled_steps(steps_by_client[client_id], settled)
            if newest is not None:  # (an RS clock ahead of ours: look again in a while)
                later[client_id] = min(newest, settled + SETTLE_SECONDS) + SETTLE_SECONDS
            note_failures(lab, client_id, grade(steps, context, CAN_FAIL))
    return later


def settled_steps(steps: list[Step], settled: float) -> tuple[list[Step], float | None]:
    """The steps up to ``settled`` (wall time), and the time of the newest later one (None if
    none is later).

    Why: the RS reports its steps in batches (every half second, then through the journal
    writer's linger), so a step the RS saw can reach the journal after the AS's own reaction
    to it. Graded at once, a client that got a 401 in a new session and authorized again
    looked as if it answered an earlier 403 without the scope that 403 named (a
    ``step-up-union`` failure) until the 401 arrived. A step older than ``SETTLE_SECONDS`` has
    all its predecessors in the journal."""
    ready = [step for step in steps if step.at <= settled]
    later = [step.at for step in steps if step.at > settled]
    return ready, max(later, default=None)


def note_failures(lab: LabRuntime, client_id: str, verdicts: list[Verdict]) -> None:
    for verdict in verdicts:
        key = (client_id, verdict.rule)
        if verdict.verdict != "fail":
            lab.logged_failures.discard(key)  # failing again later is news again
            continue
        if key in lab.logged_failures:
            continue  # more evidence of a failure already logged: no new line
        if len(lab.logged_failures) > MAX_LOGGED:
            lab.logged_failures.clear()
        lab.logged_failures.add(key)
        logger.warning(
            "lab: client %s fails rule %s: %s (%s)",
            client_id,
            verdict.rule,
            verdict.detail,
            events_named(verdict.events),
        )


def events_named(event_ids: list[int]) -> str:
    """The evidence of a log line: the first ``LOGGED_EVENT_IDS`` event ids, then how many more
    (a client refreshing all day can fail a rule with hundreds; the lab's pages list them all)."""
    named = ", ".join(f"#{i}" for i in event_ids[:LOGGED_EVENT_IDS])
    more = len(event_ids) - LOGGED_EVENT_IDS
    return f"events {named}" + (f" and {more} more" if more > 0 else "")


def probe_for(lab: LabRuntime, kinds: tuple[str, ...], client_id: str) -> Any:
    """The probe to apply now, or None (also when the lab's tables cannot be read: a probe
    never breaks the response it would change). Only a request whose client an active probe
    targets opens a database connection here (runtime.ProbeSnapshot says why)."""
    try:
        if not lab.probes.may_apply(kinds, client_id):
            return None
        return take_probe(lab.engine, kinds, client_id)
    except Exception:
        logger.exception("lab: could not read the active probes")
        return None
