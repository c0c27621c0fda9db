"""One client's timeline: journal events placed on a client ↔ AS ↔ RS sequence diagram.

Pure functions over the dicts of ``views.client_events`` and ``views.client_report`` (the shapes of
the JSON API), so the page, its live fragment and the tests all see one ordering and one
placement. The diagram is drawn by the template (HTML/CSS, no script): each step is an arrow from
the client to a server (a request), from a server back to the client (an answer, a challenge) or a
note on one server's lifeline (what the server did by itself: a probe applied, a grant revoked).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Verdicts from best to worst; a step that is evidence for several rules shows its worst verdict.
VERDICT_ORDER = ("pass", "unobserved", "warn", "fail")

# Event kinds (lab-core's journal) the server SENDS to the client, drawn right to left. Every
# other kind is a request the client made (a token request is one step: request and answer),
# except the notes below.
SERVER_TO_CLIENT = frozenset({"authorization-response", "challenge", "tool-result", "refusal"})
# Event kinds that happen inside one server, with no message of the client's on the wire: the
# user's consent, reuse detection, a probe fired or applied, a grant revoked by a probe.
SERVER_NOTES = frozenset({"consent", "reuse-detected", "grant-revoked"})


@dataclass(frozen=True)
class RuleMark:
    """A rule this step is evidence for, with the verdict the report card gives that rule."""

    id: str
    verdict: str


@dataclass(frozen=True)
class Step:
    """One event as the page draws it."""

    event: Mapping[str, Any]
    direction: str  # "to-server" | "to-client" | "note"
    marks: tuple[RuleMark, ...] = ()
    new: bool = False
    corrections: tuple[str, ...] = field(default=())

    @property
    def id(self) -> int:
        return int(self.event["id"])

    @property
    def server(self) -> str:
        return "rs" if self.event.get("server") == "rs" else "as"

    @property
    def verdict(self) -> str | None:
        """The worst verdict among the rules this step is evidence for (None: evidence for none)."""
        verdicts = [m.verdict for m in self.marks if m.verdict]
        return max(verdicts, key=verdict_rank) if verdicts else None

    @property
    def clock(self) -> str:
        """``HH:MM:SS.mmm`` of the event (UTC, as the journal stores it)."""
        return clock_of(str(self.event.get("at", "")))


def verdict_rank(verdict: str) -> int:
    return VERDICT_ORDER.index(verdict) if verdict in VERDICT_ORDER else 0


def clock_of(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def when_of(iso: str | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` for the clients table (the full ISO string goes in a title)."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def direction_of(event: Mapping[str, Any]) -> str:
    """Which way the step's arrow points: the kind decides; unknown kinds are client requests."""
    kind = str(event.get("kind", ""))
    if kind in SERVER_NOTES or kind.startswith("probe-"):
        return "note"
    if kind in SERVER_TO_CLIENT:
        return "to-client"
    return "to-server"


def evidence_index(report: Mapping[str, Any] | None) -> dict[int, list[RuleMark]]:
    """``{event id: [the rules that cite it as evidence, with their verdicts]}``."""
    index: dict[int, list[RuleMark]] = {}
    for rule in (report or {}).get("rules", []):
        for event_id in rule.get("events", []):
            index.setdefault(int(event_id), []).append(RuleMark(rule["id"], rule["verdict"]))
    return index


def build_steps(
    events: Iterable[Mapping[str, Any]],
    report: Mapping[str, Any] | None,
    correct_by_rule: Mapping[str, str],
    new_after: int | None = None,
) -> list[Step]:
    """The steps in the order they happened (time, then journal id: RS events arrive in batches,
    so a later id can carry an earlier time). ``new_after`` marks steps the viewer has not seen.
    A step that is evidence for a failed or warned rule carries what a correct client does."""
    index = evidence_index(report)
    steps = []
    for event in events:
        event_id = int(event["id"])
        marks = list(index.get(event_id, []))
        own_rule = event.get("rule")
        if own_rule:
            # The rule the event exercised comes first; when no report entry cites the event
            # (yet), it is shown without a verdict.
            own = [m for m in marks if m.id == own_rule] or [RuleMark(own_rule, "")]
            marks = own + [m for m in marks if m.id != own_rule]
        corrections = tuple(
            correct_by_rule[m.id]
            for m in marks
            if m.verdict in ("fail", "warn") and m.id in correct_by_rule
        )
        steps.append(
            Step(
                event=event,
                direction=direction_of(event),
                marks=tuple(marks),
                new=new_after is not None and event_id > new_after,
                corrections=corrections,
            )
        )
    steps.sort(key=lambda s: (str(s.event.get("at", "")), s.id))
    return steps


def rules_worst_first(report: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The report card's rules as the page lists them: failures, then warnings, passes and the
    unobserved, each group in the catalog's order."""
    order = ("fail", "warn", "pass", "unobserved")
    rules = list((report or {}).get("rules", []))
    return sorted(rules, key=lambda r: order.index(r["verdict"]) if r["verdict"] in order else 4)


def last_event_id(events: Iterable[Mapping[str, Any]]) -> int:
    """The highest journal id shown (the live poll asks for events after it); 0 when none."""
    return max((int(e["id"]) for e in events), default=0)
