"""The store's prebuilt statements run on SQLite's driver (demo_as/sqlite_statements.py) exactly
as through SQLAlchemy: the same rows, row counts, errors and bytes on disk, statement by
statement, on two copies of one real database."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, insert
from sqlalchemy.exc import DBAPIError, OperationalError

from demo_as import queries as q
from demo_as.db import create_db_engine
from demo_as.errors import database_busy
from demo_as.lab import journal
from demo_as.loop_writes import create_event_loop_writer
from demo_as.sqlite_statements import PREBUILT, DriverConnection

# One row in each table, linked as the AS links them; the statements' parameters name these.
ROWS: dict[Any, dict[str, Any]] = {
    q.CLIENTS: {
        "client_id": "client-a",
        "client_secret_hash": None,
        "client_name": "Ünïcode client",
        "redirect_uris": ["http://127.0.0.1:3000/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "notes:read",
        "client_id_issued_at": 1,
    },
    q.PENDING: {
        "id": "pending-a",
        "client_id": "client-a",
        "redirect_uri": "http://127.0.0.1:3000/cb",
        "state": None,
        "scopes": ["notes:read"],
        "resource": "http://127.0.0.1:8000/mcp",
        "code_challenge": "challenge",
        "username": None,
        "csrf_hash": "csrf-a",
        "expires_at": 10,
    },
    q.CODES: {
        "code_hash": "code-a",
        "client_id": "client-a",
        "redirect_uri": "http://127.0.0.1:3000/cb",
        "scopes": ["notes:read"],
        "resource": "http://127.0.0.1:8000/mcp",
        "code_challenge": "challenge",
        "username": "alice",
        "expires_at": 10,
        "used_at": None,
        "grant_id": None,
    },
    q.GRANTS: {
        "id": "grant-a",
        "client_id": "client-a",
        "username": "alice",
        "scopes": ["notes:read", "offline_access"],
        "resource": "http://127.0.0.1:8000/mcp",
        "created_at": 1,
        "revoked_at": None,
        "revoked_reason": None,
    },
    q.REFRESH_TOKENS: {
        "token_hash": "refresh-a",
        "grant_id": "grant-a",
        "client_id": "client-a",
        "status": "active",
        "created_at": 1,
        "expires_at": 10,
    },
    q.ACCESS_TOKENS: {
        "jti": "jti-a",
        "grant_id": "grant-a",
        "client_id": "client-a",
        "expires_at": 10,
        "revoked_at": None,
    },
    q.CONSENTS: {"username": "alice", "client_id": "client-a", "scopes": ["notes:read"]},
    q.DOCUMENTS: {
        "client_id": "https://app.example/client.json",
        "software_id": None,
        "software_version": None,
        "fetched_from": "203.0.113.1",
        "fetched_at": 1,
        "expires_at": 10,
        "document": {"client_name": "Doc", "redirect_uris": ["http://127.0.0.1/cb"]},
    },
    q.SIGNING_KEYS: {"kid": "kid-a", "private_jwk": {"kty": "EC", "crv": "P-256"}, "created_at": 1},
}
ROWS[journal.EVENTS] = {
    "at": 50.0,
    "server": "rs",
    "kind": "challenge",
    "client_id": None,
    "attribution": None,
    "token_fingerprint": None,
    "summary": "401 without a token",
    "detail": {"status": 401, "resource": "http://127.0.0.1:8000/mcp"},
}
ROWS[q.PENDING_ERRORS] = {
    "pending_id": "pending-a",
    "error": "invalid_scope",
    "error_description": "x",
}

# Parameters by name: the stored rows' keys, so each statement finds (or changes) a row.
PARAMETERS = {
    "client_id": "client-a",
    "pending_id": "pending-a",
    "csrf_hash": "csrf-a",
    "username": "alice",
    "code_hash": "code-a",
    "grant_id": "grant-b",  # SUPERSEDED_GRANT_IDS: grants other than this one
    "resource": "http://127.0.0.1:8000/mcp",
    "token_hash": "refresh-a",
    "jti": "jti-a",
    "at": 100,
    "b_csrf": "csrf-b",
    "b_username": "alice",
    "b_client_id": "client-a",
    "b_scopes": ["notes:read", "notes:write"],
    "b_code_hash": "code-a",
    "b_used_at": 5,
    "b_grant_id": "grant-a",
    "b_reason": "replayed",
    "b_token_hash": "refresh-a",
    "b_jti": "jti-a",
    "b_at": 7,
    "low": 40.0,  # the journal's windows (lab/journal.py)
    "high": 60.0,
    "shown_client": "client-a",
    "before": 60.0,
}

# Every statement the driver may run: queries.py's and those the lab's journal registers.
STATEMENTS = {
    f"{module.__name__.rsplit('.', 1)[-1]}.{name}": value
    for module in (q, journal)
    for name, value in vars(module).items()
    if id(value) in PREBUILT
}


def populated(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    with engine.begin() as connection:
        for table, row in ROWS.items():
            connection.execute(insert(table), row)
    engine.dispose()
    return url


def parameters_for(statement: Any) -> dict[str, Any]:
    """The statement's parameters; an INSERT gets a new row of its table (a second, fresh key)."""
    table = getattr(statement, "table", None)
    if statement.is_insert:
        row = dict(ROWS[table])
        key = next(iter(table.primary_key.columns)).name
        if table not in (q.PENDING_ERRORS, journal.EVENTS):  # (a stored pending request; an id)
            row[key] = f"{row[key]}-new"
        if table is q.CONSENTS:
            row["client_id"] = "client-a-new"
        return row
    names = statement.compile().params
    return {name: PARAMETERS[name] for name in names if name in PARAMETERS}


def outcome(connection: Connection | DriverConnection, statement: Any, params: Any) -> Any:
    """What the statement returned (rows with their names, or the row count) or raised."""
    try:
        result = connection.execute(statement, params)
    except DBAPIError as error:
        return ("raised", type(error), type(error.orig))
    if statement.is_select:
        return ("rows", [(tuple(row), tuple(row._fields)) for row in result.all()])
    return ("rowcount", result.rowcount)


def stored_bytes(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table as SQLite stores it (JSON as its text)."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_a_prebuilt_statement_runs_on_the_driver_as_through_sqlalchemy(tmp_path, name) -> None:
    statement = STATEMENTS[name]
    params = parameters_for(statement)
    if statement is journal.INSERT_EVENTS:  # the journal writes its batches with executemany
        params = [params, {**params, "kind": "mcp-request", "detail": {"method": "tools/list"}}]
    through_sqlalchemy = populated(tmp_path / "a.db")
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")

    engine = create_db_engine(through_sqlalchemy)  # the same pragmas as the writer (foreign keys)
    with engine.connect() as connection:
        expected = outcome(connection, statement, params)
        connection.commit()
    engine.dispose()
    writer = create_event_loop_writer(f"sqlite:///{tmp_path / 'b.db'}")
    assert writer is not None
    connection = writer.begin()
    assert connection is not None
    driver = DriverConnection(connection)
    got = outcome(driver, statement, params)
    driver.commit()
    writer.dispose()

    assert got == expected
    if expected[0] == "rowcount" and not statement.is_insert:
        assert expected[1] >= 1, "the statement should have changed a row"
    assert stored_bytes(tmp_path / "b.db") == stored_bytes(tmp_path / "a.db")


def test_an_insert_given_fewer_columns_goes_through_sqlalchemy_with_its_defaults(tmp_path) -> None:
    """``status`` left out: SQLAlchemy fills in the column's default, as without the driver."""
    url = populated(tmp_path / "a.db")
    writer = create_event_loop_writer(url)
    assert writer is not None
    connection = writer.begin()
    assert connection is not None
    driver = DriverConnection(connection)
    row = {**ROWS[q.REFRESH_TOKENS], "token_hash": "refresh-b"}
    del row["status"]
    driver.execute(q.INSERT_REFRESH_TOKEN, row)
    driver.commit()
    status = driver.execute(q.REFRESH_TOKEN_BY_HASH, {"token_hash": "refresh-b"}).first().status
    writer.dispose()
    assert status == "active"


def test_a_locked_database_raises_sqlalchemys_busy_error(tmp_path) -> None:
    """errors.py answers it 503, as a locked database met through SQLAlchemy."""
    url = populated(tmp_path / "a.db")
    holder = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    engine = create_engine(url, connect_args={"timeout": 0})
    try:
        with engine.connect() as connection:
            with pytest.raises(OperationalError) as raised:
                DriverConnection(connection).execute(q.INSERT_CONSENT, ROWS[q.CONSENTS])
        assert database_busy(raised.value)
        assert isinstance(raised.value.orig, sqlite3.OperationalError)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
