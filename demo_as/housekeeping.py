"""Purging what nobody can use any more, so the database stays bounded (issue #12.6).

Runs at most every ``PURGE_INTERVAL`` seconds, on /register and on /authorize (auto-approve
codes are made there without any registration), in its own transaction; and inside the
registration transaction of a registration that finds the registry full, so the cap counts live
clients only. Not on every registration: the dead-grant rule reads every grant, so a purge per
registration made registering cost more the longer a workshop ran (bench/profiling.md §4). What
can pile up between two purges is bounded by the registration rate. Each rule is one DELETE:

* DCR clients that never completed an authorization (no consent was ever given) are deleted
  ``unused_client_ttl`` seconds after registering, with their pending requests and codes;
* authorization codes are deleted ``CODE_REPLAY_MEMORY`` seconds after they expired: until
  then a replay is still recognised and revokes what the code issued (OAuth 2.1 §4.1.3);
* dead grants are deleted with their refresh- and access-token records: revoked ones, and ones
  whose every refresh token is rotated, revoked or expired and every access token expired. No
  token of theirs can work again, and an unknown ``jti`` already counts as revoked.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection, Select, and_, delete, exists, not_, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from demo_as.db import now, session
from demo_as.models import (
    AccessTokenRecord,
    Client,
    Consent,
    Grant,
    RefreshToken,
)
from demo_as.queries import ACCESS_TOKENS, CLIENTS, CODES, GRANTS, PENDING, REFRESH_TOKENS

CODE_REPLAY_MEMORY = 600
PURGE_INTERVAL = 10.0
DCR_CLIENT_PREFIX = "client-"  # registration.new_client_id; other clients are never purged


def purge_unused_clients(db: Connection | Session, unused_client_ttl: int, at: int) -> None:
    """DCR clients older than ``unused_client_ttl`` with no consent and no grant."""
    unused = select(Client.client_id).where(
        Client.client_id.startswith(DCR_CLIENT_PREFIX),
        Client.client_id_issued_at <= at - unused_client_ttl,
        not_(exists().where(Consent.client_id == Client.client_id)),
        not_(exists().where(Grant.client_id == Client.client_id)),
    )
    ids = list(db.execute(unused).scalars())
    if not ids:
        return
    for table in (PENDING, CODES, CLIENTS):
        db.execute(delete(table).where(table.c.client_id.in_(ids)))


def purge_expired_codes(db: Connection | Session, at: int) -> None:
    db.execute(delete(CODES).where(CODES.c.expires_at <= at - CODE_REPLAY_MEMORY))


def dead_grant_ids(at: int) -> Select:
    """Grants no token of which can ever work again."""
    live_refresh = exists().where(
        RefreshToken.grant_id == Grant.id,
        RefreshToken.status == "active",
        RefreshToken.expires_at > at,
    )
    live_access = exists().where(
        AccessTokenRecord.grant_id == Grant.id, AccessTokenRecord.expires_at > at
    )
    return select(Grant.id).where(
        or_(Grant.revoked_at.is_not(None), and_(not_(live_refresh), not_(live_access)))
    )


def purge_dead_grants(db: Connection | Session, at: int) -> None:
    ids = list(db.execute(dead_grant_ids(at)).scalars())
    if not ids:
        return
    db.execute(delete(REFRESH_TOKENS).where(REFRESH_TOKENS.c.grant_id.in_(ids)))
    db.execute(delete(ACCESS_TOKENS).where(ACCESS_TOKENS.c.grant_id.in_(ids)))
    db.execute(delete(GRANTS).where(GRANTS.c.id.in_(ids)))


def purge_stale(db: Connection | Session, unused_client_ttl: int) -> None:
    """Every purge rule, in the caller's transaction."""
    at = now()
    purge_expired_codes(db, at)
    purge_dead_grants(db, at)
    purge_unused_clients(db, unused_client_ttl, at)


class PeriodicPurge:
    """``purge_stale`` at most every ``interval`` seconds, in its own transaction."""

    def __init__(self, engine: Engine, unused_client_ttl: int, interval: float) -> None:
        self.engine = engine
        self.unused_client_ttl = unused_client_ttl
        self.interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Whether the next ``maybe_run`` would purge."""
        return time.monotonic() >= self._next

    def maybe_run(self) -> None:
        with self._lock:
            if time.monotonic() < self._next:
                return
            self._next = time.monotonic() + self.interval
        with session(self.engine) as db:
            purge_stale(db, self.unused_client_ttl)
            db.commit()
