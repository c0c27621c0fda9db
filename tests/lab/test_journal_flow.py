"""The AS hooks through real flows (tests/harness/oauth_flow.py's honest client against a real
demo_as): what the journal records, that it records no secret, and the report it grades."""

from __future__ import annotations

import json
import logging
import time

from harness.oauth_flow import (
    AuthorizationRequest,
    authorize,
    code_from,
    introspect,
    issue_tokens,
    redeem,
    refresh,
    register,
)
from lab.conftest import RESOURCE
from sqlalchemy import func, select

from demo_as.db import session
from demo_as.lab.journal import NewEvent, Repeats, fingerprint, label_repeats
from demo_as.lab.models import LabEvent
from demo_as.lab.recorder import events_named


def events_of(lab, client_id: str) -> list[dict]:
    response = lab.http.get(f"/lab/api/clients/{client_id}/events")
    assert response.status_code == 200, response.text
    return response.json()


def verdicts_of(lab, client_id: str) -> dict[str, dict]:
    response = lab.http.get(f"/lab/api/clients/{client_id}/report")
    assert response.status_code == 200, response.text
    return {rule["id"]: rule for rule in response.json()["rules"]}


def test_honest_flow_is_journaled_with_fingerprints_only(lab):
    lab.http.get("/.well-known/oauth-authorization-server")
    client, request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    rotated = refresh(
        lab.http, lab.url, client["client_id"], tokens["refresh_token"], resource=RESOURCE
    )
    assert rotated.status_code == 200
    events = events_of(lab, client["client_id"])
    kinds = [e["kind"] for e in events]
    assert kinds == [
        "metadata-fetch",  # attributed by inference: the next client seen at the AS
        "registration",
        "authorization-request",
        "consent",
        "authorization-response",
        "code-redemption",
        "refresh",
    ]
    assert "inferred" in events[0]["detail"]["attribution"]
    by_kind = {e["kind"]: e for e in events}
    assert by_kind["authorization-request"]["detail"]["code_challenge_method"] == "S256"
    assert by_kind["authorization-request"]["detail"]["state_length"] == len(request.state)
    assert by_kind["authorization-request"]["detail"]["resource"] == [RESOURCE]
    assert by_kind["consent"]["detail"]["granted"] == ["notes:read", "offline_access"]
    assert by_kind["authorization-response"]["detail"]["iss_status"] == "correct"
    assert by_kind["authorization-response"]["detail"]["iss_sent"] == lab.settings.issuer
    redemption = by_kind["code-redemption"]["detail"]
    assert redemption["access_token_fingerprint"] == fingerprint(tokens["access_token"])
    assert redemption["refresh_token_fingerprint"] == fingerprint(tokens["refresh_token"])
    assert redemption["scope_granted"] == ["notes:read", "offline_access"]
    assert by_kind["refresh"]["detail"]["presented_status"] == "active"
    assert by_kind["refresh"]["detail"]["presented_refresh_fingerprint"] == fingerprint(
        tokens["refresh_token"]
    )
    # No secret anywhere in the journal, neither in the API nor in the table.
    with session(lab.app.state.engine) as db:
        stored = json.dumps([row.model_dump() for row in db.exec(select(LabEvent)).scalars()])
    secrets = [tokens["access_token"], tokens["refresh_token"], request.verifier]
    secrets += [rotated.json()["access_token"], rotated.json()["refresh_token"]]
    for text in (json.dumps(events), stored):
        for secret in secrets:
            assert secret not in text


def test_authorization_response_records_what_the_as_added_not_the_uris_own_query(lab):
    """A redirect URI may carry a query of its own (RFC 6749 §3.1.2); its ``state`` is the
    client's, not an echo of the request's."""
    own = "http://127.0.0.1:53682/callback?state=the-uris-own&code=the-uris-own"
    client = register(lab.http, lab.url, [own])
    request = AuthorizationRequest(client["client_id"], own, RESOURCE, state=None)  # type: ignore[arg-type]
    response = authorize(lab.http, lab.url, request)
    assert response.headers["location"].startswith(own + "&code=")
    [sent] = [
        e for e in events_of(lab, client["client_id"]) if e["kind"] == "authorization-response"
    ]
    assert sent["detail"]["state_echoed"] is False
    assert sent["detail"]["iss_status"] == "correct"
    assert sent["detail"]["code_fingerprint"] != fingerprint("the-uris-own")
    assert sent["detail"]["redirect_uri"] == "http://127.0.0.1:53682/callback"


def test_honest_flow_report(lab):
    client, _request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    refresh(lab.http, lab.url, client["client_id"], tokens["refresh_token"], resource=RESOURCE)
    verdicts = verdicts_of(lab, client["client_id"])
    passing = {rule for rule, v in verdicts.items() if v["verdict"] == "pass"}
    assert passing == {
        "registers-once",
        "pkce-s256",
        "state",
        "resource-matches-prm",
        "offline-access",
        "refresh-before-reauth",
        "refresh-rotation-followed",
    }
    assert not [v for v in verdicts.values() if v["verdict"] in ("fail", "warn")]
    listed = lab.http.get("/lab/api/clients").json()
    assert [c["client_id"] for c in listed] == [client["client_id"]]
    assert listed[0]["registration"] == "dcr"
    assert listed[0]["client_name"] == "battery client"
    assert listed[0]["counts"]["pass"] == len(passing)


def test_a_revocation_is_journaled_with_the_kind_of_token_it_named(lab):
    client, _request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    cid = client["client_id"]
    for token in (tokens["access_token"], "not-a-token-of-ours", tokens["refresh_token"]):
        response = lab.http.post("/revoke", data={"token": token, "client_id": cid})
        assert response.status_code == 200, response.text
    revocations = [e for e in events_of(lab, cid) if e["kind"] == "revocation"]
    assert [e["detail"]["token_type"] for e in revocations] == [
        "access_token",
        "unknown",
        "refresh_token",
    ]
    assert revocations[2]["detail"]["token_fingerprint"] == fingerprint(tokens["refresh_token"])


def test_reuse_fails_rotation_and_logs_one_line(lab, caplog):
    client, _request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    cid = client["client_id"]
    refresh(lab.http, lab.url, cid, tokens["refresh_token"], resource=RESOURCE)
    with caplog.at_level(logging.WARNING, logger="demo_as.lab"):
        replay = refresh(lab.http, lab.url, cid, tokens["refresh_token"], resource=RESOURCE)
    assert replay.status_code == 400
    kinds = [e["kind"] for e in events_of(lab, cid)]
    assert kinds[-2:] == ["reuse-detected", "refresh"]
    verdict = verdicts_of(lab, cid)["refresh-rotation-followed"]
    assert verdict["verdict"] == "fail"
    assert "reuse detected" in verdict["detail"]

    def lines() -> list[str]:
        found = caplog.records
        return [r.getMessage() for r in found if "refresh-rotation-followed" in r.getMessage()]

    with caplog.at_level(logging.WARNING, logger="demo_as.lab"):
        lab.wait_graded()  # off the request path, on the lab's thread, once the steps settled
    [line] = lines()
    assert cid in line
    assert tokens["refresh_token"] not in line
    with caplog.at_level(logging.WARNING, logger="demo_as.lab"):
        refresh(lab.http, lab.url, cid, tokens["refresh_token"], resource=RESOURCE)
        lab.wait_graded()  # graded again, with more evidence of the same failure: no new line
    assert len(lines()) == 1


def test_a_log_line_names_the_first_five_events_and_counts_the_rest():
    assert events_named([3]) == "events #3"
    assert events_named([1, 2, 3, 4, 5]) == "events #1, #2, #3, #4, #5"
    assert events_named(list(range(1, 95))) == "events #1, #2, #3, #4, #5 and 89 more"


def rs_challenge(at: float, status: int, scope: str, token: str | None) -> dict:
    """A challenge as the RS reports it (scoped_tools_server/lab_journal.py)."""
    error = "insufficient_scope" if status == 403 else None
    return {
        "at": at,
        "kind": "challenge",
        "client_id": None,
        "token_fingerprint": fingerprint(token) if token else None,
        "summary": f"HTTP {status}",
        "detail": {"status": status, "error": error, "scope": scope, "tool": "create_note"},
    }


def test_a_late_rs_step_does_not_make_a_false_log_line(lab, caplog):
    """The story's rounds 6-7: a 403 the client does not act on (throw mode), then a new
    session's 401 and a new authorization for the 401's scope. The RS reports the 401 after the
    AS journaled the authorization; graded before it arrived, the authorization looked like the
    403's step-up without the scope the 403 named. Log lines wait for the steps to settle."""
    _client, request, tokens = issue_tokens(lab.http, lab.url, RESOURCE, scope="notes:read")
    cid = request.client_id
    ignored_403 = rs_challenge(time.time(), 403, "notes:write", tokens["access_token"])
    assert lab.report_rs([ignored_403]).status_code == 200
    new_session_401_at = time.time()
    again = AuthorizationRequest(cid, request.redirect_uri, RESOURCE, "notes:read")
    with caplog.at_level(logging.WARNING, logger="demo_as.lab"):
        assert authorize(lab.http, lab.url, again).status_code in (302, 303)
        time.sleep(1.0)  # the RS's batch arrives late: grading passes run meanwhile
        assert lab.report_rs([rs_challenge(new_session_401_at, 401, "notes:read", None)])
        lab.wait_graded()
    assert [r.getMessage() for r in caplog.records if "step-up-union" in r.getMessage()] == []
    statuses = [e["detail"].get("status") for e in events_of(lab, cid) if e["kind"] == "challenge"]
    assert statuses == [403, 401]  # the 401 is the client's too (attributed by inference)
    assert verdicts_of(lab, cid)["step-up-union"]["verdict"] == "unobserved"


def test_refused_requests_are_journaled_and_graded(lab):
    client = register(lab.http, lab.url)
    cid = client["client_id"]
    request = AuthorizationRequest(
        client_id=cid, redirect_uri=client["redirect_uris"][0], resource=RESOURCE
    )
    plain = lab.http.get(
        "/authorize", params=request.params(code_challenge_method="plain", resource=None)
    )
    assert plain.status_code == 200  # OAuth 2.1 §7.12.2: the error waits until after login
    code = code_from(authorize(lab.http, lab.url, request), request)
    wrong = redeem(lab.http, lab.url, request, code, code_verifier="x" * 43)
    assert wrong.status_code == 400
    events = events_of(lab, cid)
    requests = [e for e in events if e["kind"] == "authorization-request"]
    assert requests[0]["detail"]["code_challenge_method"] == "plain"
    redemption = next(e for e in events if e["kind"] == "code-redemption")
    assert redemption["detail"]["outcome"] == "invalid_grant"
    verdicts = verdicts_of(lab, cid)
    assert verdicts["pkce-s256"]["verdict"] == "fail"
    assert verdicts["resource-matches-prm"]["verdict"] == "fail"
    failing_ids = set(verdicts["pkce-s256"]["events"])
    assert {e["rule"] for e in events if e["id"] in failing_ids} == {"pkce-s256"}


def test_dashboard_links_the_lab(lab):
    page = lab.http.get("/").text
    assert '<a href="/lab">the client-testing lab</a>' in page


def test_lab_off_journals_nothing_and_serves_no_lab_api(start_lab):
    lab = start_lab(lab=False)
    issue_tokens(lab.http, lab.url, RESOURCE)
    assert lab.http.get("/lab/api/clients").status_code == 404
    assert "lab (journal, report cards, probes) is switched off" in lab.http.get("/").text
    with session(lab.app.state.engine) as db:
        count = db.exec(select(func.count()).select_from(LabEvent)).scalar_one()
    assert count == 0


def test_a_quiet_client_is_graded_once_not_on_every_poll(lab):
    """/lab polls every client every 1.5 s: a client whose events did not change keeps its
    grading; a new event (or another client's registration) grades it again."""
    from demo_as.lab import views

    client, _request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    cid = client["client_id"]
    engine = lab.app.state.engine
    lab.app.state.lab.writer.flush()
    while time.time() % views.GradedClients.REGRADE_SECONDS > 3.0:
        time.sleep(0.1)  # keep the reads inside one regrade interval
    first = views.graded(engine, cid)
    assert views.graded(engine, cid) is first
    [listed] = [c for c in views.list_clients(engine) if c["client_id"] == cid]
    assert listed is first.summary
    assert views.graded(engine, cid) is first

    refresh(lab.http, lab.url, cid, tokens["refresh_token"], resource=RESOURCE)
    lab.app.state.lab.writer.flush()
    after_refresh = views.graded(engine, cid)
    assert after_refresh is not first
    assert after_refresh.summary["counts"] == views.state_of(engine, cid).counts()

    register(lab.http, lab.url)  # another client: registers-once compares twins
    lab.app.state.lab.writer.flush()
    assert views.graded(engine, cid) is not after_refresh


def test_repeated_introspections_are_one_event_with_a_count(start_lab):
    """An RS introspecting one token for each of its requests: identical introspections in one
    batch of the journal are one event with ``repeats``; their count is never lost."""
    secret = "introspection-secret-for-the-lab-test-0123"
    lab = start_lab(introspection_secret=secret)
    client, _request, tokens = issue_tokens(lab.http, lab.url, RESOURCE)
    for _ in range(6):
        assert introspect(lab.url, tokens["access_token"], secret)["active"] is True
    introspections = [
        e for e in events_of(lab, client["client_id"]) if e["kind"] == "introspection"
    ]
    assert sum(e["detail"].get("repeats", 1) for e in introspections) == 6
    for event in introspections:
        if "repeats" in event["detail"]:
            assert event["summary"].endswith(f"(×{event['detail']['repeats']})")
            assert event["detail"]["last_at"] >= time.time() - 60


def test_the_writer_counts_a_repeat_into_the_queued_event_as_it_is_submitted(lab):
    """Repeats merge on ``submit``, so the writer's queue holds one event however many
    identical introspections arrive in a batch (runtime.JournalWriter, journal.Repeats)."""
    writer = lab.app.state.lab.writer
    writer.flush()
    writer.LINGER = 60.0  # the batch waits for this test's flush
    try:
        detail = {"active": True, "scope": "notes:read"}
        for _ in range(4):
            event = NewEvent("as", "introspection", "i", dict(detail), "client-q", "token", "t1")
            assert writer.submit(event)
        assert [e.detail.get("repeats") for e in writer.queued] == [4]
        writer.flush()
    finally:
        del writer.LINGER
    with session(lab.app.state.engine) as db:
        rows = db.exec(select(LabEvent).where(LabEvent.client_id == "client-q")).scalars().all()
    assert [(row.summary, row.detail["repeats"]) for row in rows] == [("i (×4)", 4)]


def test_only_back_to_back_identical_introspections_merge():
    def introspection(client_id: str, token: str, active: bool = True) -> NewEvent:
        detail = {"active": active, "scope": "notes:read"}
        return NewEvent(
            "as", "introspection", f"introspection of {token}", detail, client_id, "token", token
        )

    refresh_step = NewEvent("as", "refresh", "refresh", {}, "client-a", "request")
    repeats = Repeats()  # as JournalWriter.submit and run use it
    submitted = [
        introspection("client-a", "sha256:a1"),
        introspection("client-b", "sha256:b1"),  # another client: no break for client-a
        introspection("client-a", "sha256:a1"),
        refresh_step,  # client-a did something else: the run ends
        introspection("client-a", "sha256:a1"),
        introspection("client-a", "sha256:a1", active=False),
    ]
    merged = label_repeats([event for event in submitted if not repeats.absorbs(event)])
    assert [(e.client_id, e.kind, e.detail.get("repeats")) for e in merged] == [
        ("client-a", "introspection", 2),
        ("client-b", "introspection", None),
        ("client-a", "refresh", None),
        ("client-a", "introspection", None),
        ("client-a", "introspection", None),
    ]
    assert merged[0].summary == "introspection of sha256:a1 (×2)"
