"""The grader's copy of each client's steps (demo_as/lab/grading_cache.py) on a real journal, on
SQLite and PostgreSQL: a copy is kept from a client's second grading on (most clients are graded
once), then only new rows are read, and every change new ids do not show (an older step
attributed later, retention, a row committed out of id order) makes the client be read again, so
the rules always see exactly what the journal holds. A new client is graded from the rows the
journal writer stored (SQLite, which names their ids), when the journal proves them whole."""

from __future__ import annotations

import time
from enum import StrEnum

import pytest
from sqlalchemy import delete, insert

from demo_as.db import create_db_engine
from demo_as.lab.grading_cache import StepsCache, step_of
from demo_as.lab.journal import (
    EVENTS,
    JournalLimits,
    NewEvent,
    attribute_earlier,
    client_rows,
    prune,
    store_events,
    write_events,
)


@pytest.fixture
def engine(database_url: str):
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def event(client_id: str | None, n: int, at: float | None = None, kind: str = "mcp-request"):
    detail = {"status": 200, "token_in": "header", "n": n}
    return NewEvent("rs", kind, f"call {n}", detail, client_id=client_id, at=at or time.time())


def journal_ids(engine, client_id: str) -> list[int]:
    """What the pages read (journal.client_rows): the order the rules must see."""
    return [int(row.id) for row in client_rows(engine, client_id)]


def cached_ids(cache: StepsCache, engine, client_id: str) -> list[int]:
    return [step.id for step in cache.steps_of(engine, [client_id])[client_id]]


def held_ids(cache: StepsCache, engine, client_id: str) -> list[int]:
    """Grade ``client_id`` until its copy is kept (its second grading)."""
    for _ in range(2):
        ids = cached_ids(cache, engine, client_id)
    assert client_id in cache.clients
    return ids


def test_a_copy_is_kept_from_the_second_grading_on(engine):
    cache = StepsCache()
    write_events(engine, None, [event("once", 0), event("twice", 0)])
    cache.steps_of(engine, ["once", "twice"])
    assert not cache.clients and cache.held == 0
    write_events(engine, None, [event("twice", 1)])
    cache.steps_of(engine, ["twice"])
    assert list(cache.clients) == ["twice"] and cache.held == 2
    assert cache.full_reads == 3
    write_events(engine, None, [event("twice", 2)])
    assert cached_ids(cache, engine, "twice") == journal_ids(engine, "twice")
    assert cache.full_reads == 3  # from the copy and the new row


def test_only_new_rows_are_read_once_a_copy_is_kept(engine):
    cache = StepsCache()
    write_events(engine, None, [event("a", i) for i in range(5)] + [event("b", 0)])
    assert held_ids(cache, engine, "a") == journal_ids(engine, "a")
    write_events(engine, None, [event("a", 5), event("b", 1), event("a", 6)])
    steps = cache.steps_of(engine, ["a", "b"])
    assert [s.id for s in steps["a"]] == journal_ids(engine, "a")
    assert [s.get("n") for s in steps["a"]] == [0, 1, 2, 3, 4, 5, 6]
    assert [s.id for s in steps["b"]] == journal_ids(engine, "b")
    assert cache.full_reads == 3  # "a" twice (kept at the second), "b" when first graded
    write_events(engine, None, [event("a", 7)])
    assert cached_ids(cache, engine, "a") == journal_ids(engine, "a")
    assert cache.full_reads == 3


def test_a_late_rs_step_takes_its_place_in_time(engine):
    cache = StepsCache()
    now = time.time()
    write_events(engine, None, [event("a", 0, at=now), event("a", 2, at=now + 2)])
    held_ids(cache, engine, "a")
    write_events(engine, None, [event("a", 1, at=now + 1)])  # reported after a later step
    steps = cache.steps_of(engine, ["a"])["a"]
    assert [s.get("n") for s in steps] == [0, 1, 2]
    assert [s.id for s in steps] == journal_ids(engine, "a")


def test_an_older_step_attributed_later_is_seen(engine):
    cache = StepsCache()
    now = time.time()
    unattributed = event(None, 0, at=now - 1, kind="challenge")
    unattributed.detail = {"status": 401, "error": None}
    write_events(engine, None, [unattributed, event("a", 1, at=now - 0.5)])
    before = held_ids(cache, engine, "a")
    with engine.begin() as db:  # the writer's inference: "a" showed itself after the 401
        attribute_earlier(db, {"at": now, "client_id": "a"})
    after = cached_ids(cache, engine, "a")
    assert len(after) == len(before) + 1
    assert after == journal_ids(engine, "a")


def test_steps_removed_by_retention_are_gone(engine):
    cache = StepsCache()
    write_events(engine, None, [event("a", i) for i in range(10)])
    held_ids(cache, engine, "a")
    with engine.begin() as db:
        prune(db, JournalLimits(max_events=4, max_age_seconds=3600), by_age=False)
    assert cached_ids(cache, engine, "a") == journal_ids(engine, "a")
    assert len(journal_ids(engine, "a")) == 4


def test_a_row_committed_below_the_newest_id_read_is_seen(engine):
    """PostgreSQL hands out ids before commit: another AS process may commit id 1 after this one
    read ids 2 and 3. (Here: a row inserted with the lower id after the copy was made.)"""
    cache = StepsCache()
    write_events(engine, None, [event("x", 0), event("a", 1), event("a", 2)])
    with engine.begin() as db:
        db.execute(delete(EVENTS).where(EVENTS.c.client_id == "x"))
    first = held_ids(cache, engine, "a")
    late = {"server": "rs", "kind": "mcp-request", "summary": "late commit", "detail": {}}
    with engine.begin() as db:
        db.execute(insert(EVENTS).values(id=min(first) - 1, at=time.time(), client_id="a", **late))
    assert cached_ids(cache, engine, "a") == journal_ids(engine, "a") == [*first, min(first) - 1]


def test_memory_is_bounded_least_recently_graded_first(engine):
    cache = StepsCache(max_steps=10)
    write_events(engine, None, [event(c, i) for c in "abc" for i in range(4)])
    write_events(engine, None, [event("big", i) for i in range(11)])
    for _ in range(2):  # kept from the second grading on
        cache.steps_of(engine, ["a", "b"])
    for _ in range(2):
        cache.steps_of(engine, ["c"])  # 12 steps held: "a" (graded longest ago) goes
    assert list(cache.clients) == ["b", "c"]
    assert cache.held == 8
    for _ in range(2):
        assert len(cache.steps_of(engine, ["big"])["big"]) == 11  # graded, never held
    assert "big" not in cache.clients and cache.held <= 10


class Mode(StrEnum):
    OMIT = "omit"


def offered(cache: StepsCache, engine, events: list[NewEvent]) -> None:
    """What the journal writer does with a batch (runtime.JournalWriter.run)."""
    cache.offer(store_events(engine, None, events))


def as_read(engine, client_id: str) -> list:
    """The client's steps as a full read makes them (journal.client_rows, step_of)."""
    return [step_of(row) for row in client_rows(engine, client_id)]


def test_a_new_client_is_graded_from_the_rows_the_writer_stored(engine, database_url):
    cache = StepsCache()
    offered(cache, engine, [event("a", 0), event("b", 0), event("a", 1)])
    later = event("a", 2)
    later.detail = {
        "scope": ("notes:read",),
        7: "seven",
        "nested": {"ids": (1, 2)},
        "mode": Mode.OMIT,
    }
    offered(cache, engine, [later])
    steps = cache.steps_of(engine, ["a"])["a"]
    assert steps == as_read(engine, "a")  # ids, order, and the details as the journal holds them
    assert steps[-1].detail == {
        "scope": ["notes:read"],
        "7": "seven",
        "nested": {"ids": [1, 2]},
        "mode": "omit",
    }
    assert type(steps[-1].detail["mode"]) is str
    if database_url.startswith("sqlite"):
        assert (cache.written_used, cache.full_reads) == (1, 0)
    else:  # PostgreSQL: the writer does not know the ids, the client is read
        assert (cache.written_used, cache.full_reads) == (0, 1)
    assert "a" not in cache.written  # taken by its grading


@pytest.mark.parametrize(
    "change", ["attributed earlier", "pruned", "stored without an offer", "offered late"]
)
def test_rows_the_writer_did_not_offer_make_the_client_be_read(engine, change):
    """A written copy the journal does not prove whole is not used: the client is read."""
    cache = StepsCache()
    now = time.time()
    unattributed = event(None, 0, at=now - 1, kind="challenge")
    unattributed.detail = {"status": 401, "error": None}
    write_events(engine, None, [unattributed])
    late = [event("a", 3, at=now - 0.2)]
    offered(cache, engine, [event("a", i, at=now - 0.9 + i / 10) for i in range(3)])
    if change == "attributed earlier":
        with engine.begin() as db:
            attribute_earlier(db, {"at": now, "client_id": "a"})
    elif change == "pruned":
        with engine.begin() as db:
            prune(db, JournalLimits(max_events=2, max_age_seconds=3600), by_age=False)
    elif change == "stored without an offer":  # (another process, or before this one started)
        write_events(engine, None, late)
    else:
        batch = store_events(engine, None, late)
    steps = cache.steps_of(engine, ["a"])["a"]
    assert steps == as_read(engine, "a")
    assert (cache.written_used, cache.full_reads) == (0, 1)
    if change == "offered late":  # after the grading: a copy of part of the client, not used
        cache.offer(batch)
        assert cache.steps_of(engine, ["a"])["a"] == as_read(engine, "a")
        assert (cache.written_used, cache.full_reads) == (0, 2)


def test_written_copies_are_bounded_and_skip_clients_the_grader_holds(
    engine, database_url, monkeypatch
):
    monkeypatch.setattr("demo_as.lab.grading_cache.MAX_WRITTEN_STEPS", 6)
    cache = StepsCache()
    write_events(engine, None, [event("held", 0)])
    held_ids(cache, engine, "held")
    offered(cache, engine, [event(c, i) for c in "abc" for i in range(2)] + [event("held", 1)])
    offered(cache, engine, [event("d", 0), event("d", 1)])
    if not database_url.startswith("sqlite"):
        assert not cache.written  # PostgreSQL: no ids, nothing offered is kept
        return
    assert list(cache.written) == ["b", "c", "d"]  # "a" was offered longest ago
    assert cache.written_held == 6
    steps = cache.steps_of(engine, ["a", "d", "held"])
    assert {c: steps[c] for c in steps} == {c: as_read(engine, c) for c in ("a", "d", "held")}
    assert cache.written_used == 1  # "d"; "a" was read, "held" brought up to date from its copy


def test_a_client_still_busy_at_its_first_grading_is_not_read_in_full_at_its_second(
    engine, database_url
):
    """Its copy goes back among the written ones (StepsCache.rewritten) and the writer's next
    rows join it; a client gone quiet is not put back."""
    cache = StepsCache()
    now = time.time()
    settled = now - 2
    offered(cache, engine, [event("quiet", 0, at=now - 10), event("busy", 0, at=now - 10)])
    offered(cache, engine, [event("busy", 1, at=now)])  # too recent to judge: graded again
    cache.steps_of(engine, ["quiet", "busy"], settled)
    assert list(cache.written) == ["busy"]
    offered(cache, engine, [event("busy", 2, at=now + 0.1)])
    assert cache.steps_of(engine, ["busy"], settled)["busy"] == as_read(engine, "busy")
    if database_url.startswith("sqlite"):
        assert (cache.written_used, cache.full_reads) == (3, 0)
    else:  # PostgreSQL: nothing is offered, so the copy put back is not whole
        assert (cache.written_used, cache.full_reads) == (0, 3)
    assert "busy" in cache.clients and not cache.written


def test_rows_offered_after_a_grading_read_them_are_not_counted_twice(engine):
    """The writer offers a batch only after storing it: a grading in between read its rows."""
    cache = StepsCache()
    now = time.time()
    batch = store_events(engine, None, [event("a", 0, at=now - 5), event("a", 1, at=now)])
    cache.steps_of(engine, ["a"], settled=now - 2)  # read in full, put back: "a" is busy
    cache.offer(batch)
    assert cache.steps_of(engine, ["a"])["a"] == as_read(engine, "a")
    assert (cache.written_used, cache.full_reads) == (1, 1)
