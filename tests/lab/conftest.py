"""Fixtures for the lab tests: a real demo_as under uvicorn on an ephemeral loopback port
(tests/serving.py) with a real SQLite file per test."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from serving import serve_app

from demo_as.app import create_app
from demo_as.settings import Settings

RESOURCE = "http://127.0.0.1:8000/mcp"


@dataclass
class LabServer:
    url: str
    settings: Settings
    http: httpx2.Client
    app: Any

    @property
    def secret(self) -> str:
        return self.app.state.lab.secret

    def wait_graded(self, timeout: float = 15.0) -> None:
        """Until what was journaled so far is graded for the log lines (runtime.Grader: its
        passes wait for steps to settle, recorder.SETTLE_SECONDS)."""
        lab = self.app.state.lab
        lab.writer.flush()
        deadline = time.monotonic() + timeout
        while not lab.grader.idle():
            assert time.monotonic() < deadline, "the lab's grader did not finish"
            time.sleep(0.05)

    def report_rs(self, events: list[dict], **extra: Any) -> httpx2.Response:
        body = {"resource": RESOURCE, "dropped": 0, "consumed_probes": [], "events": events}
        body.update(extra)
        return self.http.post(
            "/lab/api/rs-events", json=body, headers={"Authorization": f"Bearer {self.secret}"}
        )


@contextlib.contextmanager
def running_lab(data_dir: Path, **overrides: Any) -> Iterator[LabServer]:
    """demo_as with setting overrides, served until the block exits."""
    holder: dict[str, Any] = {}

    def build(base_url: str):
        holder["settings"] = Settings(**{"issuer": base_url, "data_dir": data_dir, **overrides})
        holder["app"] = create_app(holder["settings"])
        return holder["app"]

    with (
        serve_app(build) as url,
        httpx2.Client(base_url=url, follow_redirects=False, timeout=20) as http,
    ):
        yield LabServer(url, holder["settings"], http, holder["app"])


@pytest.fixture
def start_lab(tmp_path: Path) -> Iterator[Callable[..., LabServer]]:
    """Start demo_as with setting overrides; all servers of a test share one data directory."""
    with contextlib.ExitStack() as stack:
        yield lambda **overrides: stack.enter_context(running_lab(tmp_path, **overrides))


@pytest.fixture
def lab(start_lab: Callable[..., LabServer]) -> LabServer:
    return start_lab()
