"""A database that does not answer in time is a 503 ``temporarily_unavailable`` with
``Retry-After`` in the OAuth error format, never a 500 (errors.py maps it in one place).

The failures are raised from an extra route on the real app: provoking them for real takes the
pool's or SQLite's 30 s wait (tests/reliability shows the request path never exhausts the pool).
"""

from __future__ import annotations

import httpx2
import pytest
from serving import serve_app
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from demo_as.app import create_app
from demo_as.settings import Settings

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
