"""How journal events become the steps of a client's timeline (demo_as/lab/timeline.py).

The page, its live fragment and the sequence diagram all draw these steps, so the order, the
arrow direction and the verdict/correction of a step are decided here, once.
"""

from __future__ import annotations

from demo_as.lab.timeline import build_steps, direction_of, last_event_id, rules_worst_first


def event(event_id: int, at: str, server: str, kind: str, rule: str | None = None) -> dict:
    return {
        "id": event_id,
        "at": at,
        "server": server,
        "kind": kind,
        "summary": f"{kind} #{event_id}",
        "detail": {},
        "rule": rule,
        "spec": None,
    }


def test_steps_follow_time_not_arrival_so_a_late_rs_batch_lands_where_it_happened() -> None:
    events = [
        event(1, "2026-12-01T10:00:00.100+00:00", "as", "authorization-request"),
        event(2, "2026-12-01T10:00:00.300+00:00", "as", "token"),
        # The RS's batch reaches the AS after the token request but happened before it.
        event(3, "2026-12-01T10:00:00.200+00:00", "rs", "challenge"),
    ]
    assert [s.id for s in build_steps(events, None, {})] == [1, 3, 2]


def test_arrow_direction_requests_answers_and_notes() -> None:
    assert direction_of({"kind": "mcp-request"}) == "to-server"
    assert direction_of({"kind": "challenge"}) == "to-client"
    assert direction_of({"kind": "tool-result"}) == "to-client"
    assert direction_of({"kind": "probe-applied"}) == "note"
    assert direction_of({"kind": "something-new"}) == "to-server"


def test_a_step_shows_its_worst_verdict_and_what_a_correct_client_does() -> None:
    events = [
        event(1, "2026-12-01T10:00:00+00:00", "as", "token", rule="iss-checked"),
        event(2, "2026-12-01T10:00:01+00:00", "as", "registration", rule="registers-once"),
        event(3, "2026-12-01T10:00:02+00:00", "rs", "mcp-request", rule="token-in-header"),
    ]
    report = {
        "rules": [
            {"id": "registers-once", "verdict": "pass", "events": [2]},
            {"id": "pkce-s256", "verdict": "pass", "events": [1]},
            {"id": "iss-checked", "verdict": "fail", "events": [1]},
        ]
    }
    correct = {"iss-checked": "stops when iss differs", "registers-once": "registers once"}
    token, registration, request = build_steps(events, report, correct)

    assert token.verdict == "fail"
    assert [m.id for m in token.marks] == ["iss-checked", "pkce-s256"]  # its own rule first
    assert token.corrections == ("stops when iss differs",)
    assert registration.verdict == "pass" and registration.corrections == ()
    # Its own rule is named even though no report entry cites the event (yet): no verdict.
    assert [m.id for m in request.marks] == ["token-in-header"] and request.verdict is None


def test_new_steps_are_those_after_the_id_the_viewer_has_seen() -> None:
    events = [event(i, f"2026-12-01T10:00:0{i}+00:00", "as", "token") for i in (4, 5, 6)]
    steps = build_steps(events, None, {}, new_after=5)
    assert [s.new for s in steps] == [False, False, True]
    assert last_event_id(events) == 6 and last_event_id([]) == 0
    assert steps[0].clock == "10:00:04.000"


def test_the_report_card_lists_failures_first_then_warnings_passes_and_the_unobserved() -> None:
    verdicts = ["pass", "unobserved", "fail", "pass", "warn", "fail"]
    report = {"rules": [{"id": f"r{i}", "verdict": v} for i, v in enumerate(verdicts)]}
    assert [r["id"] for r in rules_worst_first(report)] == ["r2", "r5", "r4", "r0", "r3", "r1"]
