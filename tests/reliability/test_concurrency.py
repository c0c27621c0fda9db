"""Single-use under contention: real AS processes, real sockets, simultaneous requests.

Two ``demo-as`` processes (same issuer, one database: workers behind one name) each get half of
the requests, so the race is decided by the database, not by one process's thread scheduling.
Every test runs on SQLite (WAL + busy timeout) and on PostgreSQL (``database_url`` fixture).
Whatever the interleaving: exactly one winner, the others refused in the OAuth error format,
never a 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import pytest
from harness.db_rows import count, open_engine
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    authorize,
    code_from,
    introspect,
    issue_tokens,
    redeem,
    refresh,
    register,
)
from harness.parallel import at_once
from harness.subprocess_servers import ServerProcess, demo_as_process, free_loopback_port

RESOURCE = "http://127.0.0.1:8000/mcp"
INTROSPECTION_SECRET = "reliability-introspection-secret"
PARALLEL = 50
# (FROM, WHERE) of refresh tokens that would still work: active, and their grant not revoked.
USABLE_REFRESH_TOKENS = (
    'refreshtoken JOIN "grant" ON refreshtoken.grant_id = "grant".id',
    "refreshtoken.client_id = :client_id AND refreshtoken.status = 'active' "
    'AND "grant".revoked_at IS NULL',
)
REGISTRATIONS = 200
SUSTAINED_WORKERS = 32
SUSTAINED_SECONDS = 4.0  # several of the lab's probe-check intervals (1 s)
SUSTAINED_TIMEOUT = 10.0  # a refresh waits this long at most (the pool's own wait is 30 s)


@pytest.fixture(scope="module")
def database_url(module_database_url: str) -> str:
    return module_database_url


@pytest.fixture(scope="module")
def as_workers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    """Two AS processes on one database; the first creates the schema and the signing key."""
    tmp_path = tmp_path_factory.mktemp("as")
    first_port = free_loopback_port()
    issuer = f"http://127.0.0.1:{first_port}"
    args = ["--auto-approve", "--introspection-secret", INTROSPECTION_SECRET]
    workers = [
        demo_as_process(
            tmp_path,
            database_url,
            resources=[RESOURCE],
            port=first_port,
            issuer=issuer,
            extra_args=args,
        ),
        demo_as_process(
            tmp_path, database_url, resources=[RESOURCE], issuer=issuer, extra_args=args
        ),
    ]
    try:
        for worker in workers:
            worker.start()
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def active(as_url: str, token: str) -> bool:
    return introspect(as_url, token, INTROSPECTION_SECRET)["active"]


def assert_no_server_errors(responses: list[httpx2.Response]) -> None:
    errors = [(r.status_code, r.text[:300]) for r in responses if r.status_code >= 500]
    assert not errors, f"contention surfaced as server errors: {errors[:3]}"


def assert_refusals_are_invalid_grant(responses: list[httpx2.Response]) -> None:
    refusals = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 400 for r in refusals), [r.status_code for r in refusals]
    assert {r.json()["error"] for r in refusals} == {"invalid_grant"}


def test_fifty_parallel_redemptions_of_one_code_yield_one_token(
    as_workers: list[ServerProcess], database_url: str
) -> None:
    """OAuth 2.1 §4.1.3: "The authorization server MUST return an access token only once for a
    given authorization code." Fifty simultaneous redemptions with the *right* verifier: exactly
    one wins; the others are replays, so (§4.1.3 SHOULD, RFC 9700 §4.5) what the winner got is
    revoked too. No 5xx, no grant left usable."""
    as_url = as_workers[0].base_url
    with httpx2.Client(timeout=30.0) as http:
        client = register(http, as_url, [REDIRECT_URI])
        request = AuthorizationRequest(
            client["client_id"],
            REDIRECT_URI,
            RESOURCE,
            scope="notes:read offline_access",
        )
        code = code_from(authorize(http, as_url, request), request)

    responses = at_once(
        PARALLEL,
        [w.base_url for w in as_workers],
        lambda http, base, _i: redeem(http, base, request, code),
    )

    assert_no_server_errors(responses)
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    assert_refusals_are_invalid_grant(responses)
    tokens = winners[0].json()
    assert active(as_url, tokens["access_token"]) is False, "the replays revoked the winner"
    with httpx2.Client(timeout=30.0) as http:
        again = refresh(http, as_url, client["client_id"], tokens["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    engine = open_engine(database_url)
    try:
        mine = {"client_id": client["client_id"]}
        assert count(engine, "accesstokenrecord", "client_id = :client_id", **mine) == 1
        assert (
            count(engine, '"grant"', "client_id = :client_id AND revoked_at IS NULL", **mine) == 0
        )
    finally:
        engine.dispose()


def test_fifty_parallel_refreshes_of_one_token_rotate_once(
    as_workers: list[ServerProcess], database_url: str
) -> None:
    """OAuth 2.1 §4.3.1: a refresh token is single use (rotation). Fifty simultaneous refreshes:
    exactly one gets a new pair. The other 49 presented a token that had just been rotated, which
    is reuse (RFC 9700 §4.14.2), so the grant is revoked: the winner's new refresh token no
    longer works and its new access token is inactive."""
    as_url = as_workers[0].base_url
    with httpx2.Client(timeout=30.0) as http:
        client, _request, issued = issue_tokens(http, as_url, RESOURCE)
    refresh_token = issued["refresh_token"]

    responses = at_once(
        PARALLEL,
        [w.base_url for w in as_workers],
        lambda http, base, _i: refresh(http, base, client["client_id"], refresh_token),
    )

    assert_no_server_errors(responses)
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    assert_refusals_are_invalid_grant(responses)
    rotated = winners[0].json()
    with httpx2.Client(timeout=30.0) as http:
        after = refresh(http, as_url, client["client_id"], rotated["refresh_token"])
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    assert active(as_url, rotated["access_token"]) is False
    engine = open_engine(database_url)
    try:
        # A loser may revoke the grant before the winner has written its new refresh token, so
        # an 'active' row under a revoked grant can exist; what must not exist is a usable one.
        assert count(engine, *USABLE_REFRESH_TOKENS, client_id=client["client_id"]) == 0
    finally:
        engine.dispose()


def test_sustained_parallel_refreshes_never_wait_on_each_other_for_a_connection(
    as_workers: list[ServerProcess],
) -> None:
    """Thirty-two refresh chains refreshed back to back for a few seconds on one AS process,
    the lab on: every refresh answers, promptly, with a rotated pair. (Each request holds one
    pooled connection; if requests opened a second one for the lab's probe check, thirty-two of
    them would hold the whole pool waiting for a connection none would free: a 30 s stall, then
    timeouts and 500s.) Server errors would fail too: a busy database is a 503, never a 500."""
    as_url = as_workers[0].base_url
    with httpx2.Client(timeout=30.0) as http:
        chains, client_ids = [], []
        for _ in range(SUSTAINED_WORKERS):  # a client each: a new grant supersedes the older
            client, _request, issued = issue_tokens(http, as_url, RESOURCE)
            client_ids.append(client["client_id"])
            chains.append(issued["refresh_token"])

    def refresh_chain(http: httpx2.Client, base: str, i: int) -> list[int]:
        statuses, token = [], chains[i]
        deadline = time.monotonic() + SUSTAINED_SECONDS
        while time.monotonic() < deadline:
            try:
                response = refresh(http, base, client_ids[i], token, resource=RESOURCE)
            except httpx2.TimeoutException:
                statuses.append(0)
                break
            statuses.append(response.status_code)
            if response.status_code != 200:
                break
            token = response.json()["refresh_token"]
        return statuses

    statuses = at_once(SUSTAINED_WORKERS, [as_url], refresh_chain, timeout=SUSTAINED_TIMEOUT)
    failed = [s for chain in statuses for s in chain if s != 200]
    assert not failed, f"refreshes that did not succeed (0: no answer in time): {failed[:10]}"
    assert sum(len(chain) for chain in statuses) >= SUSTAINED_WORKERS * 2


def test_two_hundred_parallel_registrations_all_persist(
    as_workers: list[ServerProcess], database_url: str
) -> None:
    """RFC 7591 §3.2.1: every 201 is a client the AS will recognise. Two hundred simultaneous
    registrations: 200 x 201, 200 distinct client_ids, 200 rows; a busy database never turns into
    a 500 (SQLite: WAL + busy timeout; PostgreSQL: row-level concurrency)."""

    def register_one(http: httpx2.Client, base: str, i: int) -> httpx2.Response:
        return http.post(
            f"{base}/register",
            json={
                "redirect_uris": [f"http://127.0.0.1:{20000 + i}/callback"],
                "client_name": f"parallel client {i}",
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
            },
        )

    engine = open_engine(database_url)
    before = count(engine, "client")
    responses = at_once(REGISTRATIONS, [w.base_url for w in as_workers], register_one)

    assert_no_server_errors(responses)
    assert [r.status_code for r in responses] == [201] * REGISTRATIONS
    client_ids = {r.json()["client_id"] for r in responses}
    assert len(client_ids) == REGISTRATIONS
    try:
        assert count(engine, "client") == before + REGISTRATIONS
    finally:
        engine.dispose()
    # Each registered client is usable at either worker (persisted, not cached in one process).
    with httpx2.Client(timeout=30.0) as http:
        for worker, client_id in zip(as_workers * 2, sorted(client_ids)[:4], strict=False):
            i = next(i for i, r in enumerate(responses) if r.json()["client_id"] == client_id)
            request = AuthorizationRequest(
                client_id, f"http://127.0.0.1:{20000 + i}/callback", RESOURCE
            )
            code_from(authorize(http, worker.base_url, request), request)
