"""registers-once's evidence read from the journal (views.twins_of): the registration of another
client_id with the same metadata from the same address, within TWIN_WINDOW, oldest first."""

from __future__ import annotations

import time

from lab.conftest import RESOURCE

from demo_as.lab.grading import TWIN_WINDOW
from demo_as.lab.journal import NewEvent, write_events

METADATA = {
    "client_name": "copy",
    "redirect_uris": ["http://127.0.0.1:3999/callback"],
    "software_id": None,
    "peer": "127.0.0.1",
}


def registration(client_id: str, at: float, **changes: object) -> NewEvent:
    return NewEvent(
        "as", "registration", "registered", {**METADATA, **changes}, client_id, "request", at=at
    )


def registers_once(lab, client_id: str) -> dict:
    report = lab.http.get(f"/lab/api/clients/{client_id}/report").json()
    return next(rule for rule in report["rules"] if rule["id"] == "registers-once")


def test_the_oldest_twin_inside_the_window_is_named(lab):
    now = time.time()
    write_events(
        lab.app.state.engine,
        None,
        [
            registration("too-old", now - 2 * TWIN_WINDOW),
            registration("other-name", now - 120, client_name="another program"),
            registration("twin-first", now - 100),
            registration("twin-second", now - 50),
            registration("me", now),
        ],
    )
    rule = registers_once(lab, "me")
    assert rule["verdict"] == "warn"
    assert "as twin-first" in rule["detail"]
    assert registers_once(lab, "too-old")["verdict"] == "unobserved"  # no twin in its window
    assert registers_once(lab, "other-name")["verdict"] == "unobserved"


def test_a_client_with_different_metadata_has_no_twin(lab):
    now = time.time()
    write_events(
        lab.app.state.engine,
        None,
        [registration("a", now - 10), registration("b", now, redirect_uris=[RESOURCE])],
    )
    assert registers_once(lab, "b")["verdict"] == "unobserved"
