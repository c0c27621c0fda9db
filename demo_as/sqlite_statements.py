"""Prebuilt statements (queries.py, the lab journal's) run on SQLite's own driver, for the
requests on the event loop and the lab's journal writer.

A request on the event loop (loop_writes.py) runs a dozen statements through one SQLite
connection. Through SQLAlchemy's ``Connection.execute`` each one paid for an execution context,
its parameters' processing and a result object: more than the SQL itself, a quarter of the
samples of a new client's first token (bench/profiling.md §7). ``DriverConnection`` runs the
same statements on the connection's ``sqlite3`` driver instead:

* **The SQL is SQLAlchemy's.** Each prebuilt statement is compiled once, for SQLite with
  named parameters, the first time it runs (an ``IN`` of a constant list expanded as
  SQLAlchemy expands it); nothing here writes SQL.
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

Any other statement (one built per call, e.g. housekeeping's purges; an ``IN`` whose list the
caller gives) and a prebuilt ``INSERT`` given other columns than all of its table's (but an
autoincrement key) go through SQLAlchemy unchanged. Used on the event
loop's own connections (loop_writes.EventLoopWriter, revocation_reads.py) and by the lab's
journal writer on its thread (lab/journal.py, which ``register``s its statements); the requests
in the thread pool keep SQLAlchemy's path and its ``before_cursor_execute`` guard
(loop_writes.py), which only the event loop's thread needs.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.sql import Executable

from demo_as import queries

DIALECT = sqlite.dialect(paramstyle="named")

# The statements this module may run: the ones built once at import, queries.py's and those a
# module ``register``s (the lab's journal). They live as long as the process, so their ids never
# name another object.
PREBUILT: dict[int, Executable] = {
    id(value): value for value in vars(queries).values() if isinstance(value, Executable)
}


def register(*statements: Executable) -> None:
    """Let ``statements`` (module-level: built once, kept for the process's life) run on the
    driver too."""
    PREBUILT.update((id(statement), statement) for statement in statements)


@dataclass
class CompiledStatement:
    """One prebuilt statement, compiled for SQLite."""

    sql: str
    required: frozenset[str]  # the parameters the caller must give, no more, no fewer
    constants: dict[str, Any]  # values compiled in (``status = 'active'``), converted
    bind_converters: tuple[tuple[str, Callable[[Any], Any]], ...]  # of the required ones
    returns_rows: bool
    result_converters: tuple[tuple[int, Callable[[Any], Any]], ...]
    # Its rows' type, named as SQLAlchemy names them: by the result columns of the SQL
    # (``count_1`` for ``count(*) AS count_1``); made from the first execution's description.
    row_type: Any = None


class NotOnTheDriver(ValueError):
    """A statement this module does not run: an ``IN`` whose list the caller gives."""


def compiled(statement: Executable) -> CompiledStatement:
    """``statement`` compiled for SQLite, with its columns' type converters. An ``INSERT``
    takes every column of its table but an autoincrement key (the database numbers the row);
    an ``IN`` of a constant list (``kind IN ('challenge', ...)``) is expanded once, as
    SQLAlchemy expands it at each execution."""
    column_keys = None
    if getattr(statement, "is_insert", False):
        table = statement.table  # type: ignore[attr-defined]
        column_keys = [c.key for c in table.columns if c is not table.autoincrement_column]
    compiled_statement = statement.compile(dialect=DIALECT, column_keys=column_keys)
    binds, params = compiled_statement.binds, compiled_statement.params
    required = frozenset(name for name in params if binds[name].required)
    if any(binds[name].expanding for name in required):
        raise NotOnTheDriver(f"an IN list given at each call: {sorted(required)}")
    sql, constants = compiled_statement.string, dict(params)
    if any(binds[name].expanding for name in params):
        expanded = compiled_statement.construct_expanded_state(
            {**params, **dict.fromkeys(required)}
        )
        sql, constants = expanded.statement, dict(expanded.parameters)

    def converter(name: str) -> Callable[[Any], Any] | None:
        bind = binds[name] if name in binds else binds[name.rsplit("_", 1)[0]]  # kind_1_2
        return bind.type.dialect_impl(DIALECT).bind_processor(DIALECT)

    for name in list(constants):
        if name in required:
            del constants[name]
        elif (convert := converter(name)) is not None:
            constants[name] = convert(constants[name])  # converted once, here
    bind_converters = tuple(
        (name, convert) for name in sorted(required) if (convert := converter(name)) is not None
    )
    columns = list(getattr(statement, "selected_columns", []))
    result_converters = tuple(
        (index, convert)
        for index, column in enumerate(columns)
        if (convert := column.type.dialect_impl(DIALECT).result_processor(DIALECT, None))
    )
    return CompiledStatement(
        sql, required, constants, bind_converters, bool(columns), result_converters
    )


_COMPILED: dict[int, CompiledStatement | None] = {}


def compiled_prebuilt(statement: Executable) -> CompiledStatement | None:
    """The compiled form of a prebuilt statement (compiled on first use), else None."""
    key = id(statement)
    if key in _COMPILED:
        return _COMPILED[key]
    if key not in PREBUILT:
        return None
    try:
        found: CompiledStatement | None = compiled(PREBUILT[key])
    except NotOnTheDriver:
        found = None  # SQLAlchemy runs it
    _COMPILED[key] = found
    return found


class DriverResult:
    """What ``Connection.execute`` returns, for the parts its callers read: the rows
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
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0][0]

    def scalars(self) -> DriverResult:
        return DriverResult([row[0] for row in self._rows], self.rowcount)


class DriverConnection:
    """A SQLite ``Connection`` whose prebuilt statements run on its ``sqlite3`` driver (see the
    module docstring); everything else is the ``Connection``'s."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.driver: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]

    def execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | list[dict[str, Any]] | None = None,
    ) -> Any:
        found = compiled_prebuilt(statement)
        if isinstance(parameters, list):  # executemany: one row of values each
            if found is None or any(row.keys() != found.required for row in parameters):
                return self.connection.execute(statement, parameters)
            return run_many(self.driver, found, parameters)
        given = parameters or {}
        if found is None or given.keys() != found.required:
            return self.connection.execute(statement, parameters)
        return run(self.driver, found, given)

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


def bound(found: CompiledStatement, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values ``found`` is executed with: ``given`` and its constants, converted."""
    values = {**found.constants, **given} if found.constants else dict(given)
    for name, converter in found.bind_converters:
        values[name] = converter(values[name])
    return values


def run_many(driver: sqlite3.Connection, found: CompiledStatement, rows: list[Any]) -> Any:
    """Execute ``found`` (a statement returning no rows) once per row of values."""
    values = [bound(found, row) for row in rows]
    try:
        cursor = driver.executemany(found.sql, values)
    except sqlite3.Error as error:
        raise DBAPIError.instance(found.sql, values, error, sqlite3.Error) from error
    return DriverResult([], cursor.rowcount)


def run(driver: sqlite3.Connection, found: CompiledStatement, given: Mapping[str, Any]) -> Any:
    """Execute ``found`` with ``given`` on ``driver``: a ``DriverResult``."""
    values = bound(found, given)
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
