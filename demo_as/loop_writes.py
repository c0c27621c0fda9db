"""Writing requests on the event loop (SQLite): no thread-pool hop when the write lock is free.

A sync endpoint that writes ran in the thread pool, and on this machine the hop (waking a
worker, handing the answer back to the loop) cost about a third of a refresh grant's CPU
(bench/profiling.md §4c). With SQLite such a request now runs in the event loop itself, on a
one-connection engine of its own, when it can take SQLite's write lock at once:

* ``BEGIN IMMEDIATE`` takes the write lock at the start (https://sqlite.org/lang_transaction.html),
  with a busy timeout of 0, so it either gets the lock now or fails now. It never waits, so the
  loop never stalls on a lock held by another thread or process. Once it holds the lock nothing
  in the transaction waits either: WAL readers do not block writers (https://sqlite.org/wal.html)
  and a commit in WAL mode needs no other lock.
* When the lock is taken (the lab's journal writer, another AS process, a request in the pool),
  the request waits for it without blocking the loop, trying again every millisecond, and after
  ``LOCK_WAIT`` runs in the thread pool exactly as before, waiting there with the usual 30 s
  busy timeout. Nothing of the request has run yet when that is decided: the transaction is
  begun before the handler is called.
* Requests on the loop run one at a time and never ``await`` inside the transaction, so the one
  connection is always free and two of them cannot interleave.
* While the loop holds the write lock, code on the loop that wrote through *another* connection
  would wait for a lock its own thread holds. The endpoints therefore send to the pool what
  could do that (``eligible``: a due purge, an active lab probe, a client ID metadata document
  to fetch), and ``guard_other_writes`` refuses such a write at once (an error instead of a 30 s
  stall) should one slip through, e.g. a probe fired in the same instant.

Any other database (PostgreSQL: reads and writes are network round trips) always uses the pool.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import create_engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from demo_as.db import _sqlite_pragmas
from demo_as.lab.catalog import ISS_PROBES

# The lab probes the AS's own hooks apply on the writing endpoints (hooks.iss_mode_for and
# hooks.access_token_lifetime): taking a ``once`` probe writes through the lab's connection.
RESPONSE_PROBES = (*ISS_PROBES, "short-token")

# How long a request waits on the loop for SQLite's write lock, trying every LOCK_RETRY seconds,
# before it goes to the thread pool to wait there with the busy timeout (another process's
# long transaction).
LOCK_WAIT = 0.1
LOCK_RETRY = 0.001
_on_loop = threading.local()  # .active: this thread holds the loop engine's write lock


class WriteWouldWait(RuntimeError):
    """A write through another connection while this thread holds the loop's write lock."""


class EventLoopWriter:
    """The one connection the event loop writes through, kept open (checking it out of a pool
    and back for every request cost more than the ``BEGIN``). Used by the loop thread only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def begin(self) -> Connection | None:
        """The connection with a write transaction begun (``BEGIN IMMEDIATE``), or None when
        another connection holds SQLite's write lock right now."""
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._connection = self.engine.connect()
        try:
            connection.begin()
        except (OperationalError, sqlite3.OperationalError):  # SQLITE_BUSY: another writer
            connection.rollback()
            return None
        return connection

    def end(self, connection: Connection) -> None:
        """After the request: what it did not commit is rolled back."""
        if connection.in_transaction():
            connection.rollback()

    def dispose(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()


def create_event_loop_writer(
    database_url: str, sqlite_synchronous: str = "normal", main_engine: Engine | None = None
) -> EventLoopWriter | None:
    """For a SQLite file: the loop's writer, on a one-connection engine whose transactions begin
    with ``BEGIN IMMEDIATE`` and never wait for a lock (busy timeout 0). None for other
    databases. ``main_engine`` (the app's) gets ``guard_other_writes``."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    engine = create_engine(
        database_url,
        # isolation_level None: pysqlite sends no BEGIN of its own; ours is IMMEDIATE.
        connect_args={"check_same_thread": False, "timeout": 0, "isolation_level": None},
        pool_size=1,
        max_overflow=0,
        pool_timeout=0,
    )
    event.listen(engine, "connect", functools.partial(_writer_pragmas, sqlite_synchronous))
    event.listen(engine, "begin", _begin_immediate)
    if main_engine is not None:
        event.listen(main_engine, "before_cursor_execute", guard_other_writes)
    return EventLoopWriter(engine)


def _writer_pragmas(synchronous: str, dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(synchronous, dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")  # fail at once instead of sleeping on the loop
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # Straight to the driver: through SQLAlchemy's execution path the BEGIN cost as much as a
    # query. A refused BEGIN leaves no transaction open.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


def guard_other_writes(
    _connection: Any, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
) -> None:
    """``before_cursor_execute`` of the app's engine: refuse a write from the thread that holds
    the loop's write lock (it would wait for itself until the busy timeout)."""
    if getattr(_on_loop, "active", False) and not statement.lstrip()[:6].upper() == "SELECT":
        raise WriteWouldWait("a write through a second connection inside an event-loop write")


def lab_probes_active(request: Request) -> bool:
    """Whether a lab probe that the writing endpoints' hooks would take is active (then the
    request runs in the pool: taking it may write)."""
    lab = getattr(request.app.state, "lab", None)
    return lab is not None and lab.probes.any_active(RESPONSE_PROBES)


def loop_connection(request: Request) -> Connection | None:
    """The connection of the request running on the loop (``run_writing``), else None."""
    return getattr(request.state, "loop_connection", None)


async def run_writing(
    request: Request, eligible: bool, handler: Callable[..., Response], *args: Any
) -> Response:
    """Run the sync ``handler(request, *args)``: on the loop in its own write transaction when
    ``eligible`` and the write lock is free, else in the thread pool (see the module docstring).
    The handler opens its store with ``store.connection_store``, which uses that transaction."""
    writer: EventLoopWriter | None = request.app.state.event_loop_writer
    connection = writer.begin() if eligible and writer is not None else None
    waited = 0.0
    while connection is None and eligible and writer is not None and waited < LOCK_WAIT:
        # Held by a short writer (the lab's journal batch): wait for it here, other requests
        # go on meanwhile. In the pool the request would sleep in SQLite's busy handler, and
        # the loop's next requests kept taking the lock from under it.
        await asyncio.sleep(LOCK_RETRY)
        waited += LOCK_RETRY
        connection = writer.begin()
    if connection is not None:
        request.state.loop_connection = connection
        _on_loop.active = True
        try:
            return handler(request, *args)
        finally:
            _on_loop.active = False
            request.state.loop_connection = None
            writer.end(connection)
    return await run_in_threadpool(handler, request, *args)
