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


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def fresh_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{directory / 'demo_as.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty AS database for one test."""
    yield from fresh_database(request, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One AS database shared by the tests of a module (servers started once per backend)."""
    yield from fresh_database(request, tmp_path_factory.mktemp("db"))
