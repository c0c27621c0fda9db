"""The report card: every rule of catalog.RULES graded over one client's steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from demo_as.lab import grading, grading_tokens
from demo_as.lab.catalog import RULES
from demo_as.lab.grading import Context
from demo_as.lab.steps import Step, Verdict

GRADERS: dict[str, Callable[[Sequence[Step], Context], Verdict]] = {
    "registers-once": grading.registers_once,
    "pkce-s256": grading.pkce_s256,
    "state": grading.state,
    "resource-matches-prm": grading.resource_matches_prm,
    "first-scope-from-challenge": grading.first_scope_from_challenge,
    "offline-access": grading.offline_access,
    "token-in-header": grading.token_in_header,
    "step-up-union": grading_tokens.step_up_union,
    "no-refresh-to-widen": grading_tokens.no_refresh_to_widen,
    "retry-cap": grading_tokens.retry_cap,
    "refresh-before-reauth": grading_tokens.refresh_before_reauth,
    "refresh-rotation-followed": grading_tokens.refresh_rotation_followed,
    "iss-checked": grading.iss_checked,
    "drops-rejected-token": grading_tokens.drops_rejected_token,
}
assert set(GRADERS) == set(RULES), "every catalogued rule has exactly one grader"


# Rules that warn at worst (their graders have no failing branch).
ONLY_WARN = ("registers-once", "state")
# What the grader's log lines need: the rules that can fail. None of them reads the context's
# registration method or twins (only registers-once does), so a pass needs no Client row and
# no query for other clients' registrations.
CAN_FAIL = tuple(rule for rule in RULES if rule not in ONLY_WARN)


def grade(
    steps: Sequence[Step], ctx: Context, rules: Sequence[str] = tuple(RULES)
) -> list[Verdict]:
    """The verdicts of ``rules`` (default all), in that order."""
    ordered = sorted(steps, key=lambda s: (s.at, s.id))
    return [GRADERS[rule_id](ordered, ctx) for rule_id in rules]


# AS kinds that can make a rule fail (which rule: grading.py, grading_tokens.py). The others
# (consent, registration, revocation, introspection, refusal, probe-fired, grant-revoked) only
# feed rules through these, or can only warn or end a failure.
AS_KINDS_THAT_CAN_FAIL = (
    "authorization-request",
    "authorization-response",
    "code-redemption",
    "refresh",
    "reuse-detected",
)


def may_fail_a_rule(server: str, kind: str, detail: dict[str, Any]) -> bool:
    """Whether this step, arriving now, can make some rule fail: only then does the lab's
    grader (its log line of each newly failed rule) look at the client again. Pages and the
    API grade on read and do not depend on this.

    At the RS every challenge can (first-scope, step-up, widening, retry and rejected-token
    rules), and an MCP request that is not an accepted request with its token in the header.
    What cannot: an accepted request with the token in the header, a tool result, a PRM fetch,
    an applied probe. The rules read those only as evidence of a pass (``token-in-header``,
    ``drops-rejected-token``'s retry with a new token), as the end of a run of 403s
    (``retry-cap``: ending a run never lengthens one) or as a resource the PRM names
    (``resource-matches-prm``: another known resource never fails a request). A busy client's
    successful calls, most of what an RS reports, therefore never regrade it."""
    if server != "rs":
        return kind in AS_KINDS_THAT_CAN_FAIL
    if kind == "challenge":
        return True
    if kind != "mcp-request":
        return False
    status = detail.get("status")
    return detail.get("token_in") != "header" or not isinstance(status, int) or status >= 400


SEVERITY = {"fail": 3, "warn": 2, "pass": 1, "unobserved": 0}


def rule_of_events(verdicts: Sequence[Verdict]) -> dict[int, str]:
    """Event id -> the rule it is evidence for (the most severe verdict citing it wins)."""
    chosen: dict[int, Verdict] = {}
    for verdict in verdicts:
        for event_id in verdict.events:
            held = chosen.get(event_id)
            if held is None or SEVERITY[verdict.verdict] > SEVERITY[held.verdict]:
                chosen[event_id] = verdict
    return {event_id: verdict.rule for event_id, verdict in chosen.items()}
