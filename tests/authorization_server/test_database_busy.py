"""A database that does not answer in time is a 503 ``temporarily_unavailable`` with
``Retry-After`` in the OAuth error format, never a 500 (errors.py maps it in one place).

The failures are raised from an extra route on the real app: provoking them for real takes the
pool's or SQLite's 30 s wait (tests/reliability shows the request path never exhausts the pool).
"""

from __future__ import annotations

import httpx2
import psycopg
import pytest
from harness.oauth_flow import issue_tokens, refresh
from serving import serve_app
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from demo_as.app import create_app
from demo_as.settings import Settings

RESOURCE = "http://127.0.0.1:8000/mcp"

FAILURES = {
    "pool": PoolTimeout("QueuePool limit of size 5 overflow 10 reached"),
    "locked": OperationalError("INSERT ...", {}, Exception("database is locked")),
    "broken": OperationalError("SELECT ...", {}, Exception("no such table: client")),
}


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("as")

    def build(base_url: str):
        app = create_app(Settings(issuer=base_url, data_dir=data_dir))

        def fail(kind: str) -> None:
            raise FAILURES[kind]

        app.add_api_route("/test-failure/{kind}", fail, methods=["POST"])
        return app

    with serve_app(build) as url, httpx2.Client(base_url=url, timeout=20) as client:
        yield client


@pytest.mark.parametrize("kind", ["pool", "locked"])
def test_a_busy_database_is_503_temporarily_unavailable(http: httpx2.Client, kind: str) -> None:
    response = http.post(f"/test-failure/{kind}")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "temporarily_unavailable"


def test_any_other_database_fault_is_still_a_500(http: httpx2.Client) -> None:
    """Only "busy" is retryable; a broken schema must not be disguised as one."""
    assert http.post("/test-failure/broken").status_code == 500


@pytest.mark.postgres
def test_a_postgresql_lock_wait_past_its_timeout_is_503_and_writes_nothing(
    postgres_server, tmp_path
) -> None:
    """For real: PostgreSQL with ``lock_timeout`` (an operator's setting, in the URL here) cancels
    a statement that waited too long for a row lock (SQLSTATE 55P03). Another transaction holds
    the refresh token's row, so the refresh's rotation waits and is cancelled: a 503 the client
    may retry, and the refresh token still works once the lock is gone."""
    url = postgres_server.create_database()
    try:
        settings = {"data_dir": tmp_path, "database_url": f"{url}?options=-c%20lock_timeout%3D200"}

        def build(base_url: str):
            return create_app(Settings(issuer=base_url, **settings))

        with serve_app(build) as as_url, httpx2.Client(base_url=as_url, timeout=20) as client:
            registered, _request, tokens = issue_tokens(client, as_url, RESOURCE)
            cid = registered["client_id"]
            with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as holder:
                holder.execute("SELECT * FROM refreshtoken FOR UPDATE")  # until the block ends
                busy = refresh(client, as_url, cid, tokens["refresh_token"], resource=RESOURCE)
            assert busy.status_code == 503, busy.text
            assert busy.headers["retry-after"] == "1"
            assert busy.json()["error"] == "temporarily_unavailable"
            again = refresh(client, as_url, cid, tokens["refresh_token"], resource=RESOURCE)
            assert again.status_code == 200, again.text  # the refused refresh rotated nothing
    finally:
        postgres_server.drop_database(url)
