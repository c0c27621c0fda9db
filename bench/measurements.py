"""Each figure's measurement: one async function per figure (or pair of figures).

Everything that crosses HTTP goes through ``loadgen.run_load`` or the same ``httpx2`` client, so
every figure comes from one tool. ``verify_us``/``verify_limit_us`` are the exception by design:
they time the gate's token check in this process, where HTTP would drown a microsecond figure.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from joserfc import jws
from loadgen import LoadResult, http_client, percentile, run_load

from scoped_tools_server.jwks import JwksCache
from scoped_tools_server.scope_gate import bearer_token
from scoped_tools_server.token_verification import JwtTokenVerifier
from tests.harness.mcp_raw import (
    call_tool_async,
    encoded,
    open_session_async,
    stateless_headers,
    successful_result,
    tool_call,
)
from tests.harness.oauth_flow import Grant, first_token, refresh_grant
from tests.harness.subprocess_servers import ServerProcess, console_script


@dataclass
class TokenTimings:
    round_trips_ms: list[float]

    @property
    def p50_ms(self) -> float:
        return percentile(sorted(self.round_trips_ms), 0.50)

    @property
    def p95_ms(self) -> float:
        return percentile(sorted(self.round_trips_ms), 0.95)


async def measure_token_round_trips(issuer: str, resource: str, count: int) -> TokenTimings:
    """``count`` sequential registration + authorization + exchange round trips (3 warm-ups)."""
    timings: list[float] = []
    async with http_client(1) as client:
        for index in range(count + 3):
            started = time.perf_counter()
            await first_token(client, issuer, resource)
            if index >= 3:
                timings.append((time.perf_counter() - started) * 1000)
    return TokenTimings(timings)


async def measure_refresh_throughput(
    issuer: str, resource: str, *, concurrency: int, seconds: float, cpu_clock: Any
) -> LoadResult:
    """``/token`` refresh grants per second, each worker rotating its own grant's refresh token."""
    async with http_client(concurrency) as client:
        grants = [await first_token(client, issuer, resource) for _ in range(concurrency)]

        async def one_refresh(http: httpx2.AsyncClient, worker_id: int) -> None:
            await refresh_grant(http, issuer, grants[worker_id])

        return await run_load(
            client, one_refresh, concurrency=concurrency, seconds=seconds, cpu_clock=cpu_clock
        )


async def obtain_token(issuer: str, resource: str) -> Grant:
    async with http_client(1) as client:
        return await first_token(client, issuer, resource)


@dataclass
class VerifyTimings:
    gate_us: float
    limit_us: float


def best_mean_us(samples: list[float], iterations: int) -> float:
    """Best of several timed batches, per operation: the least disturbed estimate."""
    return min(samples) / iterations * 1e6


async def measure_verify(
    issuer: str, resource_url: str, token: str, *, iterations: int, repeats: int = 5
) -> VerifyTimings:
    """The gate's per-request token check (``bearer_token`` + ``JwtTokenVerifier.verify`` with a
    warm JWKS cache, exactly what ``ScopeGate._authenticate`` runs) next to the floor: one bare
    joserfc ES256 ``deserialize_compact`` of the same token with the same key."""
    from starlette.datastructures import Headers

    keys = JwksCache(issuer, issuer)
    verifier = JwtTokenVerifier(keys, issuer=issuer, resource_url=resource_url)
    headers = Headers(raw=[(b"authorization", f"Bearer {token}".encode())])
    await verifier.verify(token)  # loads the JWKS once
    key = await keys.key_for(str(jws.extract_compact(token.encode()).headers()["kid"]))
    assert key is not None

    gate_batches: list[float] = []
    limit_batches: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(iterations):
            await verifier.verify(bearer_token(headers, b""))
        gate_batches.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(iterations):
            jws.deserialize_compact(token, key, algorithms=["ES256"])
        limit_batches.append(time.perf_counter() - started)
    return VerifyTimings(
        best_mean_us(gate_batches, iterations), best_mean_us(limit_batches, iterations)
    )


@dataclass
class PairedThroughput:
    """Alternating rounds on two servers: ``a`` and ``b`` results per round."""

    a: list[LoadResult] = field(default_factory=list)
    b: list[LoadResult] = field(default_factory=list)

    @staticmethod
    def _rate(results: list[LoadResult]) -> float:
        seconds = sum(r.seconds for r in results)
        return sum(r.requests for r in results) / seconds if seconds else 0.0

    @property
    def a_rps(self) -> float:
        return self._rate(self.a)

    @property
    def b_rps(self) -> float:
        return self._rate(self.b)

    @property
    def ratio(self) -> float:
        """a's throughput over b's."""
        return self.a_rps / self.b_rps if self.b_rps else 0.0

    @staticmethod
    def _cpu_us(results: list[LoadResult]) -> float:
        requests = sum(r.requests for r in results)
        cpu = sum(r.server_cpu_seconds or 0.0 for r in results)
        return cpu / requests * 1e6 if requests else 0.0

    @property
    def a_cpu_us(self) -> float:
        """Server CPU time per request on ``a`` (µs): insensitive to other load on the machine."""
        return self._cpu_us(self.a)

    @property
    def b_cpu_us(self) -> float:
        return self._cpu_us(self.b)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.a + self.b)

    @property
    def error_samples(self) -> list[str]:
        return [sample for r in self.a + self.b for sample in r.error_samples][:5]


async def measure_paired_whoami(
    a: tuple[ServerProcess, str],
    b: tuple[ServerProcess, str],
    *,
    concurrency: int,
    seconds: float,
    rounds: int,
) -> PairedThroughput:
    """Stateless ``tools/call whoami`` throughput of two servers, ``rounds`` alternating rounds
    each (order flipped every round so drift and warm-up hit both alike), after a warm-up."""
    (server_a, token_a), (server_b, token_b) = a, b
    call_a = StatelessToolCall(f"{server_a.base_url}/mcp", token_a)
    call_b = StatelessToolCall(f"{server_b.base_url}/mcp", token_b)
    paired = PairedThroughput()
    async with http_client(concurrency) as client:
        for call in (call_a, call_b):  # warm-up: JWKS fetch, connections, caches
            await run_load(client, call, concurrency=concurrency, seconds=min(1.0, seconds))
        for index in range(rounds):
            order = [(call_a, server_a, paired.a), (call_b, server_b, paired.b)]
            for call, server, results in order if index % 2 == 0 else order[::-1]:
                result = await run_load(
                    client,
                    call,
                    concurrency=concurrency,
                    seconds=seconds,
                    cpu_clock=server.cpu_seconds,
                )
                results.append(result)
    return paired


class StatelessToolCall:
    """The request function of the throughput figures: stateless ``tools/call`` of ``tool``
    (default ``whoami``), its body and headers encoded once."""

    def __init__(self, url: str, token: str, tool: str = "whoami") -> None:
        self.url = url
        self.body = encoded(tool_call(tool, {}, 1, stateless=True))
        self.headers = stateless_headers(token, tool)

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        response = await client.post(self.url, content=self.body, headers=self.headers)
        successful_result(response)


class NotesWorkload:
    """The load run's request mix, per worker: create_note → read_note → list_notes →
    delete_note → whoami, over and over (notes stay bounded). Even workers use 2026-07-28
    stateless requests, odd workers a 2025-11-25 session each."""

    STEPS = ("create_note", "read_note", "list_notes", "delete_note", "whoami")

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.step: dict[int, int] = {}
        self.note_id: dict[int, int] = {}
        self.session: dict[int, str] = {}

    async def __call__(self, client: httpx2.AsyncClient, worker_id: int) -> None:
        if worker_id % 2 == 1 and worker_id not in self.session:
            self.session[worker_id] = await open_session_async(client, self.url, self.token)
            return
        step = self.step.get(worker_id, 0)
        tool = self.STEPS[step]
        arguments: dict[str, Any] = {}
        if tool == "create_note":
            arguments = {"title": f"bench {worker_id}", "body": "load run"}
        elif tool in ("read_note", "delete_note"):
            arguments = {"note_id": self.note_id[worker_id]}
        result = await call_tool_async(
            client, self.url, self.token, tool, arguments, session_id=self.session.get(worker_id)
        )
        if tool == "create_note":
            self.note_id[worker_id] = int(result["structuredContent"]["id"])
        self.step[worker_id] = (step + 1) % len(self.STEPS)


async def measure_load(
    server: ServerProcess, token: str, *, concurrency: int, seconds: float
) -> LoadResult:
    workload = NotesWorkload(f"{server.base_url}/mcp", token)
    async with http_client(concurrency) as client:
        return await run_load(
            client, workload, concurrency=concurrency, seconds=seconds, cpu_clock=server.cpu_seconds
        )


@dataclass
class StoryTimings:
    seconds: list[float]
    first_line: list[float]
    cpu_seconds: list[float]
    failures: list[str]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else 0.0

    @property
    def median_first_line(self) -> float:
        return statistics.median(self.first_line) if self.first_line else 0.0

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else 0.0


def run_story_once(workdir: Any, env: dict[str, str], timings: StoryTimings) -> None:
    """One ``demo-client story`` through the installed console script: wall time, time to the
    first line of output, CPU time (user + system, from ``wait4``)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*console_script("demo-client"), "story"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    first_line = time.perf_counter() - started
    rest = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = (first + rest).decode(errors="replace")[-1500:]
        timings.failures.append(f"exit {process.returncode}: {tail}")
    else:
        timings.seconds.append(elapsed)
        timings.first_line.append(first_line)
        timings.cpu_seconds.append(usage.ru_utime + usage.ru_stime)


def measure_story(
    runs: int, workdir: Path, *, with_cache: bool = True
) -> tuple[StoryTimings, StoryTimings]:
    """``demo-client story`` (embedded mode: it starts its own AS and RS) as installed, and with
    a bytecode cache (``PYTHONPYCACHEPREFIX`` in ``workdir``, filled by one unmeasured run), in
    alternating runs. The first is what a workshop attendee gets on a machine that keeps no
    bytecode (this one sets PYTHONDONTWRITEBYTECODE); the second what any other machine gets
    from its second run on. ``with_cache=False`` (``--quick``) runs only the first."""
    installed_env = dict(os.environ)
    cached_env = {**os.environ, "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}
    filling_env = {k: v for k, v in cached_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    installed, cached = StoryTimings([], [], [], []), StoryTimings([], [], [], [])
    if with_cache:
        run_story_once(workdir, filling_env, StoryTimings([], [], [], []))
    for index in range(runs):
        order = [(installed_env, installed)] + ([(cached_env, cached)] if with_cache else [])
        for env, timings in order if index % 2 == 0 else order[::-1]:
            run_story_once(workdir, env, timings)
    return installed, cached


def bytecode_line() -> str:
    """Whether the venv's third-party code has bytecode on disk: without it (this machine sets
    PYTHONDONTWRITEBYTECODE and uv is not told to compile) every story compiles it again."""
    import sys
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    compiled = any(site.glob("fastapi/__pycache__/*.pyc"))
    flag = "set" if sys.flags.dont_write_bytecode else "not set"
    return (
        f"bytecode in site-packages: {'yes' if compiled else 'no'}; PYTHONDONTWRITEBYTECODE {flag}"
    )
