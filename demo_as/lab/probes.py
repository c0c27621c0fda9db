"""Probe storage and the AS side of applying probes (catalog.PROBES says what each one does).

A probe is for one client or for all (``client_id`` None), once (consumed by the first response
it changes) or until cleared. Consuming is one conditional UPDATE, so two concurrent responses
cannot both take a ``once`` probe. The table is bounded: at most ``MAX_ACTIVE`` active probes
(firing another clears the oldest) and finished probes are deleted after ``FINISHED_TTL``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Engine

from demo_as.db import session
from demo_as.lab.models import LabProbe

MAX_ACTIVE = 50
FINISHED_TTL = 86400.0
FIRED = [0]  # probes stored by this process so far (runtime's probe check rereads on a change)


def active_filter():
    return (LabProbe.consumed_at.is_(None), LabProbe.cleared_at.is_(None))


def store_probe(engine: Engine, probe: str, client_id: str | None, once: bool) -> LabProbe:
    """Persist a fired probe (after views validated it)."""
    row = LabProbe(
        id="probe-" + secrets.token_hex(6),
        probe=probe,
        client_id=client_id,
        once=once,
        fired_at=time.time(),
    )
    with session(engine) as db:
        db.exec(
            delete(LabProbe).where(
                or_(LabProbe.consumed_at.is_not(None), LabProbe.cleared_at.is_not(None)),
                LabProbe.fired_at < time.time() - FINISHED_TTL,
            )
        )
        old = db.exec(
            select(LabProbe.id)
            .where(*active_filter())
            .order_by(LabProbe.fired_at.desc())
            .offset(MAX_ACTIVE - 1)
        ).all()
        if old:
            db.exec(
                update(LabProbe)
                .where(LabProbe.id.in_([r[0] for r in old]))
                .values(cleared_at=time.time())
            )
        db.add(row)
        db.commit()
    FIRED[0] += 1
    return row


def active_probes(engine: Engine) -> list[LabProbe]:
    with session(engine) as db:
        return list(
            db.exec(select(LabProbe).where(*active_filter()).order_by(LabProbe.fired_at)).scalars()
        )


def get_probe(engine: Engine, probe_id: str) -> LabProbe | None:
    with session(engine) as db:
        return db.get(LabProbe, probe_id)


def clear_probe(engine: Engine, probe_id: str) -> bool:
    """Clear an active probe; False when there is none with this id."""
    with session(engine) as db:
        result = db.exec(
            update(LabProbe)
            .where(LabProbe.id == probe_id, *active_filter())
            .values(cleared_at=time.time())
        )
        db.commit()
    return result.rowcount == 1


def clear_kinds(engine: Engine, kinds: Sequence[str]) -> None:
    """Clear every active probe of these kinds (a new RS challenge mode replaces the old)."""
    with session(engine) as db:
        db.exec(
            update(LabProbe)
            .where(LabProbe.probe.in_(list(kinds)), *active_filter())
            .values(cleared_at=time.time())
        )
        db.commit()


def mark_consumed(engine: Engine, probe_ids: Sequence[str], only_once: bool = True) -> None:
    """Consume probes: the ``once`` probes the RS reports it applied, or (``only_once`` False)
    a probe that acted when fired (revoke-grant)."""
    if not probe_ids:
        return
    conditions = [LabProbe.id.in_(list(probe_ids)), *active_filter()]
    if only_once:
        conditions.append(LabProbe.once.is_(True))
    with session(engine) as db:
        db.exec(update(LabProbe).where(*conditions).values(consumed_at=time.time()))
        db.commit()


def take_probe(engine: Engine, kinds: Sequence[str], client_id: str) -> LabProbe | None:
    """The newest active probe of ``kinds`` that applies to ``client_id``; a ``once`` probe is
    consumed here (if a concurrent response took it first, the next one is tried)."""
    for _attempt in range(3):
        with session(engine) as db:
            row = (
                db.exec(
                    select(LabProbe)
                    .where(
                        LabProbe.probe.in_(list(kinds)),
                        or_(LabProbe.client_id.is_(None), LabProbe.client_id == client_id),
                        *active_filter(),
                    )
                    .order_by(LabProbe.fired_at.desc())
                    .limit(1)
                )
                .scalars()
                .first()
            )
            if row is None:
                return None
            if not row.once:
                return row
            result = db.exec(
                update(LabProbe)
                .where(LabProbe.id == row.id, *active_filter())
                .values(consumed_at=time.time())
            )
            db.commit()
            if result.rowcount == 1:
                row.consumed_at = time.time()
                return row
    return None


def mark_delivered(engine: Engine, probe_ids: Sequence[str]) -> None:
    if not probe_ids:
        return
    with session(engine) as db:
        db.exec(
            update(LabProbe)
            .where(LabProbe.id.in_(list(probe_ids)), LabProbe.delivered.is_(False))
            .values(delivered=True)
        )
        db.commit()
