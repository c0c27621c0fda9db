"""When the lab's grading thread (runtime.Grader) grades a client: a step that can be judged at
once gets a pass at once; one too recent to judge (runtime.SETTLE_SECONDS) gets its pass only
once it has settled, not one before that would grade nothing new; a client whose steps keep
coming is still graded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from demo_as.lab.runtime import SETTLE_SECONDS, Grader

Recorded = tuple[Grader, list[tuple[float, set[str]]], threading.Event]


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    """A grader whose passes are recorded: (when, the clients it was given)."""
    grader = Grader()
    grader.PAUSE = 0.05
    passes: list[tuple[float, set[str]]] = []
    graded = threading.Event()

    def grade(client_ids: set[str]) -> dict[str, float]:
        passes.append((time.time(), set(client_ids)))
        graded.set()
        return {}

    grader.grade = grade
    yield grader, passes, graded
    grader.close()


def test_a_settled_step_is_graded_at_once(recorded: Recorded) -> None:
    grader, passes, graded = recorded
    grader.schedule({"client-a": time.time() - SETTLE_SECONDS - 1})
    assert graded.wait(1.0)
    assert passes[0][1] == {"client-a"}


def test_a_recent_step_is_graded_once_it_has_settled_and_not_before(recorded: Recorded) -> None:
    grader, passes, graded = recorded
    at = time.time()
    grader.schedule({"client-a": at})
    assert graded.wait(SETTLE_SECONDS + 2.0)
    assert len(passes) == 1
    assert passes[0][0] >= at + SETTLE_SECONDS
    assert passes[0][1] == {"client-a"}


def test_a_client_whose_steps_keep_coming_is_graded_within_the_settling_time(
    recorded: Recorded,
) -> None:
    grader, passes, graded = recorded
    first = time.time()
    while not graded.is_set() and time.time() < first + SETTLE_SECONDS + 2.0:
        grader.schedule({"client-a": time.time()})  # a new step every 50 ms
        time.sleep(0.05)
    assert graded.is_set()
    assert passes[0][0] < first + SETTLE_SECONDS + 1.0
