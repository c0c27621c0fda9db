"""Kill -9 the AS while clients register and refresh; restart it on the same database.

What a power cut must not break (issue "Concurrency and crash safety"):

* every access token issued before the crash still verifies at the RS (the signing key lives in
  the database, DESIGN.md "Tokens");
* every refresh token that was not in flight at the crash still works, exactly once;
* every client that got a 201 is still registered;
* no half-written grant: no used code without its grant, no live grant without its tokens, no
  live grant of a refresh client without a usable refresh token.

The kill happens after a fixed number of completed operations, not after a delay, while worker
threads are still sending; requests in flight at that moment are ambiguous (the client never saw
the answer) and are only checked through the database invariants.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from harness.db_rows import open_engine
from harness.mcp_raw import headers as mcp_headers
from harness.mcp_raw import initialize_message
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    authorize,
    code_from,
    redeem,
    refresh,
    register,
)
from harness.subprocess_servers import (
    demo_as_process,
    free_loopback_port,
    running,
    scoped_tools_process,
)
from sqlalchemy import text

BASELINE_GRANTS = 8
CHAINS = 6
REGISTER_WORKERS = 2
GRANT_WORKERS = 2
KILL_AFTER_OPERATIONS = 60

# Consistency rules over the AS tables; each query returns the offending rows.
HALF_WRITTEN = {
    "a used authorization code whose grant does not exist": (
        'SELECT c.code_hash FROM authorizationcode c LEFT JOIN "grant" g ON g.id = c.grant_id '
        "WHERE c.used_at IS NOT NULL AND g.id IS NULL"
    ),
    "a live grant with no access token": (
        'SELECT g.id FROM "grant" g WHERE g.revoked_at IS NULL AND NOT EXISTS '
        "(SELECT 1 FROM accesstokenrecord a WHERE a.grant_id = g.id)"
    ),
    "a live grant of a refresh client with no usable refresh token": (
        'SELECT g.id FROM "grant" g JOIN client c ON c.client_id = g.client_id '
        "WHERE g.revoked_at IS NULL AND CAST(c.grant_types AS TEXT) LIKE '%refresh_token%' "
        "AND NOT EXISTS "
        "(SELECT 1 FROM refreshtoken r WHERE r.grant_id = g.id AND r.status = 'active')"
    ),
}


@dataclass
class Chain:
    """A client refreshing over and over; ``latest`` is the refresh token it holds now."""

    client_id: str
    latest: str
    access_tokens: list[str] = field(default_factory=list)
    in_flight_at_crash: bool = False


@dataclass
class Storm:
    registered: list[str] = field(default_factory=list)
    operations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    crashed: threading.Event = field(default_factory=threading.Event)
    enough: threading.Event = field(default_factory=threading.Event)

    def done_one(self) -> None:
        with self.lock:
            self.operations += 1
            if self.operations >= KILL_AFTER_OPERATIONS:
                self.enough.set()


def grant(http: httpx2.Client, as_url: str, resource: str) -> tuple[str, dict]:
    """Register a refresh-capable client and get its first tokens (auto-approve)."""
    client = register(http, as_url, [REDIRECT_URI])
    request = AuthorizationRequest(
        client["client_id"], REDIRECT_URI, resource, scope="notes:read offline_access"
    )
    response = redeem(http, as_url, request, code_from(authorize(http, as_url, request), request))
    assert response.status_code == 200, response.text
    return client["client_id"], response.json()


def keep_registering(as_url: str, storm: Storm) -> None:
    with httpx2.Client(timeout=30.0) as http:
        i = 0
        while not storm.crashed.is_set():
            i += 1
            try:
                response = http.post(
                    f"{as_url}/register",
                    json={"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"},
                )
            except httpx2.TransportError:
                return  # the AS is gone; this registration's fate is unknown
            assert response.status_code == 201, response.text
            with storm.lock:
                storm.registered.append(response.json()["client_id"])
            storm.done_one()


def keep_granting(as_url: str, resource: str, storm: Storm, finished: list[dict]) -> None:
    """Whole code flows (register, authorize, redeem) until the crash; the tokens of completed
    flows join the 'issued before the crash' set."""
    with httpx2.Client(timeout=30.0) as http:
        while not storm.crashed.is_set():
            try:
                client_id, tokens = grant(http, as_url, resource)
            except httpx2.TransportError:
                return
            with storm.lock:
                storm.registered.append(client_id)
                finished.append({"client_id": client_id, **tokens})
            storm.done_one()


def keep_refreshing(as_url: str, chain: Chain, storm: Storm) -> None:
    with httpx2.Client(timeout=30.0) as http:
        while not storm.crashed.is_set():
            try:
                response = refresh(http, as_url, chain.client_id, chain.latest)
            except httpx2.TransportError:
                chain.in_flight_at_crash = True
                return
            assert response.status_code == 200, response.text
            tokens = response.json()
            chain.latest = tokens["refresh_token"]
            chain.access_tokens.append(tokens["access_token"])
            storm.done_one()


def run_storm(jobs: list[Callable[[], None]], storm: Storm, kill: Callable[[], None]) -> None:
    """Run the jobs, kill the AS once enough operations completed, wait for every job."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        assert storm.enough.wait(timeout=120), "the storm never reached the kill point"
        kill()
        storm.crashed.set()
        for future in futures:
            future.result()


def verifies_at_rs(http: httpx2.Client, resource: str, token: str) -> bool:
    response = http.post(resource, json=initialize_message(), headers=mcp_headers(token))
    return response.status_code == 200


def test_kill_minus_nine_loses_nothing_that_was_acknowledged(
    database_url: str, tmp_path: Path
) -> None:
    """OAuth 2.1 §4.1.3 / §4.3.1 state (codes, grants, rotating refresh tokens), RFC 7591 §3.2.1
    registrations and RFC 9068 signing keys must be durable and atomic: an acknowledged result
    survives a crash, and no crash leaves a half-issued grant."""
    as_port, rs_port = free_loopback_port(), free_loopback_port()
    resource = f"http://127.0.0.1:{rs_port}/mcp"
    as_server = demo_as_process(
        tmp_path, database_url, resources=[resource], port=as_port, extra_args=["--auto-approve"]
    )
    as_url = as_server.base_url
    storm = Storm()
    as_server.start()
    try:
        with httpx2.Client(timeout=30.0) as http:
            baseline = [grant(http, as_url, resource) for _ in range(BASELINE_GRANTS)]
            chains = []
            for _ in range(CHAINS):
                client_id, tokens = grant(http, as_url, resource)
                chains.append(Chain(client_id, tokens["refresh_token"], [tokens["access_token"]]))
        granted: list[dict] = []
        jobs: list[Callable[[], None]] = [
            *(lambda: keep_registering(as_url, storm) for _ in range(REGISTER_WORKERS)),
            *(
                lambda: keep_granting(as_url, resource, storm, granted)
                for _ in range(GRANT_WORKERS)
            ),
            *(lambda c=c: keep_refreshing(as_url, c, storm) for c in chains),
        ]
        run_storm(jobs, storm, as_server.kill_hard)
    finally:
        as_server.stop()

    restarted = demo_as_process(
        tmp_path, database_url, resources=[resource], port=as_port, extra_args=["--auto-approve"]
    )
    rs = scoped_tools_process(
        tmp_path,
        auth_server=as_url,
        database_url=f"sqlite:///{tmp_path / 'notes.db'}",
        port=rs_port,
    )
    with running(restarted), running(rs), httpx2.Client(timeout=30.0) as http:
        # 1. Every client that got a 201 is still registered.
        engine = open_engine(database_url)
        try:
            with engine.connect() as conn:
                stored = {row[0] for row in conn.execute(text("SELECT client_id FROM client"))}
                problems = {
                    rule: conn.execute(text(sql)).fetchall() for rule, sql in HALF_WRITTEN.items()
                }
        finally:
            engine.dispose()
        lost = [c for c in storm.registered if c not in stored]
        assert storm.registered and not lost, f"{len(lost)} acknowledged registrations lost"

        # 3. Every access token issued before the crash verifies at a freshly started RS (which
        #    must fetch the restarted AS's JWKS, so the key survived the crash).
        issued = [tokens["access_token"] for _, tokens in baseline]
        issued += [token for chain in chains for token in chain.access_tokens]
        issued += [tokens["access_token"] for tokens in granted]
        refused = [t[-12:] for t in issued if not verifies_at_rs(http, resource, t)]
        assert not refused, f"{len(refused)} of {len(issued)} access tokens no longer verify"

        # 4. Every refresh token not in flight at the crash works exactly once.
        unused = [(cid, tokens["refresh_token"]) for cid, tokens in baseline]
        unused += [(c.client_id, c.latest) for c in chains if not c.in_flight_at_crash]
        unused += [(tokens["client_id"], tokens["refresh_token"]) for tokens in granted]
        assert unused
        for client_id, refresh_token in unused:
            first = refresh(http, as_url, client_id, refresh_token)
            assert first.status_code == 200, first.text
            second = refresh(http, as_url, client_id, refresh_token)
            assert second.status_code == 400 and second.json()["error"] == "invalid_grant"

        # 5. Registered clients are usable after the restart (not just rows).
        request = AuthorizationRequest(storm.registered[-1], REDIRECT_URI, resource)
        code_from(authorize(http, as_url, request), request)

        # 6. No half-written grant (checked last, so the checks above report first).
        in_flight = sum(c.in_flight_at_crash for c in chains)
        assert all(not rows for rows in problems.values()), (
            {rule: rows[:3] for rule, rows in problems.items() if rows},
            f"{in_flight} of {CHAINS} refresh chains had a request in flight at the crash",
        )
