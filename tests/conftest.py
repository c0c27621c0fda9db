"""Shared pytest configuration. Program-specific fixtures live in each test folder's conftest;
what several folders share is here: the storage backends (``database_url``: SQLite and
PostgreSQL), the real AS + RS ``stack`` (``harness.stack``; one per test module, a folder may
override it with other settings), ``make_stack`` for a stack with other AS settings, and ``http``,
a fresh user agent per test.

Helper modules that several test folders use (``serving.py``) sit in ``tests/`` and are importable
as top-level modules because ``pythonpath = ["tests"]`` is set in pyproject.toml.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from harness.backends import BACKENDS, fresh_database
from harness.postgres_cluster import PostgresServer
from harness.postgres_cluster import postgres_server as start_postgres_server
from harness.stack import Stack, running_stack, stack_builder

# Every test client registers from 127.0.0.1, far more often than the default per-address rate
# (demo_as/registration_bounds.py). Servers built in-process and started as subprocesses read
# this; tests of the rate itself pass their own value.
os.environ.setdefault("DEMO_AS_REGISTRATION_RATE_PER_MINUTE", "1000000")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the whole run (started on first use)."""
    with start_postgres_server() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty AS database for one test, once on SQLite and once on PostgreSQL."""
    yield from fresh_database(request, tmp_path)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A real AS + RS (``harness.stack``) shared by the tests of one module; every test registers
    its own clients, so tests do not see each other's state."""
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build a stack with different AS settings (closed at the end of the test)."""
    with stack_builder(tmp_path) as build:
        yield build


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    """A fresh user agent: its own cookie jar, never follows redirects (we inspect them)."""
    with httpx2.Client(timeout=30.0, follow_redirects=False) as client:
        yield client
