"""The lab's per-app state (``app.state.lab``; None when the lab is off): the engine, the journal
limits, the lab secret, and which grading failures were already logged."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from demo_as.lab.grading_cache import StepsCache
from demo_as.lab.journal import JournalLimits, NewEvent, Repeats, label_repeats, store_events
from demo_as.lab.probes import FIRED, active_probes
from demo_as.lab.secret import load_or_create_lab_secret
from demo_as.private_files import private_directory
from demo_as.settings import Settings

logger = logging.getLogger("demo_as.lab")
PROBE_CHECK = 1.0
# How long after a step the log lines grade it: the RS's report interval (0.5 s), its POST
# and the journal writer's linger (JournalWriter.LINGER), with room to spare.
# recorder.settled_steps says why.
SETTLE_SECONDS = 2.0


class Grader:
    """Grades clients off the request path: the journal writer ``schedule``s the clients of
    the steps that can make a rule fail (report.may_fail_a_rule: not a busy client's accepted
    calls), one daemon thread grades them (all pending at once) with ``grade``, for the log
    lines of newly failed rules (pages and the API grade on read, so they never wait for this
    thread).

    Grading looks at all of a client's steps (grading_cache.StepsCache reads only the new ones:
    about 3 µs of CPU per step, 15 ms a pass for 32 clients with 150 steps each), so a busy
    client costs more each pass. The thread therefore rests ``PAUSE`` seconds, or
    ``REST_FACTOR`` times as long as its last pass took, whichever is longer: grading takes at
    most a tenth of a core however busy the clients, and about 2 % for a workshop's worth of
    clients refreshing all the time. A log line waits for its steps to settle (2 s) anyway, so
    the pause costs it little.

    ``grade`` returns the clients it could not grade to the end yet (steps too recent to judge:
    ``SETTLE_SECONDS`` says why), each with the wall-clock time from which it can: the thread
    grades them again then (``deferred``), without a new event asking for it. A client whose
    new steps are all that recent is deferred so from the start."""

    PAUSE = 1.0
    REST_FACTOR = 9.0

    def __init__(self) -> None:
        self.grade: Callable[[set[str]], dict[str, float]] | None = None
        self.pending: set[str] = set()
        self.deferred: dict[str, float] = {}  # client_id -> wall time it can be graded again
        self.passing = False  # a pass is grading what it took from ``pending``
        self.wake = threading.Condition()
        self.thread: threading.Thread | None = None
        self.closed = threading.Event()
        self.grading = threading.Lock()  # held for a pass: close() waits for it to end

    def schedule(self, newest: dict[str, float]) -> None:
        """Grade these clients, each given the time of its newest new step: at the next pass,
        or, while that step is too recent to be judged (``SETTLE_SECONDS``), once it can be
        (a pass before then would grade nothing new). A clock ahead of ours counts as now."""
        now = time.time()
        with self.wake:
            if self.closed.is_set():
                return
            for client_id, at in newest.items():
                ready = min(at, now) + SETTLE_SECONDS
                if ready <= now:
                    self.pending.add(client_id)
                else:  # the earliest due wins: a busy client is not put off for ever
                    self.deferred[client_id] = min(ready, self.deferred.get(client_id, ready))
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="lab-grader", daemon=True)
                self.thread.start()
            self.wake.notify()

    def close(self) -> None:
        """No pass starts after this returns, and none is running (the app's engine can be
        disposed and its files removed)."""
        with self.wake:
            self.closed.set()
            self.wake.notify()
        with self.grading:
            pass

    def idle(self) -> bool:
        """No pass is running and nothing waits to be graded, now or later."""
        with self.wake:
            return not (self.pending or self.deferred or self.passing)

    def wait_for_work(self) -> None:
        """Until a client is pending (a deferred one counts from its time on) or close()."""
        with self.wake:
            while not self.closed.is_set():
                now = time.time()
                due = {c for c, at in self.deferred.items() if at <= now}
                for client_id in due:
                    del self.deferred[client_id]
                self.pending |= due
                if self.pending:
                    return
                soonest = min(self.deferred.values(), default=None)
                self.wake.wait(None if soonest is None else soonest - now)

    def run(self) -> None:
        last_pass = 0.0
        while not self.closed.is_set():
            self.wait_for_work()
            self.closed.wait(max(self.PAUSE, self.REST_FACTOR * last_pass))
            with self.grading:
                if self.closed.is_set():
                    return
                with self.wake:
                    batch, self.pending, self.passing = self.pending, set(), True
                started = time.thread_time()
                later: dict[str, float] = {}
                try:
                    if self.grade is not None:
                        later = self.grade(batch)
                except Exception:  # a grading bug must not stop later grading
                    logger.exception("lab: could not grade %d client(s)", len(batch))
                with self.wake:
                    for client_id, at in later.items():
                        self.deferred[client_id] = max(at, self.deferred.get(client_id, at))
                    self.passing = False
                last_pass = time.thread_time() - started


class JournalWriter:
    """Writes AS events off the request path: hooks ``submit`` (never blocking; dropped with a
    log line when ``MAX_QUEUED`` are waiting), one daemon thread writes what is queued in one
    transaction per batch, so concurrent requests never queue for SQLite's write lock behind the
    journal. ``flush`` waits until everything submitted so far is stored (the JSON API and the
    pages call it before reading). Events still queued when the process is killed are lost.

    A batch waits ``LINGER`` seconds after its first event for more (or until ``MAX_BATCH`` are
    queued, or a ``flush`` waits): writing each event in a transaction of its own cost the AS
    about 1 ms of CPU per event, as much as the request it described, while 50 events in one
    transaction cost about 70 µs each. ``submit`` takes one uncontended lock and wakes the
    writer only for the first event of a batch (or a full one)."""

    MAX_QUEUED = 10000
    MAX_BATCH = 500
    LINGER = 0.25

    def __init__(
        self, engine: Engine, limits: JournalLimits, grader: Grader, steps_cache: StepsCache
    ) -> None:
        self.engine, self.limits, self.grader = engine, limits, grader
        self.steps_cache = steps_cache  # offered what is stored: the grader need not read it
        self.queued: deque[NewEvent] = deque()
        self.repeats = Repeats()  # of the queued events: repeats merge as they are submitted
        self.wake = threading.Condition()
        self.submitted = 0  # events accepted so far
        self.handled = 0  # of those, written (or lost with their batch)
        self.waiting = 0  # flush calls waiting: the batch is written without lingering
        self.dropped = 0
        self.thread: threading.Thread | None = None
        self.closed = False

    def submit(self, event: NewEvent) -> bool:
        """Queue ``event``; False when it was dropped (queue full, or shutting down)."""
        with self.wake:
            if self.closed:
                return False  # the app is shutting down: its database is about to be closed
            full = len(self.queued) >= self.MAX_QUEUED
            if not full:
                if self.repeats.absorbs(event):
                    return True  # counted in a queued event: handled with it
                self.queued.append(event)
                self.submitted += 1
                if self.thread is None:
                    self.thread = threading.Thread(target=self.run, name="lab-journal", daemon=True)
                    self.thread.start()
                if len(self.queued) in (1, self.MAX_BATCH):
                    self.wake.notify_all()
                return True
            self.dropped += 1
            dropped = self.dropped
        logger.warning("lab: journal queue full, %d events dropped so far", dropped)
        return False

    def flush(self) -> None:
        with self.wake:
            target = self.submitted
            if self.handled >= target:
                return
            self.waiting += 1
            self.wake.notify_all()
            try:
                while self.handled < target:
                    self.wake.wait()
            finally:
                self.waiting -= 1

    def close(self) -> None:
        """Store what is queued and accept nothing more."""
        with self.wake:
            self.closed = True
            self.wake.notify_all()
        self.flush()

    def next_batch(self) -> list[NewEvent]:
        with self.wake:
            while not self.queued:
                self.wake.wait()
            self.wake.wait_for(self.write_now, self.LINGER)
            count = min(len(self.queued), self.MAX_BATCH)
            self.repeats = Repeats()  # nothing merges into an event once it is taken
            return [self.queued.popleft() for _ in range(count)]

    def write_now(self) -> bool:
        return self.waiting > 0 or self.closed or len(self.queued) >= self.MAX_BATCH

    def run(self) -> None:
        while True:
            batch = self.next_batch()
            try:
                stored = store_events(self.engine, self.limits, label_repeats(batch))
                self.steps_cache.offer(stored)
                newest: dict[str, float] = {}
                for event in batch:
                    if event.client_id and event.graded:
                        newest[event.client_id] = max(event.at, newest.get(event.client_id, 0.0))
                self.grader.schedule(newest)
            except Exception:  # the journal must never stop; this batch is lost
                logger.exception("lab: could not journal %d event(s)", len(batch))
            finally:
                with self.wake:
                    self.handled += len(batch)
                    self.wake.notify_all()


@dataclass
class LabRuntime:
    engine: Engine
    settings: Settings
    secret: str
    limits: JournalLimits
    logged_failures: set[tuple[str, str]] = field(default_factory=set)
    rs_dropped: dict[str, int] = field(default_factory=dict)
    grader: Grader = field(default_factory=Grader)
    steps_cache: StepsCache = field(default_factory=StepsCache)  # the grader's (and offer)
    writer: JournalWriter = field(init=False)

    probes: ProbeSnapshot = field(init=False)

    def __post_init__(self) -> None:
        self.writer = JournalWriter(self.engine, self.limits, self.grader, self.steps_cache)
        self.probes = ProbeSnapshot(self.engine)

    def close(self) -> None:
        """At app shutdown: the queued events are stored, then no lab thread touches the
        database again (so the engine can be disposed and a temporary data directory removed)."""
        self.writer.close()
        self.grader.close()


class ProbeSnapshot:
    """Which probes are active, as ``(probe, client_id)`` pairs, reread at most once per
    ``PROBE_CHECK`` seconds (at once when this process fired one) by ONE request at a time.

    Why: a request already holds a database connection. If every concurrent request opened a
    second one to look for probes, 15 of them would hold the whole pool and wait for a 16th
    connection that never frees (a 30 s stall, then errors). So the other requests use the last
    snapshot, and only a request whose client a probe targets opens a connection to take it. A
    probe fired from another AS process takes effect within ``PROBE_CHECK`` seconds."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.active: frozenset[tuple[str, str | None]] = frozenset()
        self.checked_at = -PROBE_CHECK
        self.fired = -1
        self.lock = threading.Lock()

    def may_apply(self, kinds: tuple[str, ...], client_id: str) -> bool:
        self._refresh_if_due()
        return any(probe in kinds and target in (None, client_id) for probe, target in self.active)

    def any_active(self, kinds: tuple[str, ...]) -> bool:
        """Whether a probe of ``kinds`` is active for any client (or all)."""
        self._refresh_if_due()
        return any(probe in kinds for probe, _target in self.active)

    def _refresh_if_due(self) -> None:
        due = time.monotonic() - self.checked_at > PROBE_CHECK or self.fired != FIRED[0]
        if not due or not self.lock.acquire(blocking=False):
            return  # fresh, or another request is rereading it right now
        try:
            fired = FIRED[0]
            self.active = frozenset((p.probe, p.client_id) for p in active_probes(self.engine))
            self.checked_at, self.fired = time.monotonic(), fired
        finally:
            self.lock.release()


def create_lab_runtime(settings: Settings, engine: Engine) -> LabRuntime | None:
    """The lab's state for an app, or None when ``--no-lab``."""
    if not settings.lab:
        return None
    if settings.lab_secret_file is None:
        private_directory(settings.data_dir)  # the secret's default home is the AS's own
    return LabRuntime(
        engine=engine,
        settings=settings,
        secret=load_or_create_lab_secret(settings.lab_secret, settings.lab_secret_path),
        limits=JournalLimits(settings.lab_max_events, settings.lab_max_age_seconds),
    )
