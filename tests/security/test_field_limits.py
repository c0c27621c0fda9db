"""One length limit per stored field, the same on every backend (issue #12.9).

SQLite ignores ``VARCHAR(n)``; PostgreSQL enforces it. A value the request validation accepted
but the column refused was a 500 on PostgreSQL only (a 2001-character ``state``). Each test runs
on both backends: the longest accepted value is stored whole, one character more is a clear 400
on both, with nothing written.
"""

from __future__ import annotations

import httpx2
import pytest
from harness.db_rows import count, open_engine, unchanged
from harness.oauth_flow import REDIRECT_URI, AuthorizationRequest, register
from serving import serve_app

from demo_as import field_limits

RESOURCE = "http://127.0.0.1:8000/mcp"


@pytest.fixture
def as_on_backend(database_url: str):
    """A real AS on ``database_url`` (SQLite or PostgreSQL) and an engine to look into it."""
    from demo_as.app import create_app
    from demo_as.settings import Settings

    def build(base: str):
        return create_app(Settings(issuer=base, database_url=database_url, resources=[RESOURCE]))

    with serve_app(build) as as_url:
        engine = open_engine(database_url)
        try:
            yield as_url, engine
        finally:
            engine.dispose()


def test_state_limit_is_the_same_on_every_backend(as_on_backend) -> None:
    """RFC 6749 §4.1.1 ``state`` is opaque; this AS keeps up to ``field_limits.STATE`` characters
    on SQLite and PostgreSQL alike, and refuses a longer one with an HTML 400 page."""
    as_url, engine = as_on_backend
    with httpx2.Client(timeout=15.0) as http:
        client = register(http, as_url, [REDIRECT_URI])
        longest = AuthorizationRequest(
            client["client_id"], REDIRECT_URI, RESOURCE, state="s" * field_limits.STATE
        )
        page = http.get(f"{as_url}/authorize", params=longest.params())
        assert page.status_code == 200, page.text[:300]
        stored = count(engine, "pendingauthorization", "state = :state", state=longest.state)
        assert stored == 1
        too_long = AuthorizationRequest(
            client["client_id"], REDIRECT_URI, RESOURCE, state="s" * (field_limits.STATE + 1)
        )
        with unchanged(engine):
            refused = http.get(f"{as_url}/authorize", params=too_long.params())
    assert refused.status_code == 400, refused.text[:300]
    assert "location" not in refused.headers
    assert refused.headers["content-type"].startswith("text/html")
    assert f"at most {field_limits.STATE} characters" in refused.text
