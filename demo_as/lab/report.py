"""The report card: every rule of catalog.RULES graded over one client's steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def grade(steps: Sequence[Step], ctx: Context) -> list[Verdict]:
    """All verdicts, in catalogue order. ``steps`` must be in time order."""
    ordered = sorted(steps, key=lambda s: (s.at, s.id))
    return [GRADERS[rule_id](ordered, ctx) for rule_id in RULES]


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
