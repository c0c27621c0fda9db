"""Writing requests on the event loop (demo_as/loop_writes.py): with SQLite, /token, /register
and /authorize run in the event loop when they can take SQLite's write lock at once. A lock
held elsewhere (another process, the lab's journal writer) delays them, never the loop: other
requests keep being answered, and the delayed one completes once the lock is free (in the
thread pool, with the usual busy timeout, when the wait is longer than ``LOCK_WAIT``)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx2
import pytest
from authorization_server.as_toolbox import RESOURCE
from harness.oauth_flow import issue_tokens, refresh
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from demo_as import loop_writes
from demo_as.db import create_db_engine


def hold_write_lock(database: Path, seconds: float, held: threading.Event) -> threading.Thread:
    """Another connection (as another process would) holding SQLite's write lock."""

    def hold() -> None:
        connection = sqlite3.connect(database, timeout=5)
        connection.isolation_level = None
        connection.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        connection.execute("ROLLBACK")
        connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(5)
    return thread


def test_a_held_write_lock_delays_the_writes_not_the_other_requests(start_server) -> None:
    server = start_server(auto_approve=True)
    as_url = server.base_url
    client, _request, tokens = issue_tokens(server.http, as_url, RESOURCE)
    database = Path(server.settings.effective_database_url.removeprefix("sqlite:///"))
    hold_seconds = 1.0
    assert hold_seconds > loop_writes.LOCK_WAIT * 5  # long enough to reach the pool path too
    results: dict[str, httpx2.Response] = {}

    def refresh_now() -> None:
        with httpx2.Client(timeout=20) as http:
            results["refresh"] = refresh(http, as_url, client["client_id"], tokens["refresh_token"])

    def register_now() -> None:
        with httpx2.Client(timeout=20) as http:
            results["register"] = http.post(
                f"{as_url}/register",
                json={"redirect_uris": ["http://127.0.0.1:33418/callback"]},
            )

    lock = hold_write_lock(database, hold_seconds, threading.Event())
    started = time.monotonic()
    writers = [threading.Thread(target=refresh_now), threading.Thread(target=register_now)]
    for writer in writers:
        writer.start()
    # While both wait for the lock, the loop answers everything else at once.
    for _ in range(5):
        asked = time.monotonic()
        assert server.http.get("/.well-known/oauth-authorization-server").status_code == 200
        assert time.monotonic() - asked < 0.5
    for writer in writers:
        writer.join(20)
    lock.join(5)
    assert time.monotonic() - started >= hold_seconds * 0.9  # they did wait for the lock
    assert results["refresh"].status_code == 200, results["refresh"].text
    assert results["refresh"].json()["refresh_token"] != tokens["refresh_token"]
    assert results["register"].status_code == 201, results["register"].text


def test_inside_a_loop_write_a_second_connection_may_read_but_never_waits_to_write(tmp_path):
    """While the loop holds SQLite's write lock, a write through the app's engine from the same
    thread would wait for that thread itself (30 s busy timeout): it is refused at once."""
    url = f"sqlite:///{tmp_path / 'demo_as.db'}"
    engine = create_db_engine(url)
    writer = loop_writes.create_event_loop_writer(url, "normal", engine)
    assert writer is not None
    app = SimpleNamespace(state=SimpleNamespace(event_loop_writer=writer))
    request = Request({"type": "http", "app": app, "headers": [], "state": {}})
    seen: dict[str, object] = {}

    def handler(request: Request) -> Response:
        connection = loop_writes.loop_connection(request)
        assert connection is not None and connection.in_transaction()
        with engine.connect() as other:
            seen["read"] = other.execute(text("SELECT count(*) FROM client")).scalar()
            started = time.monotonic()
            with pytest.raises(loop_writes.WriteWouldWait):
                other.execute(text("DELETE FROM client"))
            seen["refused_after"] = time.monotonic() - started
        return Response("ok")

    response = asyncio.run(loop_writes.run_writing(request, True, handler))
    assert response.body == b"ok"
    assert seen["read"] == 0
    assert seen["refused_after"] < 1.0
    with engine.connect() as other:  # outside a loop write the same statement runs
        other.execute(text("DELETE FROM client"))
        other.commit()
    writer.dispose()
    engine.dispose()
