"""``POST /lab/api/rs-events``: the RS's batched journal report (COORDINATION.md contract).

The answer carries the RS-side probe state, so one connection direction and one secret serve
both. Authentication: ``Authorization: Bearer <lab secret>`` (RFC 6750 §2.1), compared in constant
time; a wrong secret gets 401 in the RFC 6750 §3.1 format, a malformed body 400.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from demo_as.lab.catalog import CHALLENGE_PROBES, PROBES
from demo_as.lab.errors import InvalidLabSecret, malformed
from demo_as.lab.journal import NewEvent
from demo_as.lab.models import CLIENT_ID_LENGTH
from demo_as.lab.probes import active_probes, mark_consumed, mark_delivered
from demo_as.lab.report import may_fail_a_rule
from demo_as.lab.runtime import LabRuntime, logger
from demo_as.lab.secret import bearer_secret_ok

MAX_EVENTS_PER_BATCH = 500
MAX_DETAIL_CHARS = 4000
RS_PROBES = tuple(probe for probe, spec in PROBES.items() if spec.server == "rs")
# RS events that name the resource they came from (resource-matches-prm compares against it).
KINDS_WITH_RESOURCE = ("prm-fetch", "challenge")


class RSEventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: float = Field(gt=0)
    kind: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    client_id: str | None = Field(default=None, max_length=CLIENT_ID_LENGTH)
    token_fingerprint: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{16}$")
    summary: str = Field(default="", max_length=500)
    detail: dict[str, Any] = Field(default_factory=dict)

    @field_validator("detail")
    @classmethod
    def _detail_is_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MAX_DETAIL_CHARS:
            raise ValueError(f"detail must serialize to at most {MAX_DETAIL_CHARS} characters")
        return value


class RSBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resource: str = Field(max_length=2000)
    dropped: int = Field(default=0, ge=0)
    consumed_probes: list[str] = Field(default_factory=list, max_length=100)
    events: list[RSEventIn] = Field(default_factory=list, max_length=MAX_EVENTS_PER_BATCH)


def refuse_unless_lab_secret(lab: LabRuntime, authorization: str | None) -> None:
    if not bearer_secret_ok(authorization, lab.secret):
        raise InvalidLabSecret(
            "rs-events needs Authorization: Bearer <lab secret> (DEMO_AS_LAB_SECRET, or the "
            "lab-secret file in the AS's data directory)"
        )


def parse_batch(raw: bytes) -> RSBatch:
    """The body as an RSBatch, or a 400 ``invalid_request`` naming the problem."""
    try:
        return RSBatch.model_validate_json(raw)
    except ValidationError as error:
        raise malformed(error) from None


def stored_events(batch: RSBatch) -> list[NewEvent]:
    events = []
    for event in batch.events:
        detail = dict(event.detail)
        if event.kind in KINDS_WITH_RESOURCE:
            detail.setdefault("resource", batch.resource)
        events.append(
            NewEvent(
                server="rs",
                kind=event.kind,
                summary=event.summary,
                detail=detail,
                client_id=event.client_id,
                attribution="token" if event.client_id else None,
                token_fingerprint=event.token_fingerprint,
                at=event.at,
            )
        )
    return events


def rs_probe_state(lab: LabRuntime) -> dict[str, Any]:
    """What the RS must apply now; marks the carried probes delivered."""
    probes = active_probes(lab.engine)
    invalid = [p for p in probes if p.probe == "rs-invalid-token"]
    challenge = [p for p in probes if p.probe in CHALLENGE_PROBES]
    mode = challenge[-1].probe.removeprefix("rs-challenge-") if challenge else None
    mark_delivered(lab.engine, [p.id for p in invalid + challenge[-1:]])
    return {
        "invalid_token": [{"id": p.id, "client_id": p.client_id, "once": p.once} for p in invalid],
        "challenge_scope": mode,
    }


def ingest(lab: LabRuntime, batch: RSBatch) -> int:
    """Hand the batch's events to the journal writer (written off the request, in its next
    transaction; the grader looks at a client again only for a step that may fail a rule:
    report.may_fail_a_rule); returns how many were accepted."""
    accepted = 0
    for event in stored_events(batch):
        event.graded = bool(event.client_id) and may_fail_a_rule("rs", event.kind, event.detail)
        accepted += lab.writer.submit(event)
    previous = lab.rs_dropped.get(batch.resource, 0)
    if batch.dropped > previous:
        logger.warning(
            "lab: the RS for %s dropped %d journal events so far (its queue was full or the AS "
            "unreachable); the timeline has gaps",
            batch.resource,
            batch.dropped,
        )
    lab.rs_dropped[batch.resource] = batch.dropped
    return accepted


def probe_answer(lab: LabRuntime, batch: RSBatch) -> dict[str, Any]:
    """Database work of a report (run in a worker thread): the probes the RS consumed, and the
    RS-side probe state it must apply now. While the lab's probe snapshot (runtime.ProbeSnapshot,
    reread at least once a second and at once when this process fires one) holds no RS probe,
    the answer needs no query: an RS reports two or three times a second, busy or not, and
    those queries were most of the lab's cost to an AS serving a lightly loaded RS."""
    mark_consumed(lab.engine, batch.consumed_probes)
    if not batch.consumed_probes and not lab.probes.any_active(RS_PROBES):
        return {"invalid_token": [], "challenge_scope": None}
    return rs_probe_state(lab)
