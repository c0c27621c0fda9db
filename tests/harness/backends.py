"""The AS's two database backends as a pytest parameter: a SQLite file, or a fresh database in
the throwaway PostgreSQL cluster (``harness.postgres_cluster``). Test folders that run a test on
both declare the ``postgres_server`` fixture (session scope) and parametrize with ``BACKENDS``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .postgres_cluster import PostgresServer

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def fresh_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A fresh, empty AS database URL for ``request.param`` (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{directory / 'demo_as.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)
