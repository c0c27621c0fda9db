"""The lab's per-app state (``app.state.lab``; None when the lab is off): the engine, the journal
limits, the lab secret, and which grading failures were already logged."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from demo_as.lab.journal import JournalLimits, NewEvent, write_events
from demo_as.lab.probes import FIRED, active_probes
from demo_as.lab.secret import load_or_create_lab_secret
from demo_as.settings import Settings

logger = logging.getLogger("demo_as.lab")
PROBE_CHECK = 1.0


class Grader:
    """Grades clients off the request path: hooks ``schedule`` client ids, one daemon thread
    grades them (at most every ``PAUSE`` seconds, all pending at once) with ``grade``."""

    PAUSE = 0.2

    def __init__(self) -> None:
        self.grade: Callable[[set[str]], None] | None = None
        self.pending: set[str] = set()
        self.wake = threading.Condition()
        self.thread: threading.Thread | None = None

    def schedule(self, client_ids: set[str]) -> None:
        with self.wake:
            self.pending |= client_ids
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="lab-grader", daemon=True)
                self.thread.start()
            self.wake.notify()

    def run(self) -> None:
        while True:
            with self.wake:
                while not self.pending:
                    self.wake.wait()
            threading.Event().wait(self.PAUSE)
            with self.wake:
                batch, self.pending = self.pending, set()
            try:
                if self.grade is not None:
                    self.grade(batch)
            except Exception:  # a grading bug must not stop later grading
                logger.exception("lab: could not grade %d client(s)", len(batch))


class JournalWriter:
    """Writes AS events off the request path: hooks ``submit`` (never blocking; dropped with a
    log line when ``MAX_QUEUED`` are waiting), one daemon thread writes what is queued in one
    transaction per batch, so concurrent requests never queue for SQLite's write lock behind the
    journal. ``flush`` waits until everything submitted so far is stored (the JSON API calls it
    before reading). Events still queued when the process is killed are lost."""

    MAX_QUEUED = 10000
    MAX_BATCH = 500

    def __init__(self, engine: Engine, limits: JournalLimits, grader: Grader) -> None:
        self.engine, self.limits, self.grader = engine, limits, grader
        self.queue: queue.Queue[NewEvent] = queue.Queue(self.MAX_QUEUED)
        self.dropped = 0
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def submit(self, event: NewEvent) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="lab-journal", daemon=True)
                self.thread.start()
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            logger.warning("lab: journal queue full, %d events dropped so far", self.dropped)

    def flush(self) -> None:
        if self.thread is not None:
            self.queue.join()

    def run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                write_events(self.engine, self.limits, batch)
                self.grader.schedule({e.client_id for e in batch if e.client_id and e.graded})
            except Exception:  # the journal must never stop; this batch is lost
                logger.exception("lab: could not journal %d event(s)", len(batch))
            finally:
                for _ in batch:
                    self.queue.task_done()


@dataclass
class LabRuntime:
    engine: Engine
    settings: Settings
    secret: str
    limits: JournalLimits
    logged_failures: set[tuple[str, str, tuple[int, ...]]] = field(default_factory=set)
    rs_dropped: dict[str, int] = field(default_factory=dict)
    grader: Grader = field(default_factory=Grader)
    writer: JournalWriter = field(init=False)

    probes_checked: tuple[float, bool, int] = (0.0, True, -1)

    def __post_init__(self) -> None:
        self.writer = JournalWriter(self.engine, self.limits, self.grader)

    def probes_may_be_active(self) -> bool:
        """Whether any probe is active, read at most once per ``PROBE_CHECK`` seconds: a request
        that changes nothing never opens a second database connection for the lab (fifty
        parallel requests would exhaust the pool). A probe fired from another AS process takes
        effect within that time."""
        checked_at, active, fired = self.probes_checked
        if time.monotonic() - checked_at > PROBE_CHECK or fired != FIRED[0]:
            fired = FIRED[0]
            active = bool(active_probes(self.engine))
            self.probes_checked = (time.monotonic(), active, fired)
        return active


def install_lab_log_handler() -> None:
    """``demo-as``: the lab's lines (probes fired, rules failed) on stderr next to uvicorn's,
    at INFO, in uvicorn's format."""
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def create_lab_runtime(settings: Settings, engine: Engine) -> LabRuntime | None:
    """The lab's state for an app, or None when ``--no-lab``."""
    if not settings.lab:
        return None
    return LabRuntime(
        engine=engine,
        settings=settings,
        secret=load_or_create_lab_secret(settings.lab_secret, settings.data_dir),
        limits=JournalLimits(settings.lab_max_events, settings.lab_max_age_seconds),
    )
