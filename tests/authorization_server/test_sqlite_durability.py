"""SQLite runs in WAL mode with synchronous=NORMAL by default, FULL on request."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from demo_as.db import create_db_engine

SYNCHRONOUS_LEVELS = {1: "normal", 2: "full"}  # https://sqlite.org/pragma.html#pragma_synchronous


@pytest.mark.parametrize("mode", ["normal", "full"])
def test_every_connection_gets_wal_and_the_chosen_synchronous_level(
    tmp_path: Path, mode: str
) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'as.db'}", mode)
    try:
        with engine.connect() as connection:
            journal = connection.execute(text("PRAGMA journal_mode")).scalar()
            level = connection.execute(text("PRAGMA synchronous")).scalar()
    finally:
        engine.dispose()
    assert journal == "wal"
    assert SYNCHRONOUS_LEVELS[int(level)] == mode


def test_an_index_missing_from_an_earlier_database_is_created_on_open(tmp_path: Path) -> None:
    """A database made before an index existed (``create_all`` only makes missing tables)."""
    url = f"sqlite:///{tmp_path / 'as.db'}"
    create_db_engine(url).dispose()
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_lab_event_kind_at"))
        engine.dispose()
        engine = create_db_engine(url)
        with engine.connect() as connection:
            names = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'index'")
            ).scalars()
            assert "ix_lab_event_kind_at" in set(names)
    finally:
        engine.dispose()
