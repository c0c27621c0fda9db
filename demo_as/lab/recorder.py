"""Handing one AS event from a request to the journal writer (never failing the request) and
logging newly failed rules: one readable AS log line per failure, fingerprints only."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from demo_as.lab.journal import NewEvent
from demo_as.lab.probes import take_probe
from demo_as.lab.runtime import LabRuntime, logger

GRADED_KINDS = (
    "authorization-request",
    "authorization-response",
    "code-redemption",
    "refresh",
    "reuse-detected",
)
MAX_LOGGED = 10000


def lab_of(request: Request) -> LabRuntime | None:
    return getattr(request.app.state, "lab", None)


def record(request: Request, event: NewEvent) -> None:
    """Queue one AS event for the journal writer (no database work on the request path)."""
    lab = lab_of(request)
    if lab is None:
        return
    event.graded = bool(event.client_id) and event.kind in GRADED_KINDS
    lab.writer.submit(event)


def log_new_failures(lab: LabRuntime, client_ids: set[str]) -> None:
    """One readable AS log line per newly failed rule (no secrets: fingerprints only). Runs on
    the lab's grading thread (runtime.Grader), never on a request."""
    from demo_as.lab.views import graded  # views imports the AS store, which imports us

    for client_id in client_ids:
        result = graded(lab.engine, client_id)
        for verdict in result.verdicts if result else []:
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
                "lab: client %s fails rule %s: %s (events %s)",
                client_id,
                verdict.rule,
                verdict.detail,
                ", ".join(f"#{i}" for i in verdict.events),
            )


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
