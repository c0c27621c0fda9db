"""The lab JSON API's answers to bad input, and its reading endpoints."""

from __future__ import annotations

import time
from urllib.parse import quote

from harness.oauth_flow import issue_tokens
from lab.conftest import RESOURCE

from demo_as.lab import views

JSON = {"Content-Type": "application/json"}


def test_unknown_client_is_404(lab):
    for path in ("report", "events"):
        response = lab.http.get(f"/lab/api/clients/client-nobody/{path}")
        assert response.status_code == 404
        assert response.json()["error"] == "unknown_client"
    assert views.report_markdown(lab.app.state.engine, "client-nobody") is None


def test_probe_bad_input(lab):
    cases = [
        ({"probe": "make-coffee"}, 400, "unknown_probe"),
        ({"probe": "iss-wrong", "client_id": "client-nobody"}, 404, "unknown_client"),
        ({"probe": "iss-wrong", "once": "sometimes"}, 400, "invalid_request"),
        ({"probe": "iss-wrong", "extra": 1}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
    ]
    for body, status, error in cases:
        response = lab.http.post("/lab/api/probes", json=body)
        assert response.status_code == status, body
        assert response.json()["error"] == error
    malformed = lab.http.post("/lab/api/probes", content=b"{probe:", headers=JSON)
    assert malformed.status_code == 400
    form = lab.http.post("/lab/api/probes", data={"probe": "iss-wrong"})
    assert form.status_code == 415
    assert lab.http.get("/lab/api/probes").json() == []


def test_foreign_origin_cannot_change_the_lab(lab):
    body = {"probe": "revoke-grant", "client_id": None}
    foreign = lab.http.post(
        "/lab/api/probes", json=body, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert lab.http.get("/lab/api/probes").json() == []
    own = lab.http.post("/lab/api/probes", json={"probe": "iss-omit"}, headers={"Origin": lab.url})
    assert own.status_code == 201
    probe_id = own.json()["id"]
    delete = lab.http.request(
        "DELETE", f"/lab/api/probes/{probe_id}", headers={**JSON, "Origin": "null"}
    )
    assert delete.status_code == 403
    assert lab.http.request("DELETE", f"/lab/api/probes/{probe_id}").status_code == 415
    assert (
        lab.http.request("DELETE", f"/lab/api/probes/{probe_id}", headers=JSON).status_code == 200
    )
    again = lab.http.request("DELETE", f"/lab/api/probes/{probe_id}", headers=JSON)
    assert again.status_code == 400 and again.json()["error"] == "unknown_probe"


def test_events_after_an_id_for_live_polling(lab):
    client, _request, _tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    cid = client["client_id"]
    events = lab.http.get(f"/lab/api/clients/{cid}/events").json()
    last = max(e["id"] for e in events)
    assert lab.http.get(f"/lab/api/clients/{cid}/events", params={"after": last}).json() == []
    lab.http.get("/authorize", params={"client_id": cid, "response_type": "code"})
    newer = lab.http.get(f"/lab/api/clients/{cid}/events", params={"after": last}).json()
    assert [e["kind"] for e in newer] == ["authorization-request"]  # its error waits for login
    assert lab.http.get(f"/lab/api/clients/{cid}/events?after=-1").status_code == 400
    assert lab.http.get(f"/lab/api/clients/{cid}/events?after=x").status_code == 400


def test_client_ids_with_slashes_and_colons(lab):
    cimd = "https://client.example/mcp/client.json"
    event = {"at": time.time(), "kind": "mcp-request", "client_id": cimd, "summary": "call"}
    event["detail"] = {"method": "tools/list", "token_in": "header", "status": 200}
    assert lab.report_rs([event]).status_code == 200
    report = lab.http.get(f"/lab/api/clients/{cimd}/report")
    assert report.status_code == 200
    encoded = lab.http.get(f"/lab/api/clients/{quote(cimd, safe='')}/report")
    assert encoded.json() == report.json()
    assert report.json()["client_id"] == cimd
    summary = lab.http.get("/lab/api/clients").json()[0]
    assert summary["registration"] == "cimd"
    token_rule = next(r for r in report.json()["rules"] if r["id"] == "token-in-header")
    assert token_rule["verdict"] == "pass"


def test_markdown_report_names_each_rule_and_the_evidence_of_failures(lab):
    client, _request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    cid = client["client_id"]
    form = {"grant_type": "refresh_token", "client_id": cid, "resource": RESOURCE}
    form["refresh_token"] = tokens["refresh_token"]
    lab.http.post("/token", data=form)
    lab.http.post("/token", data=form)  # the rotated token again
    lab.app.state.lab.writer.flush()  # the journal is written off the request path
    text = views.report_markdown(lab.app.state.engine, cid)
    assert text.startswith("# MCP authorization report card: battery client\n")
    assert "| ❌ fail | `refresh-rotation-followed` |" in text
    assert "## fail: `refresh-rotation-followed`" in text
    assert "What a correct client does (OAuth 2.1 draft-13 §4.3.1" in text
    assert "`reuse-detected`" in text
    assert tokens["refresh_token"] not in text
