"""What each protocol step costs the server that does it, in CPU per request, next to its limit.

Every figure here is a ratio or a CPU-time-per-request figure (``/proc/<pid>/stat`` of the server
that did the work) measured in alternating rounds in one run, so other processes competing for
the cores move it little. Work a server defers past the end of its round (the lab's grader
grades a client ``SETTLE_SECONDS`` after its steps, the journal writer lingers before a batch)
is counted too: ``alternate`` also reads each side's CPU over the whole alternation, after the
servers have settled, and what they did outside their rounds is added to their side:

- AS CPU per new client's first token, ours and the peer's (``peer.py``), alternating rounds;
- AS CPU per ``/introspect``, ours and the peer's;
- refresh grants with SQLite ``synchronous=NORMAL`` ÷ ``FULL``;
- RS CPU per request with 10,000 distinct valid tokens ÷ with one token (verified-token cache);
- RS memory per held 2025-11-25 session, and what the session cap makes of it;
- whoami throughput of our RS with ``--token-check introspect`` ÷ the peer's RS with pooled
  introspection (each including its own AS), alternating rounds.

A peer figure is ``None`` ("not measured") without ``--peer-dir``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from loadgen import LoadResult, RequestFailed, http_client, run_load
from measurements import StatelessToolCall
from peer import PEER_TOOL, PeerIntrospect, PeerStack, peer_token_round_trip
from stack import INTROSPECTION_SECRET

from demo_as.lab.runtime import SETTLE_SECONDS, Grader, JournalWriter
from scoped_tools_server.transport_security import MAX_SESSIONS
from tests.harness.mcp_raw import (
    encoded,
    open_session_async,
    stateless_headers,
    successful_result,
    tool_call,
)
from tests.harness.oauth_flow import first_token, refresh_grant
from tests.harness.subprocess_servers import ServerProcess


@dataclass(frozen=True)
class CostSizes:
    round_seconds: float
    rounds: int
    distinct_tokens: int
    held_sessions: int


FULL_COSTS = CostSizes(round_seconds=2.0, rounds=6, distinct_tokens=10_000, held_sessions=1000)
QUICK_COSTS = CostSizes(round_seconds=0.6, rounds=2, distinct_tokens=2_000, held_sessions=100)


@dataclass
class Side:
    """One side of an alternating comparison: its rounds, and CPU per request of the servers
    that did the work (an MCP request through introspection costs the RS *and* the AS)."""

    label: str
    request: Callable
    servers: list[ServerProcess]
    results: list[LoadResult] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # in each of its rounds
    # CPU its servers spent outside its rounds (work deferred past a round's end), counted once
    # the servers settled after the last round; 0 when a server is on two sides (unattributable).
    outside_rounds_cpu: float = 0.0

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    @property
    def rps(self) -> float:
        seconds = sum(r.seconds for r in self.results)
        return self.requests / seconds if seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per request, summed over ``servers``, deferred work included."""
        total = sum(self.cpu) + self.outside_rounds_cpu
        return total / self.requests * 1000 if self.requests else 0.0

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results)

    @property
    def error_samples(self) -> list[str]:
        return [s for r in self.results for s in r.error_samples][:3]

    def summary(self) -> str:
        rates = ", ".join(f"{r.rps:.0f}" for r in self.results)
        return (
            f"{self.label}: {self.requests} requests, {self.rps:.0f}/s (rounds [{rates}]), "
            f"{self.cpu_ms:.3f} ms CPU each"
            + (
                f" ({self.outside_rounds_cpu / self.requests * 1000:.3f} of it after its rounds)"
                if self.requests and self.outside_rounds_cpu
                else ""
            )
        )


def total_cpu(servers: list[ServerProcess]) -> float:
    return sum(server.cpu_seconds() for server in servers)


# How long a server may go on working for requests it has answered: the lab's journal writer
# lingers before writing, its grader grades a client's steps SETTLE_SECONDS after them, after a
# pause between passes (runtime.Grader), and a pass takes a while (the rest is room for it).
DEFERRED_SECONDS = JournalWriter.LINGER + SETTLE_SECONDS + Grader.PAUSE + 0.75
QUIET_CPU_SECONDS = 0.002  # what a settled server may spend in QUIET_WINDOW (timers, no work)
QUIET_WINDOW = 0.5
MAX_SETTLE_SECONDS = 10.0


async def settled_cpu(servers: list[ServerProcess]) -> float:
    """``servers``' CPU seconds once the work they deferred is done: ``DEFERRED_SECONDS``, then
    until a ``QUIET_WINDOW`` adds at most ``QUIET_CPU_SECONDS`` (or ``MAX_SETTLE_SECONDS``)."""
    await asyncio.sleep(DEFERRED_SECONDS)
    deadline = time.monotonic() + MAX_SETTLE_SECONDS
    cpu = total_cpu(servers)
    while time.monotonic() < deadline:
        await asyncio.sleep(QUIET_WINDOW)
        cpu, before = total_cpu(servers), cpu
        if cpu - before <= QUIET_CPU_SECONDS:
            break
    return cpu


def shared_servers(sides: list[Side]) -> bool:
    pids = [server.pid for side in sides for server in side.servers]
    return len(pids) != len(set(pids))


async def alternate(
    sides: list[Side], *, concurrency: int, seconds: float, rounds: int, warm_up: bool = True
) -> list[Side]:
    """``rounds`` rounds of each side, order flipped every round, after a short warm-up; then
    each side's CPU outside its rounds (its servers' deferred work, read once they settled) is
    added to it. With one server on two sides that CPU is not attributable and is left out.
    The warm-up's own deferred work (0.3 s of load) falls in the first rounds: about 2 % of the
    deferred share in a full run's 12 s a side, a quarter of it in ``--quick``'s 1.2 s."""
    attributable = not shared_servers(sides)
    async with http_client(concurrency) as client:
        if warm_up:
            for side in sides:
                await run_load(client, side.request, concurrency=concurrency, seconds=0.3)
        at_start = [total_cpu(side.servers) for side in sides]
        for index in range(rounds):
            for side in sides if index % 2 == 0 else sides[::-1]:
                before = total_cpu(side.servers)
                result = await run_load(
                    client, side.request, concurrency=concurrency, seconds=seconds
                )
                side.cpu.append(total_cpu(side.servers) - before)
                side.results.append(result)
    if attributable:
        await settled_cpu([s for side in sides for s in side.servers])
        for side, start in zip(sides, at_start, strict=True):
            side.outside_rounds_cpu = total_cpu(side.servers) - start - sum(side.cpu)
    return sides


# -- the AS: first token, introspection, refresh ------------------------------------------------


class OurFirstToken:
    def __init__(self, issuer: str, resource: str) -> None:
        self.issuer, self.resource = issuer, resource

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        await first_token(client, self.issuer, self.resource)


class PeerFirstToken:
    def __init__(self, issuer: str, resource: str) -> None:
        self.issuer, self.resource = issuer, resource

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        await peer_token_round_trip(client, self.issuer, self.resource)


class OurIntrospect:
    """One ``POST /introspect`` at our AS (Bearer introspection secret, RFC 7662 §2.1)."""

    def __init__(self, issuer: str, token: str) -> None:
        self.url = f"{issuer}/introspect"
        self.data = {"token": token, "token_type_hint": "access_token"}
        self.headers = {"Authorization": f"Bearer {INTROSPECTION_SECRET}"}

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        response = await client.post(self.url, data=self.data, headers=self.headers)
        if response.status_code != 200 or response.json().get("active") is not True:
            raise RequestFailed(f"introspect: HTTP {response.status_code} {response.text[:200]}")


async def as_first_token(
    auth: ServerProcess,
    resource: str,
    peer: PeerStack | None,
    sizes: CostSizes,
    no_lab: ServerProcess | None = None,
) -> list[Side]:
    """AS CPU per new client's first token, 4 clients at a time: ours, then (``no_lab``) an AS of
    this build with ``--no-lab``, then the peer's, all in one alternation."""
    sides = [Side("our AS", OurFirstToken(auth.base_url, resource), [auth])]
    if no_lab is not None:
        sides.append(Side("our AS --no-lab", OurFirstToken(no_lab.base_url, resource), [no_lab]))
    if peer is not None:
        peer_resource = f"{peer.rs.base_url}/mcp"
        sides.append(
            Side("peer AS", PeerFirstToken(peer.auth.base_url, peer_resource), [peer.auth])
        )
    return await alternate(sides, concurrency=4, seconds=sizes.round_seconds, rounds=sizes.rounds)


async def as_introspection(
    auth: ServerProcess,
    token: str,
    peer: PeerStack | None,
    peer_token: str | None,
    sizes: CostSizes,
    no_lab: tuple[ServerProcess, str] | None = None,
) -> list[Side]:
    """AS CPU per ``/introspect`` (8 callers): ours, then (``no_lab``: an AS of this build with
    ``--no-lab`` and a token of its own) that AS, then the peer's, all in one alternation."""
    sides = [Side("our AS", OurIntrospect(auth.base_url, token), [auth])]
    if no_lab is not None:
        server, its_token = no_lab
        sides.append(Side("our AS --no-lab", OurIntrospect(server.base_url, its_token), [server]))
    if peer is not None and peer_token is not None:
        sides.append(Side("peer AS", PeerIntrospect(peer.auth.base_url, peer_token), [peer.auth]))
    return await alternate(sides, concurrency=8, seconds=sizes.round_seconds, rounds=sizes.rounds)


class RefreshChains:
    """Request function: one refresh grant, each worker rotating its own chain."""

    def __init__(self, issuer: str, grants: list) -> None:
        self.issuer, self.grants = issuer, grants

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        await refresh_grant(client, self.issuer, self.grants[worker_id])


async def refresh_by_sync_mode(
    normal: ServerProcess, full: ServerProcess, resource: str, sizes: CostSizes
) -> list[Side]:
    """Refresh grants, 32 workers, on an AS with SQLite ``synchronous=NORMAL`` (the default) and
    one with ``FULL`` (fsync per commit), alternating rounds."""
    sides = []
    async with http_client(32) as client:
        for label, server in (("synchronous=NORMAL", normal), ("synchronous=FULL", full)):
            grants = [await first_token(client, server.base_url, resource) for _ in range(32)]
            sides.append(Side(label, RefreshChains(server.base_url, grants), [server]))
    return await alternate(sides, concurrency=32, seconds=sizes.round_seconds, rounds=sizes.rounds)


# -- the RS: the verified-token cache at scale, sessions, introspection ------------------------


def mint_distinct_tokens(as_database: Path, issuer: str, resource: str, count: int) -> list[str]:
    """``count`` distinct valid access tokens for ``resource``, signed with the AS's own key by
    its own minting function (issuing 10,000 through the flow would cost minutes of AS CPU;
    the RS cannot tell the difference, which is the point)."""
    from sqlmodel import create_engine

    from demo_as.jwt_access_tokens import AccessTokenClaims, mint_access_token
    from demo_as.keys import load_or_create_signing_key

    engine = create_engine(f"sqlite:///{as_database}")
    try:
        key = load_or_create_signing_key(engine)
    finally:
        engine.dispose()
    now = int(time.time())
    tokens = []
    for index in range(count):
        claims = AccessTokenClaims(
            issuer=issuer,
            subject=f"bench-user-{index}",
            audience=resource,
            client_id=f"bench-client-{index}",
            scopes=["notes:read", "notes:write", "notes:delete"],
            issued_at=now,
            lifetime=3600,
        )
        tokens.append(mint_access_token(claims, key)[0])
    return tokens


class WhoamiWithTokens:
    """Stateless ``tools/call whoami``, each request with the next token of a fixed list."""

    def __init__(self, url: str, tokens: list[str]) -> None:
        self.url = url
        self.body = encoded(tool_call("whoami", {}, 1, stateless=True))
        self.headers = [stateless_headers(token, "whoami") for token in tokens]
        self._next = itertools.cycle(self.headers)

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        response = await client.post(self.url, content=self.body, headers=next(self._next))
        successful_result(response)


async def with_retries(request: Callable, client: httpx2.AsyncClient, attempts: int = 3) -> None:
    """One request outside a timed run (a warm-up), retried on a dropped connection."""
    for attempt in range(attempts):
        try:
            await request(client, 0)
            return
        except httpx2.TransportError:
            if attempt == attempts - 1:
                raise


async def token_cache_scaling(
    rs: ServerProcess, as_database: Path, issuer: str, one_token: str, sizes: CostSizes
) -> list[Side]:
    """RS CPU per whoami with ``distinct_tokens`` tokens in turn vs one token, alternating.
    A first pass over every distinct token fills the cache, as a long-running workshop does."""
    url = f"{rs.base_url}/mcp"
    tokens = mint_distinct_tokens(as_database, issuer, url, sizes.distinct_tokens)
    many = WhoamiWithTokens(url, tokens)
    async with http_client(32) as client:
        for _ in range(len(tokens) // 32 + 1):
            await asyncio.gather(*(with_retries(many, client) for _ in range(32)))
    sides = [
        Side("1 token", WhoamiWithTokens(url, [one_token]), [rs]),
        Side(f"{len(tokens)} tokens", many, [rs]),
    ]
    return await alternate(
        sides, concurrency=32, seconds=sizes.round_seconds, rounds=sizes.rounds, warm_up=False
    )


@dataclass
class SessionMemory:
    sessions: int
    rss_before_kib: int
    rss_after_kib: int

    @property
    def kib_per_session(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.sessions

    @property
    def bound_mib(self) -> float:
        """Memory of the most sessions the RS holds at once (the SDK's and the gate's cap)."""
        return self.kib_per_session * MAX_SESSIONS / 1024


def rss_kib(server: ServerProcess) -> int:
    return int(server.rss_mb() * 1024)


async def session_memory(rs: ServerProcess, token: str, sizes: CostSizes) -> SessionMemory:
    """RSS growth of the RS per held 2025-11-25 session (``initialize`` +
    ``notifications/initialized``, then left open), after a warm-up of 20 sessions."""
    url = f"{rs.base_url}/mcp"
    async with http_client(8) as client:
        for _ in range(20):
            await open_session_async(client, url, token)
        before = rss_kib(rs)
        remaining = sizes.held_sessions
        while remaining:
            batch = min(8, remaining)
            await asyncio.gather(*(open_session_async(client, url, token) for _ in range(batch)))
            remaining -= batch
        await asyncio.sleep(0.5)
        return SessionMemory(sizes.held_sessions, before, rss_kib(rs))


async def introspection_vs_peer(
    ours: tuple[ServerProcess, ServerProcess, str],
    peer: PeerStack,
    peer_token: str,
    sizes: CostSizes,
) -> list[Side]:
    """whoami through our RS (``--token-check introspect``) and its AS ÷ the peer's tool call
    through its RS (pooled introspection) and its AS, 32 clients, alternating rounds."""
    rs, auth, token = ours
    sides = [
        Side(
            "our RS + AS (introspect)",
            WhoamiWithTokens(f"{rs.base_url}/mcp", [token]),
            [rs, auth],
        ),
        Side(
            "peer RS + AS (pooled introspection)",
            StatelessToolCall(f"{peer.rs.base_url}/mcp", peer_token, PEER_TOOL),
            [peer.rs, peer.auth],
        ),
    ]
    return await alternate(sides, concurrency=32, seconds=sizes.round_seconds, rounds=sizes.rounds)
