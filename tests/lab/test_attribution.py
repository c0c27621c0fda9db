"""Attribution by inference in the journal (journal.write_events): an unattributed step belongs
to the next client that shows itself at the AS within INFERENCE_WINDOW, whether the step was
stored before the client showed itself or arrives after it (RS batches lag), also in one batch."""

from __future__ import annotations

import time

from sqlalchemy import select

from demo_as.db import session
from demo_as.lab.journal import NewEvent, write_events
from demo_as.lab.models import LabEvent


def step(name: str, kind: str, at: float, client_id: str | None = None) -> NewEvent:
    server = "rs" if kind in ("mcp-request", "challenge", "tool-result") else "as"
    return NewEvent(server, kind, name, {}, client_id, "request" if client_id else None, at=at)


def attributions(engine) -> dict[str, tuple[str | None, str | None]]:
    with session(engine) as db:
        rows = db.exec(select(LabEvent)).scalars()
        return {row.summary: (row.client_id, row.attribution) for row in rows}


def test_unattributed_steps_go_to_the_next_client_shown(lab):
    engine, t = lab.app.state.engine, time.time() - 100
    write_events(
        engine,
        None,
        [step("too early", "tool-result", t - 40), step("stored before", "mcp-request", t - 10)],
    )
    stored = write_events(
        engine,
        None,
        [
            step("same batch, before", "prm-fetch", t),
            step("a shows itself", "registration", t + 1, "client-a"),
            step("lagging", "challenge", t + 0.5),  # stored after client-a showed itself
            step("before b", "metadata-fetch", t + 2),
            step("b shows itself", "authorization-request", t + 3, "client-b"),
            step("nobody after", "mcp-request", t + 40),
        ],
    )
    assert stored == 6
    assert attributions(engine) == {
        "too early": (None, None),  # more than INFERENCE_WINDOW before client-a
        "stored before": ("client-a", "inferred"),
        "same batch, before": ("client-a", "inferred"),
        "a shows itself": ("client-a", "request"),
        "lagging": ("client-a", "inferred"),
        "before b": ("client-b", "inferred"),
        "b shows itself": ("client-b", "request"),
        "nobody after": (None, None),
    }


def test_a_step_stored_after_the_client_showed_itself_is_inferred(lab):
    engine, t = lab.app.state.engine, time.time() - 100
    write_events(engine, None, [step("a shows itself", "authorization-request", t, "client-a")])
    write_events(engine, None, [step("lagging", "mcp-request", t - 5)])
    write_events(engine, None, [step("too late", "mcp-request", t - 31)])
    assert attributions(engine)["lagging"] == ("client-a", "inferred")
    assert attributions(engine)["too late"] == (None, None)


def test_a_lagging_step_goes_to_the_first_client_after_it_also_within_its_batch(lab):
    """The batch's own registration counts: a step listed after it but done before it belongs
    to it, not to a client stored earlier that showed itself later still."""
    engine, t = lab.app.state.engine, time.time() - 100
    write_events(engine, None, [step("a shows itself", "registration", t + 10, "client-a")])
    write_events(
        engine,
        None,
        [
            step("b shows itself", "registration", t + 5, "client-b"),
            step("lagging", "prm-fetch", t),
        ],
    )
    assert attributions(engine)["lagging"] == ("client-b", "inferred")
