"""The journal on SQLite and PostgreSQL: bounded by count and by age, and kept across a restart
(it lives in the AS database)."""

from __future__ import annotations

import time

from harness.oauth_flow import issue_tokens, refresh
from lab.conftest import RESOURCE, running_lab
from sqlalchemy import func, select

from demo_as.db import session
from demo_as.lab.models import LabEvent


def rs_events(count: int, at: float | None = None, client_id: str = "client-x") -> list[dict]:
    return [
        {
            "at": (at or time.time()) + i * 0.001,
            "kind": "mcp-request",
            "client_id": client_id,
            "summary": f"call {i}",
            "detail": {"token_in": "header", "status": 200, "n": i},
        }
        for i in range(count)
    ]


def stored(lab) -> list[LabEvent]:
    lab.app.state.lab.writer.flush()  # the journal is written off the request path
    with session(lab.app.state.engine) as db:
        return list(db.exec(select(LabEvent).order_by(LabEvent.id)).scalars())


def test_count_bound_keeps_the_newest(start_lab, database_url):
    lab = start_lab(database_url=database_url, lab_max_events=100)
    for _ in range(3):
        assert lab.report_rs(rs_events(60)).json()["accepted"] == 60
    rows = stored(lab)
    assert len(rows) == 100
    assert rows[-1].detail["n"] == 59  # the last batch's last event is kept
    assert max(r.id for r in rows) - min(r.id for r in rows) == 99


def test_age_bound_drops_old_events(start_lab, database_url):
    lab = start_lab(database_url=database_url, lab_max_age_seconds=60)
    lab.report_rs(rs_events(5, at=time.time() - 120, client_id="client-old"))
    lab.report_rs(rs_events(3, client_id="client-new"))
    assert {r.client_id for r in stored(lab)} == {"client-new"}
    assert [c["client_id"] for c in lab.http.get("/lab/api/clients").json()] == ["client-new"]


def test_journal_survives_a_restart(tmp_path, database_url):
    with running_lab(tmp_path, database_url=database_url) as first:
        client, _request, tokens = issue_tokens(first.http, first.url, RESOURCE)
        cid = client["client_id"]
        refresh(first.http, first.url, cid, tokens["refresh_token"], resource=RESOURCE)
        refresh(first.http, first.url, cid, tokens["refresh_token"], resource=RESOURCE)  # reuse
        report = first.http.get(f"/lab/api/clients/{cid}/report").json()
        events = first.http.get(f"/lab/api/clients/{cid}/events").json()
    rotation = next(r for r in report["rules"] if r["id"] == "refresh-rotation-followed")
    assert rotation["verdict"] == "fail"

    with running_lab(tmp_path, database_url=database_url) as second:
        assert second.http.get(f"/lab/api/clients/{cid}/events").json() == events
        assert second.http.get(f"/lab/api/clients/{cid}/report").json() == report
        with session(second.app.state.engine) as db:
            count = db.exec(select(func.count()).select_from(LabEvent)).scalar_one()
        assert count == len(events)
