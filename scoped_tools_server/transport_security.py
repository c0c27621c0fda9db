"""Transport-level protections: DNS-rebinding (Host/Origin) and session-to-principal binding.

DNS rebinding: a web page on ``evil.example`` can make the browser resolve its own name to
127.0.0.1 and talk to a local server. The browser still sends ``Host: evil.example`` and
``Origin: http://evil.example``, so checking both stops it (MCP transports §Security Warning:
"Servers MUST validate the Origin header on all incoming connections").

Sessions: MCP 2025-11-25 security best practices §Session Hijacking: servers "MUST NOT use
sessions for authentication" and "SHOULD bind session IDs to user-specific information". Every
request is authenticated by its own token; the session id only selects state, and it must have
been opened by the same principal.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

LOOPBACK_HOSTNAMES = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}

HostPort = tuple[str, int | None]
Principal = tuple[str, str, str]
"""(issuer, subject, client_id): the same components the SDK's ``principal_components`` uses."""


def split_host_header(value: str, default_port: int | None = None) -> HostPort | None:
    """Parse ``host[:port]`` (RFC 9110 §7.2, IPv6 in brackets) into (lowercased host, port)."""
    if not value or any(c in value for c in "/?#@ \t"):
        return None
    try:
        parts = urlsplit("//" + value)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), port if port is not None else default_port


def allowed_host_set(resource_url: str, extra_hosts: Iterable[str]) -> frozenset[HostPort]:
    """The resource URL's own host:port, plus operator-configured extras (containers, proxies)."""
    parts = urlsplit(resource_url)
    default_port = DEFAULT_PORTS.get(parts.scheme)
    hosts: set[HostPort] = set()
    own = split_host_header(parts.netloc, default_port)
    if own is not None:
        hosts.add(own)
    for extra in extra_hosts:
        parsed = split_host_header(extra, default_port)
        if parsed is not None:
            hosts.add(parsed)
    return frozenset(hosts)


def host_is_allowed(host_header: str | None, allowed: frozenset[HostPort], scheme: str) -> bool:
    """DNS-rebinding protection, Host half (MCP transports §Security Warning): the Host must
    name *this* server."""
    if host_header is None:
        return False
    parsed = split_host_header(host_header, DEFAULT_PORTS.get(scheme))
    return parsed is not None and parsed in allowed


def origin_is_allowed(origin: str | None, resource_url: str, extra_origins: Iterable[str]) -> bool:
    """DNS-rebinding protection, Origin half (MCP transports §Security Warning).

    Absent Origin (non-browser clients) is fine. A present one must be a loopback origin, the
    resource URL's own origin, or one the operator listed. ``Origin: null`` (sandboxed or opaque
    origins) is refused.
    """
    if origin is None:
        return True
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return False
    if parts.hostname.lower() in LOOPBACK_HOSTNAMES:
        return True
    normalized = f"{parts.scheme}://{parts.hostname.lower()}" + (f":{port}" if port else "")
    own = urlsplit(resource_url)
    own_origin = f"{own.scheme}://{own.netloc.lower()}"
    listed = {o.rstrip("/").lower() for o in extra_origins}
    return normalized in listed or normalized == own_origin or origin.lower() in listed


SESSION_IDLE_TIMEOUT_SECONDS = 30 * 60
"""Idle lifetime of a session, shared with the SDK session manager (its default, made explicit)."""

MAX_SESSIONS = 10_000
"""Most 2025-11-25 sessions held at once, shared with the SDK session manager (its default, made
explicit): a request that would open one more gets 503. With ~40 KiB per held session
(bench/results.md, ``session_kib``) that bounds session state to about 400 MiB."""


class SessionOwners:
    """Which principal opened which ``Mcp-Session-Id``. Fails closed: an id this table does not
    know (never recorded, expired, or not recorded because the table was full) is refused, so no
    amount of session churn can make someone else's live session usable.

    Entries expire after the same idle time as the SDK's sessions; every request and every response
    message on a session refreshes it. A legitimate client whose entry expired early gets 404 and
    opens a new session, which is its normal recovery (MCP 2025-11-25 transports §Session
    Management).
    """

    def __init__(
        self,
        max_sessions: int = MAX_SESSIONS,
        idle_timeout: float = SESSION_IDLE_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._owners: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._max = max_sessions
        self._idle_timeout = idle_timeout
        self._clock = clock

    def _purge_expired(self) -> None:
        deadline = self._clock() - self._idle_timeout
        while self._owners:
            oldest_id, (_, last_seen) = next(iter(self._owners.items()))
            if last_seen > deadline:
                break
            del self._owners[oldest_id]

    def record(self, session_id: str, principal: Principal) -> bool:
        """Remember the owner of a new session; False (session unusable) when the table is full."""
        self._purge_expired()
        if session_id not in self._owners and len(self._owners) >= self._max:
            return False
        self._owners[session_id] = (principal, self._clock())
        self._owners.move_to_end(session_id)
        return True

    def touch(self, session_id: str) -> None:
        entry = self._owners.get(session_id)
        if entry is not None:
            self._owners[session_id] = (entry[0], self._clock())
            self._owners.move_to_end(session_id)

    def forget(self, session_id: str) -> None:
        self._owners.pop(session_id, None)

    def may_use(self, session_id: str, principal: Principal) -> bool:
        """True only for a live session opened by ``principal`` (which also refreshes it)."""
        self._purge_expired()
        entry = self._owners.get(session_id)
        if entry is None or entry[0] != principal:
            return False
        self.touch(session_id)
        return True
