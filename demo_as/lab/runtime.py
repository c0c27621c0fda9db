"""The lab's per-app state (``app.state.lab``; None when the lab is off): the engine, the journal
limits, the lab secret, and which grading failures were already logged."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from demo_as.lab.journal import JournalLimits
from demo_as.lab.secret import load_or_create_lab_secret
from demo_as.settings import Settings

logger = logging.getLogger("demo_as.lab")


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


@dataclass
class LabRuntime:
    engine: Engine
    settings: Settings
    secret: str
    limits: JournalLimits
    logged_failures: set[tuple[str, str, tuple[int, ...]]] = field(default_factory=set)
    rs_dropped: dict[str, int] = field(default_factory=dict)
    grader: Grader = field(default_factory=Grader)


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
