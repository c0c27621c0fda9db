"""What unauthenticated registration can make the AS store is bounded (issue #12.6).

A per-source rate (429 with ``Retry-After``), a total cap (400), size caps on the metadata, and
purging: clients that never completed an authorization, codes long expired, grants no token of
which can work again. Every refusal is in the RFC 7591 §3.2.2 error format and stores nothing.
"""

from __future__ import annotations

import time

import httpx2
from harness.db_rows import count, unchanged
from harness.oauth_flow import REDIRECT_URI, issue_tokens, register
from harness.subprocess_servers import demo_as_process
from sqlalchemy import text


def attempt(stack, http: httpx2.Client, **metadata) -> httpx2.Response:
    body = {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none", **metadata}
    return http.post(f"{stack.as_url}/register", json=body)


def refused_after(stack, http: httpx2.Client, accepted: int) -> httpx2.Response:
    """``accepted`` registrations succeed; the next one is refused and stores nothing."""
    for _ in range(accepted):
        assert attempt(stack, http).status_code == 201
    with unchanged(stack.engine):
        return attempt(stack, http)


def test_registration_rate_per_source_answers_429_with_retry_after(make_stack, http) -> None:
    """RFC 6585 §4 429 + RFC 9110 §10.2.3 ``Retry-After``, RFC 7591 §3.2.2 body."""
    refused = refused_after(make_stack(registration_rate_per_minute=3), http, 3)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "temporarily_unavailable"
    assert "at most 3 a minute" in refused.json()["error_description"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_registration_total_cap_answers_400(make_stack, http) -> None:
    """RFC 7591 §3.2.2: past ``max_clients`` registration is refused, saying when room is made."""
    refused = refused_after(make_stack(max_clients=2), http, 2)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "temporarily_unavailable"
    assert "at most 2 registered clients" in refused.json()["error_description"]


def test_a_full_registry_makes_room_by_purging_unused_clients(make_stack, http) -> None:
    """The cap counts after the purge: once the unused clients are past ``unused_client_ttl``,
    a new registration gets their room instead of a refusal."""
    stack = make_stack(max_clients=2, unused_client_ttl=60)
    assert attempt(stack, http).status_code == 201
    assert attempt(stack, http).status_code == 201
    assert attempt(stack, http).status_code == 400
    with stack.engine.begin() as db:
        db.execute(text("UPDATE client SET client_id_issued_at = :t"), {"t": int(time.time()) - 61})
    assert attempt(stack, http).status_code == 201
    assert count(stack.engine, "client") == 1


def test_registration_caps_the_total_size_of_redirect_uris(stack, http) -> None:
    """RFC 7591 §3.2.2 ``invalid_redirect_uri``: ten URIs of 2000 characters were ~25 KiB a
    client; together they may be 4000 characters."""
    uris = [f"http://127.0.0.1:{port}/" + "p" * 1970 for port in (1001, 1002, 1003)]
    with unchanged(stack.engine):
        refused = attempt(stack, http, redirect_uris=uris)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_redirect_uri"
    assert "4000 characters" in refused.json()["error_description"]


def test_unused_clients_expired_codes_and_dead_grants_are_purged(make_stack, http) -> None:
    """Past ``unused_client_ttl`` a client that never completed an authorization is deleted; a
    client that did is kept. Codes long expired and grants with no usable token are deleted
    with their token records; a grant with a live refresh token is kept. (The purge runs at most
    every 10 s, and at once when a registration finds the registry full: here, the fourth.)"""
    stack = make_stack(unused_client_ttl=60, max_clients=3)
    unused = register(http, stack.as_url, [REDIRECT_URI])
    used, _request, _tokens = issue_tokens(http, stack.as_url, stack.resource, scope="notes:read")
    kept, _request, _tokens = issue_tokens(http, stack.as_url, stack.resource)
    past = int(time.time()) - 700
    with stack.engine.begin() as db:
        db.execute(text("UPDATE client SET client_id_issued_at = :t"), {"t": past})
        db.execute(text("UPDATE authorizationcode SET expires_at = :t"), {"t": past})
        # every token of the first grant has expired: nothing can use that grant again
        for table in ("accesstokenrecord", "refreshtoken"):
            db.execute(
                text(f"UPDATE {table} SET expires_at = :t WHERE client_id = :c"),
                {"t": past, "c": used["client_id"]},
            )

    assert attempt(stack, http).status_code == 201  # a full registry is purged first

    def clients(client: dict) -> int:
        return count(stack.engine, "client", "client_id = :c", c=client["client_id"])

    def grants(client: dict) -> int:
        return count(stack.engine, "grant", "client_id = :c", c=client["client_id"])

    assert clients(unused) == 0
    assert clients(used) == 1 and clients(kept) == 1
    assert count(stack.engine, "authorizationcode") == 0
    assert grants(used) == 0
    for table in ("accesstokenrecord", "refreshtoken"):
        assert count(stack.engine, table, "client_id = :c", c=used["client_id"]) == 0
    assert grants(kept) == 1
    assert count(stack.engine, "refreshtoken", "client_id = :c", c=kept["client_id"]) == 1


def test_dashboard_shows_the_registration_bounds(make_stack, http) -> None:
    """The operator sees every bound in force on the dashboard."""
    stack = make_stack(registration_rate_per_minute=7, max_clients=11, unused_client_ttl=13)
    page = http.get(f"{stack.as_url}/")
    assert page.status_code == 200
    for shown in ("7 a minute", "11 (400 beyond)", "13 s", "4000 characters"):
        assert shown in page.text, shown


def test_the_rate_is_per_connection_address_not_per_forwarded_header(tmp_path) -> None:
    """The per-source rate counts the TCP peer's address: an ``X-Forwarded-For`` (or
    ``Forwarded``) header from a caller does not make it a new source. uvicorn would trust those
    headers from 127.0.0.1 by default, so ``demo-as`` serves with proxy headers off."""
    server = demo_as_process(
        tmp_path,
        f"sqlite:///{tmp_path / 'as.db'}",
        resources=["http://127.0.0.1:8000/mcp"],
        extra_args=["--registration-rate-per-minute", "2"],
    )
    server.start()
    body = {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}
    try:
        answers = [
            httpx2.post(
                f"{server.base_url}/register",
                json=body,
                headers={
                    "X-Forwarded-For": f"203.0.113.{n}",
                    "X-Forwarded-Proto": "https",
                    "Forwarded": f"for=198.51.100.{n};proto=https",
                },
            )
            for n in range(3)
        ]
    finally:
        server.stop()
    assert [answer.status_code for answer in answers] == [201, 201, 429], answers[-1].text
    assert "127.0.0.1" in answers[-1].json()["error_description"]
