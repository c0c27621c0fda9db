"""A round of the story: its record, and the differences between what it saw and what its
rule requires.

`Round` is one row of the story's table (`story.ROUNDS`). `Expect` reads the events a round
produced (`events.EventKind`) and collects problems; a round behaved as expected when it
collected none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from demo_client.events import Event, EventKind


class Expect:
    """Collects the differences between what a round did and what its rule requires."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.problems: list[str] = []

    def that(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)

    def of(self, kind: EventKind) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.kind == kind]

    def statuses(self, tool: str) -> list[int]:
        return [d["status"] for d in self.of(EventKind.MCP_RESPONSE) if d.get("tool") == tool]

    def challenges(self, status: int) -> list[dict[str, Any]]:
        return [
            d["challenge"]
            for d in self.of(EventKind.MCP_RESPONSE)
            if d["status"] == status and "challenge" in d
        ]

    def requested(self) -> list[list[str]]:
        return [d["requested"] for d in self.of(EventKind.AUTHORIZATION_REQUEST)]

    def granted(self) -> list[list[str]]:
        return [d["granted"] for d in self.of(EventKind.TOKENS)]


RoundSession = Literal["shared", "own"]


@dataclass(frozen=True)
class Round:
    """One round of the story. `session`: "shared" rounds run one after another in the one
    MCP session the story opens with no token; an "own" round opens its own sessions.
    `needs_consent`: the round is about what the user chooses on the consent page."""

    title: str
    rule: str
    step: Callable[[Any, Expect], Awaitable[None]]  # a Story method
    session: RoundSession
    needs_consent: bool = False
