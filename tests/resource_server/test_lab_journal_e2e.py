"""The RS side of the lab, end to end: a real demo_as (its lab, its ingest endpoint, its database)
and a real RS on loopback, the RS reading the lab secret from the file the AS wrote. Tokens come
from the AS's real login and consent forms; probes are stored the way the lab stores them."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

import httpx2
import sqlalchemy
from harness.mcp_raw import call_tool, headers, initialize_message, open_session, tool_call
from harness.oauth_flow import issue_tokens
from harness.stack import Stack
from joserfc import jwt
from joserfc.jwk import ECKey

from demo_as.lab.probes import get_probe, store_probe


def fingerprint(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def rs_events(stack: Stack, **where: Any) -> list[dict[str, Any]]:
    clauses = " AND ".join(f"{name} = :{name}" for name in where)
    sql = "SELECT kind, client_id, token_fingerprint, summary, detail, attribution FROM lab_event"
    sql += " WHERE server = 'rs'"
    with stack.engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text(sql + (f" AND {clauses}" if clauses else "") + " ORDER BY id"), where
        ).all()
    return [
        {
            "kind": row[0],
            "client_id": row[1],
            "token_fingerprint": row[2],
            "summary": row[3],
            "detail": row[4] if isinstance(row[4], dict) else json.loads(row[4]),
            "attribution": row[5],
        }
        for row in rows
    ]


def wait_for(condition, timeout: float = 8.0):
    """Events reach the AS within about a flush interval; poll for them."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def stateless_call(
    http: httpx2.Client, stack: Stack, token: str, tool: str, arguments: dict[str, Any]
) -> httpx2.Response:
    """A 2026-07-28 stateless tools/call (no session)."""
    body = tool_call(tool, arguments)
    body["params"]["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    extra = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool}
    return http.post(stack.resource, json=body, headers=headers(token, **extra))


def test_each_step_reaches_the_lab_attributed_by_the_verified_token(stack: Stack, http) -> None:
    prm = http.get(f"{stack.rs_url}/.well-known/oauth-protected-resource/mcp")
    assert prm.status_code == 200
    anonymous = http.post(stack.resource, json=initialize_message(), headers=headers(None))
    assert anonymous.status_code == 401
    client, _, tokens = issue_tokens(http, stack.as_url, stack.resource, scope="notes:read")
    token, client_id = tokens["access_token"], client["client_id"]
    session_id = open_session(http, stack.resource, token)
    assert call_tool(http, stack.resource, token, session_id, "whoami").status_code == 200
    refused = call_tool(
        http, stack.resource, token, session_id, "create_note", {"title": "t", "body": "b"}
    )
    assert refused.status_code == 403

    def complete() -> list[dict[str, Any]]:
        """The RS's events attributed by the verified token, once the 403 has arrived."""
        events = rs_events(stack, client_id=client_id, attribution="token")
        return events if any(e["kind"] == "challenge" for e in events) else []

    events = wait_for(complete)
    kinds = [e["kind"] for e in events]
    assert kinds == ["mcp-request"] * 3 + ["tool-result", "mcp-request", "challenge"]
    requests = [e["detail"] for e in events if e["kind"] == "mcp-request"]
    assert [(r["method"], r["tool"], r["status"]) for r in requests] == [
        ("initialize", None, 200),
        ("notifications/initialized", None, 202),
        ("tools/call", "whoami", 200),
        ("tools/call", "create_note", 403),
    ]
    assert {r["token_in"] for r in requests} == {"header"}
    assert requests[0]["protocol_version"] == "2025-11-25"
    assert requests[0]["session"] == fingerprint(session_id) == requests[3]["session"]
    assert {e["token_fingerprint"] for e in events} == {fingerprint(token)}
    result = next(e for e in events if e["kind"] == "tool-result")
    assert result["detail"] == {"tool": "whoami", "is_error": False}
    challenge = next(e for e in events if e["kind"] == "challenge")["detail"]
    assert challenge["www_authenticate"] == refused.headers["www-authenticate"]
    assert (challenge["status"], challenge["error"], challenge["scope"], challenge["tool"]) == (
        403,
        "insufficient_scope",
        "notes:write",
        "create_note",
    )
    # Without a token the RS names no client (the lab may attribute by inference later).
    unattributed = [e for e in rs_events(stack) if e["attribution"] != "token"]
    assert any(e["kind"] == "prm-fetch" for e in unattributed)
    assert any(
        e["kind"] == "challenge"
        and e["detail"]["status"] == 401
        and e["detail"]["www_authenticate"] == anonymous.headers["www-authenticate"]
        for e in unattributed
    )


def test_a_token_in_the_query_is_refused_but_its_client_is_named(stack: Stack, http) -> None:
    client, _, tokens = issue_tokens(http, stack.as_url, stack.resource, scope="notes:read")
    token = tokens["access_token"]
    response = http.post(
        stack.resource,
        params={"access_token": token},
        json=initialize_message(),
        headers=headers(None),
    )
    assert response.status_code == 400
    events = wait_for(lambda: rs_events(stack, client_id=client["client_id"], attribution="token"))
    assert [(e["kind"], e["detail"]["token_in"], e["detail"]["status"]) for e in events] == [
        ("mcp-request", "query", 400)
    ]
    assert events[0]["token_fingerprint"] == fingerprint(token)


def test_the_invalid_token_probe_refuses_one_good_request_then_is_consumed(
    stack: Stack, http
) -> None:
    client, _, tokens = issue_tokens(http, stack.as_url, stack.resource, scope="notes:read")
    token, client_id = tokens["access_token"], client["client_id"]
    probe = store_probe(stack.engine, "rs-invalid-token", client_id, once=True)
    assert wait_for(lambda: get_probe(stack.engine, probe.id).delivered)
    time.sleep(0.1)  # the answer that carried it reaches the RS right after the AS marked it
    probed = stateless_call(http, stack, token, "whoami", {})
    assert probed.status_code == 401
    challenge = probed.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge and "Lab probe rs-invalid-token" in challenge
    again = stateless_call(http, stack, token, "whoami", {})
    assert again.status_code == 200, again.text
    assert wait_for(lambda: get_probe(stack.engine, probe.id).consumed_at is not None)

    def applied() -> list[dict[str, Any]]:  # the journal writes its batch a moment later
        return [e for e in rs_events(stack, client_id=client_id) if e["kind"] == "probe-applied"]

    assert [e["detail"] for e in wait_for(applied)] == [
        {"probe_id": probe.id, "probe": "rs-invalid-token"}
    ]


def test_the_challenge_mode_switches_live_and_back(stack: Stack, http) -> None:
    client, _, tokens = issue_tokens(http, stack.as_url, stack.resource, scope="notes:read")
    token = tokens["access_token"]

    def challenged_scope() -> str:
        response = stateless_call(http, stack, token, "create_note", {"title": "t", "body": "b"})
        assert response.status_code == 403
        return response.json()["scope"]

    assert challenged_scope() == "notes:write"  # the startup --challenge-scope operation
    probe = store_probe(stack.engine, "rs-challenge-cumulative", None, once=False)
    assert wait_for(lambda: challenged_scope() == "notes:read notes:write")
    assert get_probe(stack.engine, probe.id).delivered
    with stack.engine.begin() as conn:
        conn.execute(
            sqlalchemy.text("UPDATE lab_probe SET cleared_at = :now WHERE id = :id"),
            {"now": time.time(), "id": probe.id},
        )
    assert wait_for(lambda: challenged_scope() == "notes:write")
    applied = wait_for(
        lambda: [
            e["detail"]
            for e in rs_events(stack, client_id=client["client_id"])
            if e["kind"] == "probe-applied"
        ]
    )
    assert applied and {a["probe"] for a in applied} == {"rs-challenge-cumulative"}


def as_signed(stack: Stack, client_id: str, **overrides: Any) -> str:
    """A token signed with the AS's real key (read from its database), claims overridable."""
    with stack.engine.connect() as conn:
        jwk = conn.execute(sqlalchemy.text("SELECT private_jwk FROM signingkey")).scalars().first()
    key = ECKey.import_key(json.loads(jwk) if isinstance(jwk, str) else jwk)
    now = int(time.time())
    claim_set = {
        "iss": stack.as_url,
        "sub": "alice",
        "aud": stack.resource,
        "client_id": client_id,
        "scope": "notes:read",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **overrides,
    }
    return jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, claim_set, key)


def test_an_expired_but_genuine_token_names_its_client_a_forged_one_does_not(
    stack: Stack, http
) -> None:
    client_id = "expired-" + uuid.uuid4().hex[:8]
    now = int(time.time())
    expired = as_signed(stack, client_id, iat=now - 600, exp=now - 300)
    forged = as_signed(stack, client_id, aud="http://127.0.0.1:1/mcp")[:-4] + "AAAA"
    for token in (expired, forged):
        response = stateless_call(http, stack, token, "whoami", {})
        assert response.status_code == 401
    events = wait_for(
        lambda: (
            len(rs_events(stack, client_id=client_id)) >= 2
            and rs_events(stack, client_id=client_id)
        )
    )
    assert {e["token_fingerprint"] for e in events} == {fingerprint(expired)}
    challenge = next(e for e in events if e["kind"] == "challenge")
    assert challenge["detail"]["error"] == "invalid_token"
    assert "expired" in challenge["detail"]["www_authenticate"]
    forged_events = wait_for(
        lambda: [e for e in rs_events(stack) if e["token_fingerprint"] == fingerprint(forged)]
    )
    assert {e["attribution"] for e in forged_events} <= {None, "inferred"}  # the RS named no one


CALLS = 10


def test_repeated_identical_calls_reach_the_lab_as_one_step_with_a_count(
    stack: Stack, http
) -> None:
    """A client calling one tool over and over (lab_runs.py) is one step per report, counted."""
    client, _, tokens = issue_tokens(http, stack.as_url, stack.resource, scope="notes:read")
    token = tokens["access_token"]
    for _ in range(CALLS):
        assert stateless_call(http, stack, token, "whoami", {}).status_code == 200

    def counted() -> list[dict[str, Any]]:
        events = rs_events(stack, client_id=client["client_id"], attribution="token")
        repeats = sum(e["detail"].get("repeats", 1) for e in events if e["kind"] == "tool-result")
        return events if repeats == CALLS else []

    events = wait_for(counted)
    assert events, "the calls did not reach the lab"
    requests = [e for e in events if e["kind"] == "mcp-request"]
    assert sum(e["detail"].get("repeats", 1) for e in requests) == CALLS
    assert len(requests) < CALLS  # merged: ten quick calls cannot each fall in a report of its own
    merged = next(e for e in requests if "repeats" in e["detail"])
    assert merged["summary"].endswith(f"(×{merged['detail']['repeats']})")
