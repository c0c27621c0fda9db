"""The store's prebuilt statements (queries.py) run on SQLite's own driver, for the requests on
the event loop.

A request on the event loop (loop_writes.py) runs a dozen statements through one SQLite
connection. Through SQLAlchemy's ``Connection.execute`` each one paid for an execution context,
its parameters' processing and a result object: more than the SQL itself, about a fifth of a
new client's first token on this machine (bench/profiling.md §7). ``DriverConnection`` runs the
same statements on the connection's ``sqlite3`` driver instead:

* **The SQL is SQLAlchemy's.** Each statement of queries.py is compiled once, for SQLite with
  named parameters, the first time it runs; nothing here writes SQL.
* **The values are SQLAlchemy's.** Parameters and result columns go through the converters of
  their column types as SQLAlchemy would run them (the JSON columns: ``json.dumps`` in,
  ``json.loads`` out); a constant in a statement (``status = 'active'``) is its compiled value.
* **The rows read as SQLAlchemy's do**: by column name (``row.client_id``) and as tuples.
* **The errors are SQLAlchemy's**: a ``sqlite3`` error is raised as the ``sqlalchemy.exc``
  class SQLAlchemy raises for it (``OperationalError`` for a locked database, so errors.py
  answers it the same).
* **The transaction is the connection's**: statements run inside the transaction the
  connection has begun, and ``commit``/``rollback`` go through SQLAlchemy, which keeps its own
  state of that transaction.

Any other statement (one built per call, e.g. housekeeping's purges) and a prebuilt ``INSERT``
given other columns than all of its table's go through SQLAlchemy unchanged. Used only on the
event loop's own connections (loop_writes.EventLoopWriter, revocation_reads.py): the app's
engine keeps SQLAlchemy's path and its ``before_cursor_execute`` guard (loop_writes.py).
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from demo_as import queries

DIALECT = sqlite.dialect(paramstyle="named")

# The statements this module may run: the ones built once at import (queries.py). They live as
# long as the process, so their ids never name another object.
PREBUILT: dict[int, Executable] = {
    id(value): value for value in vars(queries).values() if isinstance(value, Executable)
}


@dataclass
class CompiledStatement:
    """One prebuilt statement, compiled for SQLite."""

    sql: str
    required: frozenset[str]  # the parameters the caller must give, no more, no fewer
    constants: dict[str, Any]  # values compiled into the statement (``status = 'active'``)
    bind_converters: tuple[tuple[str, Callable[[Any], Any]], ...]
    returns_rows: bool
    result_converters: tuple[tuple[int, Callable[[Any], Any]], ...]
    # Its rows' type, named as SQLAlchemy names them: by the result columns of the SQL
    # (``count_1`` for ``count(*) AS count_1``); made from the first execution's description.
    row_type: Any = None


def compiled(statement: Executable) -> CompiledStatement:
    """``statement`` compiled for SQLite, with its columns' type converters."""
    compiled_statement = statement.compile(dialect=DIALECT)
    binds = compiled_statement.binds
    required = frozenset(name for name in compiled_statement.params if binds[name].required)
    constants = {
        name: value for name, value in compiled_statement.params.items() if name not in required
    }
    bind_converters = tuple(
        (name, converter)
        for name in compiled_statement.params
        if (converter := binds[name].type.dialect_impl(DIALECT).bind_processor(DIALECT))
    )
    columns = list(getattr(statement, "selected_columns", []))
    result_converters = tuple(
        (index, converter)
        for index, column in enumerate(columns)
        if (converter := column.type.dialect_impl(DIALECT).result_processor(DIALECT, None))
    )
    return CompiledStatement(
        compiled_statement.string,
        required,
        constants,
        bind_converters,
        bool(columns),
        result_converters,
    )


_COMPILED: dict[int, CompiledStatement] = {}


def compiled_prebuilt(statement: Executable) -> CompiledStatement | None:
    """The compiled form of a statement of queries.py (compiled on first use), else None."""
    key = id(statement)
    found = _COMPILED.get(key)
    if found is None and key in PREBUILT:
        found = _COMPILED[key] = compiled(PREBUILT[key])
    return found


class DriverResult:
    """What ``Connection.execute`` returns, for the parts the store reads: the rows
    (``first``, ``all``, ``scalar``, ``scalar_one``, ``scalars().all()``) and ``rowcount``."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return self._rows

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]

    def scalars(self) -> DriverResult:
        return DriverResult([row[0] for row in self._rows], self.rowcount)


class DriverConnection:
    """A SQLite ``Connection`` whose prebuilt statements run on its ``sqlite3`` driver (see the
    module docstring); everything else is the ``Connection``'s."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.driver: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]

    def execute(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Any:
        found = compiled_prebuilt(statement)
        given = parameters or {}
        if found is None or given.keys() != found.required:
            return self.connection.execute(statement, parameters)
        return run(self.driver, found, given)

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


def run(driver: sqlite3.Connection, found: CompiledStatement, given: Mapping[str, Any]) -> Any:
    """Execute ``found`` with ``given`` on ``driver``: a ``DriverResult``."""
    values = {**found.constants, **given} if found.constants else dict(given)
    for name, converter in found.bind_converters:
        values[name] = converter(values[name])
    try:
        cursor = driver.execute(found.sql, values)
        raw = cursor.fetchall() if found.returns_rows else []
    except sqlite3.Error as error:
        raise DBAPIError.instance(found.sql, values, error, sqlite3.Error) from error
    if not found.returns_rows:
        return DriverResult([], cursor.rowcount)
    if found.row_type is None:
        names = [column[0] for column in cursor.description]
        found.row_type = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    make = found.row_type._make
    converters = found.result_converters
    if not converters:
        return DriverResult([make(row) for row in raw], cursor.rowcount)
    rows = []
    for row in raw:
        columns = list(row)
        for index, converter in converters:
            columns[index] = converter(columns[index])
        rows.append(make(columns))
    return DriverResult(rows, cursor.rowcount)
