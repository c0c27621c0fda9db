"""Bounds on what unauthenticated callers can make the AS store (issue #12.6).

Open dynamic registration (RFC 7591 §3) lets anyone who can reach the AS store a client: without
bounds, 300 maximal registrations in a few seconds grew the database by 7.7 MB. DESIGN.md's rule
is that storage unauthenticated callers can grow is bounded; refusals use the RFC 7591 §3.2.2
error body. Three bounds, all settings, all shown on the dashboard:

* a per-source rate: at most ``registration_rate_per_minute`` accepted registrations per client
  address in any 60 s, else 429 ``temporarily_unavailable`` with ``Retry-After``;
* a total cap: at most ``max_clients`` registered clients, else 400 ``temporarily_unavailable``
  saying when room is made;
* purging (housekeeping.py): clients that never completed an authorization are deleted after
  ``unused_client_ttl``, with expired codes and dead grants.

The per-source count lives in this process's memory: several AS processes on one database each
count on their own, and behind a reverse proxy every attendee is the proxy's address (see
docs/security-model.md for the workshop default).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

from demo_as import field_limits
from demo_as.errors import OAuthError
from demo_as.settings import Settings

WINDOW = 60.0
MAX_TRACKED_SOURCES = 10_000  # the rate limiter's own memory is bounded too


class RegistrationRate:
    """Sliding 60 s window of accepted registrations per source address (thread-safe)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, source: str, at: float | None = None) -> None:
        """Raise the 429 when ``source`` used up its window; else count one registration."""
        at = time.monotonic() if at is None else at
        with self._lock:
            times = self._seen.pop(source, deque())
            while times and times[0] <= at - WINDOW:
                times.popleft()
            if len(times) >= self.per_minute:
                self._seen[source] = times
                retry_after = max(1, math.ceil(times[0] + WINDOW - at))
                raise RegistrationRateExceeded(source, self.per_minute, retry_after)
            times.append(at)
            self._seen[source] = times
            while len(self._seen) > MAX_TRACKED_SOURCES:
                self._seen.popitem(last=False)


class RegistrationRateExceeded(OAuthError):
    """RFC 7591 §3.2.2 error body; RFC 6585 §4 429 with ``Retry-After`` (RFC 9110 §10.2.3)."""

    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, source: str, per_minute: int, retry_after: int) -> None:
        super().__init__(
            f"too many registrations from {source[:60]}: at most {per_minute} a minute per "
            f"address; retry in {retry_after} s (register once and reuse the client_id)"
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RegistryFull(OAuthError):
    """RFC 7591 §3.2.2: the total cap; says when unused clients make room."""

    error = "temporarily_unavailable"

    def __init__(self, max_clients: int, unused_client_ttl: int) -> None:
        super().__init__(
            f"this AS keeps at most {max_clients} registered clients and is full; clients that "
            f"never complete an authorization are deleted {unused_client_ttl} s after "
            "registering, so try again later (or ask the operator to raise --max-clients)"
        )


def registration_bounds(settings: Settings) -> list[tuple[str, str]]:
    """The bounds as the dashboard shows them: (what, value)."""
    row_bytes = (
        field_limits.REDIRECT_URIS_TOTAL + field_limits.CLIENT_NAME + field_limits.SCOPE + 600
    )
    worst = settings.max_clients * row_bytes / 1_000_000
    return [
        ("registrations per address", f"{settings.registration_rate_per_minute} a minute (429)"),
        ("registered clients at most", f"{settings.max_clients} (400 beyond)"),
        (
            "unused clients deleted after",
            f"{settings.unused_client_ttl} s without an authorization",
        ),
        (
            "metadata per client",
            f"{field_limits.REDIRECT_URIS} redirect URIs, {field_limits.REDIRECT_URIS_TOTAL} "
            f"characters in all; client_name {field_limits.CLIENT_NAME}; scope "
            f"{field_limits.SCOPE}",
        ),
        ("clients table, worst case", f"about {worst:.0f} MB"),
        ("also purged", "codes 10 min after expiry; grants no token of which can work again"),
    ]
