"""The lab's tables, on the AS's own metadata so they live in the AS database (SQLite or
PostgreSQL) and survive a restart. Nothing secret is stored: tokens, codes, verifiers and refresh
tokens appear only as ``sha256:`` fingerprints (journal.fingerprint)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from demo_as.models import ASTable

CLIENT_ID_LENGTH = 512


class LabEvent(ASTable, table=True):
    """One protocol step of one client, at the AS or the RS.

    ``client_id`` is None for unattributed steps (a request without a token or client_id);
    ``attribution`` says how a client was named: ``token`` (verified token), ``request`` (the
    request's client_id or authenticated client), ``inferred`` (journal.infer_client) or None.
    """

    __tablename__ = "lab_event"
    # The journal's lookups by kind in a time window (journal.ShownClients, views.twins_of).
    __table_args__ = (Index("ix_lab_event_kind_at", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(index=True)
    server: str = Field(max_length=2)
    kind: str = Field(max_length=40)
    client_id: str | None = Field(default=None, index=True, max_length=CLIENT_ID_LENGTH)
    attribution: str | None = Field(default=None, max_length=16)
    token_fingerprint: str | None = Field(default=None, max_length=40)
    summary: str = Field(max_length=500)
    detail: dict = Field(sa_column=Column(JSON, nullable=False))


class LabProbe(ASTable, table=True):
    """A probe fired from the lab: for one client (``client_id``) or all (None), once or until
    cleared. ``delivered`` is set when an RS heartbeat carried it (RS probes)."""

    __tablename__ = "lab_probe"

    id: str = Field(primary_key=True, max_length=32)
    probe: str = Field(max_length=40)
    client_id: str | None = Field(default=None, max_length=CLIENT_ID_LENGTH)
    once: bool
    fired_at: float
    delivered: bool = False
    consumed_at: float | None = None
    cleared_at: float | None = None
