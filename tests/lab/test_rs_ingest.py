"""POST /lab/api/rs-events: the RS's report, its authentication and its answer."""

from __future__ import annotations

import stat
import time

from lab.conftest import RESOURCE

SECRET_FILE = "lab-secret"  # the default: under the data directory


def rs_event(kind: str, **fields: object) -> dict:
    event = {"at": time.time(), "kind": kind, "client_id": None, "token_fingerprint": None}
    event.update({"summary": f"{kind} event", "detail": {}})
    event.update(fields)
    return event


def test_secret_is_generated_private_and_reused(start_lab, tmp_path):
    first = start_lab()
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert path.read_text().strip() == first.secret
    assert start_lab().secret == first.secret


def test_the_secret_file_can_live_apart_from_the_data_directory(start_lab, tmp_path):
    """Compose gives the RS a volume with this file only, not the AS's database and key."""
    path = tmp_path / "shared" / "secret"
    lab = start_lab(lab_secret_file=path)
    assert path.read_text().strip() == lab.secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not (tmp_path / SECRET_FILE).exists()


def test_an_existing_directory_named_for_the_secret_keeps_its_mode(start_lab, tmp_path):
    """``--lab-secret-file /tmp/lab-secret`` must not make /tmp private: only the file is."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    lab = start_lab(lab_secret_file=shared / "secret")
    assert (shared / "secret").read_text().strip() == lab.secret
    assert stat.S_IMODE((shared / "secret").stat().st_mode) == 0o600
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_configured_secret_wins(start_lab, tmp_path):
    lab = start_lab(lab_secret="configured-secret")
    assert lab.secret == "configured-secret"
    assert not (tmp_path / SECRET_FILE).exists()


def test_wrong_or_missing_secret_is_401_in_rfc6750_format(lab):
    wrong = ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {lab.secret}"})
    for headers in wrong:
        response = lab.http.post(
            "/lab/api/rs-events", json={"resource": RESOURCE, "events": []}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith("Bearer ")


def test_malformed_batches_are_400(lab):
    auth = {"Authorization": f"Bearer {lab.secret}", "Content-Type": "application/json"}
    for body in (
        b"{not json",
        b'{"events": []}',
        b'{"resource": "r", "events": [{"kind": "mcp-request"}]}',
        b'{"resource": "r", "events": [{"at": 1.0, "kind": "BAD KIND"}]}',
        b'{"resource": "r", "events": [{"at": 1.0, "kind": "x", "token_fingerprint": "eyJ"}]}',
    ):
        response = lab.http.post("/lab/api/rs-events", content=body, headers=auth)
        assert response.status_code == 400, body
        assert response.json()["error"] == "invalid_request"
    form = lab.http.post(
        "/lab/api/rs-events",
        content=b"resource=r",
        headers={"Authorization": f"Bearer {lab.secret}"},
    )
    assert form.status_code == 415


def test_accepts_events_and_answers_with_probe_state(lab):
    response = lab.report_rs([rs_event("prm-fetch"), rs_event("mcp-request")])
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 2,
        "rs_probes": {"invalid_token": [], "challenge_scope": None},
    }
    heartbeat = lab.report_rs([])
    assert heartbeat.json()["accepted"] == 0
