"""Look at the AS's database from the outside, the way an auditor would.

"No side effect" in the attack tests means: after the refused request, every table holds exactly
the rows it held before. The tables are discovered by reflection, so a table the AS adds later is
covered without changing the tests. The one exception is the lab's journal (``lab_event``): its
job is to record every request, refused ones included (bounded, fingerprints only); it is no
protocol state, and tests/lab checks what it records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy
from sqlalchemy.engine import Engine

JOURNAL_TABLES = ("lab_event",)


def open_engine(database_url: str) -> Engine:
    """A second, independent engine on the AS's database (SQLite file or PostgreSQL)."""
    if database_url.startswith("sqlite"):
        return sqlalchemy.create_engine(database_url, connect_args={"timeout": 30})
    return sqlalchemy.create_engine(database_url)


def hashable(row: object) -> tuple:
    """A row as a hashable tuple (JSON columns come back as lists and dicts)."""
    return tuple(
        json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        for value in row  # type: ignore[attr-defined]
    )


def table_rows(engine: Engine) -> dict[str, set[tuple]]:
    """Every row of every table, as sets of tuples keyed by table name."""
    metadata = sqlalchemy.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {
            name: {hashable(row) for row in conn.execute(sqlalchemy.select(table))}
            for name, table in metadata.tables.items()
        }


def count(engine: Engine, table: str, where: str = "", **params: object) -> int:
    """``SELECT count(*) FROM table [WHERE ...]`` with bound parameters."""
    sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
    with engine.connect() as conn:
        return conn.execute(sqlalchemy.text(sql), params).scalar_one()


@contextmanager
def unchanged(engine: Engine, *, ignore: tuple[str, ...] = ()) -> Iterator[None]:
    """Assert that the block leaves every table (except ``ignore`` and the lab's journal) exactly
    as it was."""
    before = table_rows(engine)
    yield
    after = table_rows(engine)
    for name in sorted(set(before) | set(after)):
        if name in ignore or name in JOURNAL_TABLES:
            continue
        added = after.get(name, set()) - before.get(name, set())
        removed = before.get(name, set()) - after.get(name, set())
        assert not added and not removed, (
            f"table {name!r} changed: added {sorted(added, key=repr)[:3]} "
            f"removed {sorted(removed, key=repr)[:3]}"
        )
