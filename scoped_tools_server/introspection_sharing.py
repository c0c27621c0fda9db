"""Concurrent requests with one token share one introspection call, never an older one.

``--token-check introspect`` exists for immediate revocation: each request must be judged by
what the AS said *after the request arrived* (RFC 7662 §4 weighs this freshness against the cost
of a round trip per request). A client that sends several requests at once with the same token
(an agent calling tools in parallel, a load test) would otherwise cost one round trip each,
although one answer would do for all of them, as long as it is fresh for every one.

The rule, per token:

- at most one introspection call is in flight;
- a request that arrives while none is in flight starts one (it is sent on the event loop's next
  turn, so requests arriving in the same turn join it);
- a request that arrives once a call has been sent does *not* take its answer (that call may
  predate a revocation): it waits for the *next* call, which is sent as soon as the current one
  ends (so after every request waiting for it arrived) and answers all of them at once.

So every request gets an answer the AS gave after it arrived, exactly as with one call per
request, and a burst of N requests costs at most two calls per round trip instead of N. Nothing is
kept once no request waits: this is not a cache. Calls are keyed by the token's SHA-256, so no
bearer string is held here (``token_verification.VerifiedTokenCache`` does the same).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Answer = dict[str, Any]


def _new_future() -> asyncio.Future[Answer]:
    future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
    # Every waiter may have gone (client disconnects): the outcome is then read by nobody, which
    # is fine; mark it read so asyncio does not warn about it.
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
    return future


@dataclass
class _Flight:
    """One token's calls: the one in flight, and the one its latecomers wait for."""

    current: asyncio.Future[Answer] = field(default_factory=_new_future)
    sent: bool = False  # the current call has been sent: later arrivals wait for the next
    following: asyncio.Future[Answer] | None = None
    driver: asyncio.Task[None] | None = None  # held: the loop keeps only weak task references


class SharedIntrospections:
    """Runs ``call(token)`` by the rule above; ``introspect`` is what a request awaits."""

    def __init__(self, call: Callable[[str], Awaitable[Answer]]) -> None:
        self._call = call
        self._flights: dict[bytes, _Flight] = {}

    def __len__(self) -> int:
        """Tokens with a call in flight (0 when nothing is being checked)."""
        return len(self._flights)

    async def introspect(self, token: str) -> Answer:
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        flight = self._flights.get(key)
        if flight is None:
            flight = self._flights[key] = _Flight()
            future = flight.current
            flight.driver = asyncio.get_running_loop().create_task(self._drive(key, token, flight))
        elif not flight.sent:
            future = flight.current
        else:
            if flight.following is None:
                flight.following = _new_future()
            future = flight.following
        # shield: a request that goes away must not cancel the call the others wait for.
        return dict(await asyncio.shield(future))

    async def _drive(self, key: bytes, token: str, flight: _Flight) -> None:
        """Make calls while requests wait for one; forget the token when none does."""
        try:
            while True:
                flight.sent = True
                try:
                    answer = await self._call(token)
                except Exception as exc:  # each waiter raises what the call raised
                    flight.current.set_exception(exc)
                else:
                    flight.current.set_result(answer)
                if flight.following is None:
                    return
                flight.current, flight.following = flight.following, None
        finally:  # also when cancelled (shutdown): nobody may wait forever
            del self._flights[key]
            for waiting in (flight.current, flight.following):
                if waiting is not None and not waiting.done():
                    waiting.cancel()
