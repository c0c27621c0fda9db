"""What the grading rules read: a client's journal as a time-ordered list of ``Step``s, and the
small derived facts several rules share (which token had which scope, which step-ups happened).

Everything here is pure: no database, no clock (``now`` is passed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

OFFLINE_ACCESS = "offline_access"
# A re-authorization or refresh this soon after a 403 is the client's reaction to it.
REACTION_WINDOW = 60.0
VerdictName = Literal["pass", "fail", "warn", "unobserved"]


@dataclass(frozen=True)
class Step:
    id: int
    at: float
    server: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    client_id: str | None = None
    token_fingerprint: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.detail.get(key, default)


@dataclass(frozen=True)
class Verdict:
    rule: str
    verdict: VerdictName
    detail: str
    events: list[int] = field(default_factory=list)


def scopes(value: Any) -> list[str]:
    """A scope as a list, whether it was recorded as a string (RFC 6749 §3.3) or a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [s for s in value.split() if s]
    return [str(s) for s in value if s]


def shown(values: Iterable[str]) -> str:
    items = list(values)
    return "'" + " ".join(items) + "'" if items else "nothing"


def of_kind(steps: Sequence[Step], *kinds: str) -> list[Step]:
    return [s for s in steps if s.kind in kinds]


def is_step_up_challenge(step: Step) -> bool:
    """RFC 6750 §3.1: a 403 insufficient_scope challenge from the RS."""
    return (
        step.kind == "challenge"
        and step.get("status") == 403
        and step.get("error") == "insufficient_scope"
    )


def is_401(step: Step) -> bool:
    return step.kind == "challenge" and step.get("status") == 401


def issued_tokens(steps: Sequence[Step]) -> dict[str, Step]:
    """Access-token fingerprint -> the token response step that issued it."""
    return {
        s.get("access_token_fingerprint"): s
        for s in of_kind(steps, "code-redemption", "refresh")
        if s.get("outcome") == "issued" and s.get("access_token_fingerprint")
    }


def granted_for(step: Step, steps: Sequence[Step], tokens: dict[str, Step]) -> list[str]:
    """The scope of the token a challenged request presented (else of the newest token issued
    before it)."""
    issuer = tokens.get(step.token_fingerprint or "")
    if issuer is None:
        earlier = [t for t in tokens.values() if t.at <= step.at]
        issuer = max(earlier, key=lambda t: t.at, default=None)
    return scopes(issuer.get("scope_granted")) if issuer else []


def reaction_to(challenge: Step, steps: Sequence[Step]) -> Step | None:
    """The client's next move at the AS after a challenge (authorization request or refresh),
    if it came within REACTION_WINDOW and no other challenge came between."""
    for step in steps:
        if step.at <= challenge.at or step.id == challenge.id:
            continue
        if step.at > challenge.at + REACTION_WINDOW:
            return None
        if step.kind == "challenge":
            return None
        if step.kind in ("authorization-request", "refresh"):
            return step
    return None


def step_up_reactions(steps: Sequence[Step]) -> list[tuple[Step, Step]]:
    """(403 insufficient_scope challenge, the client's reaction) pairs."""
    pairs = []
    for challenge in steps:
        if is_step_up_challenge(challenge):
            reaction = reaction_to(challenge, steps)
            if reaction is not None:
                pairs.append((challenge, reaction))
    return pairs


def widening(challenge: Step, steps: Sequence[Step], tokens: dict[str, Step]) -> list[str]:
    """The challenged scopes the presented token does not have (what only /authorize gives)."""
    granted = set(granted_for(challenge, steps, tokens))
    return [s for s in scopes(challenge.get("scope")) if s not in granted]


def verdict_of(
    rule: str,
    failures: list[tuple[str, list[int]]],
    passes: list[tuple[str, list[int]]],
    unobserved: str,
    warnings: Sequence[tuple[str, list[int]]] = (),
) -> Verdict:
    """Fold per-instance findings into one verdict: any failure fails, then any warning warns,
    then any pass passes; the evidence is the ids of the instances that decided it."""
    for findings, name in ((failures, "fail"), (warnings, "warn"), (passes, "pass")):
        if findings:
            ids = sorted({i for _text, ids in findings for i in ids})
            text = findings[0][0]
            if len(findings) > 1 and name == "pass":
                text += f" ({len(findings)} times)"
            elif len(findings) > 1:
                text += f" (and {len(findings) - 1} more like it)"
            return Verdict(rule, name, text, ids)  # type: ignore[arg-type]
    return Verdict(rule, "unobserved", unobserved, [])
