"""Fixtures for the storage, concurrency and crash-safety tests of the AS.

``database_url`` (tests/conftest.py) and ``module_database_url`` are parametrized: every test that
takes one runs once on SQLite (a file in the test's temporary directory) and once on PostgreSQL (a
fresh database in a throwaway cluster, see ``harness.postgres_cluster``). The AS gets the URL
unchanged through ``--database-url``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness.backends import BACKENDS, fresh_database


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One AS database shared by the tests of a module (servers started once per backend)."""
    yield from fresh_database(request, tmp_path_factory.mktemp("db"))
