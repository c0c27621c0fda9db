"""Fire N requests at the same instant from N threads, each on its own connection.

All workers wait on one barrier and then connect and send together, so the requests really
overlap inside the server instead of arriving one by one. (Connections are not opened before the
barrier: with hundreds of workers the wait can outlast uvicorn's 5 s keep-alive timeout, and a
POST on a connection the server just closed is not retried by any HTTP client.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx2

T = TypeVar("T")


def at_once(
    n: int,
    base_urls: list[str],
    request: Callable[[httpx2.Client, str, int], T],
    timeout: float = 60.0,
) -> list[T]:
    """Run ``request(client, base_url, i)`` for i in range(n), all released together.

    Workers are spread round-robin over ``base_urls`` (several server processes on one database);
    ``timeout`` bounds each HTTP request.
    """
    barrier = threading.Barrier(n, timeout=60)

    def worker(i: int) -> T:
        base_url = base_urls[i % len(base_urls)]
        with httpx2.Client(timeout=timeout) as client:
            barrier.wait()
            return request(client, base_url, i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(worker, range(n)))
