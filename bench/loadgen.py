"""The one load generator every figure comes from: asyncio workers on one ``httpx2.AsyncClient``.

A *request function* does one logical operation against a server and raises ``RequestFailed`` (or
any exception) when the answer is not the expected success; the generator counts successes,
failures and per-request latency for a fixed wall-clock duration. Nothing here knows about MCP or
OAuth: ``tests.harness.mcp_raw`` and ``tests.harness.oauth_flow`` (the test kit) and
``measurements.py`` build the request functions.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx2

RequestFunction = Callable[[httpx2.AsyncClient, int], Awaitable[None]]
MAX_ERROR_SAMPLES = 5


class RequestFailed(Exception):
    """The server answered, but not with the success the request function expected."""


def http_client(concurrency: int) -> httpx2.AsyncClient:
    """Keep-alive connections, one per concurrent worker; no proxies from the environment."""
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx2.AsyncClient(limits=limits, timeout=30.0, trust_env=False)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty list)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class LoadResult:
    """What one timed load run produced."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    server_cpu_seconds: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, fraction: float) -> float:
        return percentile(sorted(self.latencies), fraction) * 1000

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else 0.0

    @property
    def server_cpu_share(self) -> float | None:
        """Fraction of one core the server used during the run (1.0 = one core saturated)."""
        if self.server_cpu_seconds is None or not self.seconds:
            return None
        return self.server_cpu_seconds / self.seconds

    def record_error(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(f"{type(exc).__name__}: {exc}"[:300])


async def run_load(
    client: httpx2.AsyncClient,
    request: RequestFunction,
    *,
    concurrency: int,
    seconds: float,
    cpu_clock: Callable[[], float] | None = None,
) -> LoadResult:
    """Run ``concurrency`` workers calling ``request`` back to back for ``seconds`` seconds.

    Requests that start before the deadline are finished and counted; the rate is requests over
    the time until the last one finished. ``cpu_clock`` (a server's CPU-seconds counter) lets the
    result say whether the server, not the generator, was the bottleneck.
    """
    result = LoadResult()
    deadline = time.perf_counter() + seconds

    async def worker(worker_id: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await request(client, worker_id)
            except Exception as exc:
                result.record_error(exc)
            else:
                result.requests += 1
                result.latencies.append(time.perf_counter() - started)

    cpu_before = cpu_clock() if cpu_clock else None
    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    result.seconds = time.perf_counter() - began
    if cpu_clock is not None and cpu_before is not None:
        result.server_cpu_seconds = cpu_clock() - cpu_before
    return result
