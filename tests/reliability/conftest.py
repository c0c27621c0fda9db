"""Fixtures for the storage, concurrency and crash-safety tests of the AS.

``database_url`` is parametrized: every test that takes it runs once on SQLite (a file in the
test's temporary directory) and once on PostgreSQL (a fresh database in a throwaway cluster, see
``harness.postgres_cluster``). The AS gets the URL unchanged through ``--database-url``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.postgres_cluster import PostgresServer
from harness.postgres_cluster import postgres_server as start_postgres_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with start_postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'demo_as.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)
