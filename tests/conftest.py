"""Shared pytest configuration. Program-specific fixtures live in each test folder's conftest;
the storage backends (``database_url``: SQLite and PostgreSQL) are shared by several folders.

Helper modules that several test folders use (``serving.py``) sit in ``tests/`` and are importable
as top-level modules because ``pythonpath = ["tests"]`` is set in pyproject.toml.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.backends import BACKENDS, fresh_database
from harness.postgres_cluster import PostgresServer
from harness.postgres_cluster import postgres_server as start_postgres_server

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
