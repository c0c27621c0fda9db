"""What the lab's grader may skip (report.may_fail_a_rule): a step it does not regrade for can
never make a rule fail, wherever in a client's timeline it lands (an RS step can arrive after
later AS steps), and the rules it leaves out (report.ONLY_WARN) never fail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from lab.test_grading import honest_ladder
from lab.timeline import Timeline

from demo_as.lab.report import CAN_FAIL, ONLY_WARN, may_fail_a_rule
from demo_as.lab.steps import Step

R, W, OFF = "notes:read", "notes:write", "offline_access"


def widening_refresh(t: Timeline) -> None:
    token = t.full_authorization(f"{R} {OFF}")
    t.challenge(403, W, token, tool="create_note")
    t.challenge(403, W, t.refresh(1, f"{R} {OFF}"), tool="create_note")


def looping_step_up(t: Timeline) -> None:
    token = t.full_authorization(R)
    for _ in range(5):
        t.challenge(403, W, token, tool="create_note")
        token = t.full_authorization(f"{R} {W}", granted=R)
    t.challenge(403, W, token, tool="create_note")


def resent_refused_token(t: Timeline) -> None:
    token = t.full_authorization(R)
    t.challenge(401, R, token)
    t.wait(2)
    t.call(token, status=401)
    t.challenge(401, R, token)


def expired_then_reauthorized(t: Timeline) -> None:
    token = t.full_authorization(f"{R} {OFF}")
    t.wait(301)
    t.challenge(401, R, token)
    t.authorize(R)


def redeemed_wrong_iss(t: Timeline) -> None:
    t.authorize(R)
    t.redeem(t.respond(iss_status="wrong"), R)


def replaced_scope(t: Timeline) -> None:
    t.challenge(401, R)
    t.challenge(403, W, t.full_authorization(R), tool="create_note")
    t.authorize(W)


SCENARIOS: list[Callable[[Timeline], None]] = [
    widening_refresh,
    looping_step_up,
    resent_refused_token,
    expired_then_reauthorized,
    redeemed_wrong_iss,
    replaced_scope,
]


def timelines() -> list[Timeline]:
    built = [honest_ladder()]
    for scenario in SCENARIOS:
        t = Timeline()
        scenario(t)
        built.append(t)
    return built


def failing(steps: list[Step]) -> set[str]:
    t = Timeline()
    t.steps = sorted(steps, key=lambda s: (s.at, s.id))
    return {rule for rule, v in t.verdicts(now=t.steps[-1].at + 1).items() if v.verdict == "fail"}


def skipped_steps(t: Timeline) -> list[Step]:
    """Steps the grader does not regrade for, as an RS reports them for this client: accepted
    calls and tool results for each tool and token seen, and a PRM fetch."""
    tools = {s.get("tool") for s in t.steps if s.get("tool")} | {"t"}
    tokens = {s.token_fingerprint for s in t.steps if s.token_fingerprint}
    made = []
    for tool in sorted(tools):
        for token in sorted(tokens):
            made.append(
                Step(
                    0,
                    0,
                    "rs",
                    "mcp-request",
                    {"tool": tool, "status": 200, "token_in": "header"},
                    None,
                    token,
                )
            )
        made.append(Step(0, 0, "rs", "tool-result", {"tool": tool, "is_error": False}))
    made.append(Step(0, 0, "rs", "prm-fetch", {"resource": "http://127.0.0.1:8000/mcp"}))
    return made


def test_the_scenarios_fail_what_they_should():
    assert [failing(t.steps) for t in timelines()] == [
        set(),
        {"no-refresh-to-widen"},
        {"retry-cap"},
        {"drops-rejected-token"},
        {"refresh-before-reauth"},
        {"iss-checked"},
        {"step-up-union"},
    ]


def test_a_step_the_grader_skips_never_makes_a_rule_fail():
    checked = 0
    for t in timelines():
        for extra in skipped_steps(t):
            assert not may_fail_a_rule(extra.server, extra.kind, extra.detail)
            for position in range(len(t.steps) + 1):
                before = t.steps[:position]
                after = t.steps[position:]
                at = (before[-1].at if before else t.steps[0].at - 1) + 0.01
                inserted = replace(extra, id=len(t.steps) + 1, at=at, client_id=t.client_id)
                grown = failing(before + after + [inserted]) - failing(t.steps)
                assert not grown, (extra, position)
                checked += 1
    assert checked > 500


def test_steps_that_can_fail_a_rule_are_regraded():
    for t in timelines():
        for step in t.steps:
            if step.kind == "challenge" or step.server == "as":
                expected = step.kind not in (
                    "registration",
                    "consent",
                    "grant-revoked",
                    "revocation",
                    "introspection",
                )
                assert may_fail_a_rule(step.server, step.kind, step.detail) is expected
    assert may_fail_a_rule("rs", "mcp-request", {"status": 200, "token_in": "query"})
    assert may_fail_a_rule("rs", "mcp-request", {"status": 401, "token_in": "header"})


def test_the_rules_left_out_never_fail():
    assert set(ONLY_WARN).isdisjoint(CAN_FAIL)
    for t in timelines():
        verdicts = t.verdicts()
        assert all(verdicts[rule].verdict != "fail" for rule in ONLY_WARN)
