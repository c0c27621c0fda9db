"""Probes through real flows: what each one changes, for whom, for how long, and how the report
card grades the client's reaction."""

from __future__ import annotations

import json
import time

from harness.oauth_flow import (
    AuthorizationRequest,
    authorize,
    issue_tokens,
    query_of,
    redeem,
    refresh,
    register,
)
from joserfc import jwt
from lab.conftest import RESOURCE

from demo_as.authorization_response import WRONG_ISSUER


def fire(lab, probe: str, client_id: str | None = None, once: bool = True) -> dict:
    response = lab.http.post(
        "/lab/api/probes", json={"probe": probe, "client_id": client_id, "once": once}
    )
    assert response.status_code == 201, response.text
    return response.json()


def active(lab) -> list[dict]:
    return lab.http.get("/lab/api/probes").json()


def front_channel(lab, client: dict) -> tuple[AuthorizationRequest, dict[str, str]]:
    request = AuthorizationRequest(
        client_id=client["client_id"], redirect_uri=client["redirect_uris"][0], resource=RESOURCE
    )
    response = authorize(lab.http, lab.url, request)
    return request, query_of(response.headers["location"])


def verdict(lab, client_id: str, rule: str) -> str:
    rules = lab.http.get(f"/lab/api/clients/{client_id}/report").json()["rules"]
    return next(r["verdict"] for r in rules if r["id"] == rule)


def test_iss_wrong_once_for_one_client(lab):
    victim, bystander = register(lab.http, lab.url), register(lab.http, lab.url)
    probe = fire(lab, "iss-wrong", victim["client_id"])
    _, other = front_channel(lab, bystander)
    assert other["iss"] == lab.settings.issuer  # the probe is not for this client
    request, probed = front_channel(lab, victim)
    assert probed["iss"] == WRONG_ISSUER
    assert probe["id"] not in [p["id"] for p in active(lab)]  # consumed
    _, after = front_channel(lab, victim)
    assert after["iss"] == lab.settings.issuer
    # The client redeems the probed code: it did not check iss (RFC 9207 §2.4).
    assert redeem(lab.http, lab.url, request, probed["code"]).status_code == 200
    assert verdict(lab, victim["client_id"], "iss-checked") == "fail"


def test_iss_omit_until_cleared_and_a_client_that_refuses_passes(lab):
    client = register(lab.http, lab.url)
    probe = fire(lab, "iss-omit", None, once=False)
    for _ in range(2):
        _, params = front_channel(lab, client)
        assert "iss" not in params
    assert [p["id"] for p in active(lab)] == [probe["id"]]
    cleared = lab.http.request(
        "DELETE", f"/lab/api/probes/{probe['id']}", headers={"Content-Type": "application/json"}
    )
    assert cleared.status_code == 200
    request, params = front_channel(lab, client)
    assert params["iss"] == lab.settings.issuer
    # It never redeemed the codes without iss and authorized again: iss-checked passes.
    assert redeem(lab.http, lab.url, request, params["code"]).status_code == 200
    assert verdict(lab, client["client_id"], "iss-checked") == "pass"


def test_short_token_probe_makes_the_next_access_token_short(lab):
    client, _request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    fire(lab, "short-token", client["client_id"])
    short = refresh(
        lab.http, lab.url, client["client_id"], tokens["refresh_token"], resource=RESOURCE
    )
    body = short.json()
    assert body["expires_in"] == 10
    claims = jwt.decode(body["access_token"], lab.app.state.signing_key).claims
    assert claims["exp"] - claims["iat"] == 10
    normal = refresh(
        lab.http, lab.url, client["client_id"], body["refresh_token"], resource=RESOURCE
    )
    assert normal.json()["expires_in"] == lab.settings.access_token_ttl
    events = lab.http.get(f"/lab/api/clients/{client['client_id']}/events").json()
    assert [
        e["detail"].get("short_token_probe") is not None for e in events if e["kind"] == "refresh"
    ] == [True, False]


def test_revoke_grant_revokes_now(lab):
    client, _request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    probe = fire(lab, "revoke-grant", client["client_id"])
    assert probe["consumed"] is True
    assert active(lab) == []
    refused = refresh(
        lab.http, lab.url, client["client_id"], tokens["refresh_token"], resource=RESOURCE
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    events = lab.http.get(f"/lab/api/clients/{client['client_id']}/events").json()
    kinds = [e["kind"] for e in events]
    assert kinds[-3:] == ["probe-fired", "grant-revoked", "refresh"]
    assert events[-1]["detail"]["presented_status"] == "revoked"


def test_rs_probes_reach_the_rs_in_the_ingest_answer(lab):
    client = register(lab.http, lab.url)
    invalid = fire(lab, "rs-invalid-token", client["client_id"])
    mode = fire(lab, "rs-challenge-cumulative", client["client_id"], once=True)
    assert mode["client_id"] is None and mode["once"] is False  # server-wide, until cleared
    answer = lab.report_rs([]).json()["rs_probes"]
    assert answer == {
        "invalid_token": [{"id": invalid["id"], "client_id": client["client_id"], "once": True}],
        "challenge_scope": "cumulative",
    }
    assert all(p["delivered"] for p in active(lab))
    fire(lab, "rs-challenge-operation")
    assert lab.report_rs([]).json()["rs_probes"]["challenge_scope"] == "operation"
    applied = {
        "at": time.time(),
        "kind": "probe-applied",
        "client_id": client["client_id"],
        "summary": "answered 401 invalid_token (probe)",
        "detail": {"probe_id": invalid["id"], "probe": "rs-invalid-token"},
    }
    answer = lab.report_rs([applied], consumed_probes=[invalid["id"]]).json()["rs_probes"]
    assert answer["invalid_token"] == []
    assert [p["probe"] for p in active(lab)] == ["rs-challenge-operation"]
    events = lab.http.get(f"/lab/api/clients/{client['client_id']}/events").json()
    assert json.dumps(events[-1]["detail"]) == json.dumps(applied["detail"])
