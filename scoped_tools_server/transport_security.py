"""Transport-level protections: DNS-rebinding (Host/Origin) and session-to-principal binding.

DNS rebinding: a web page on ``evil.example`` can make the browser resolve its own name to
127.0.0.1 and talk to a local server. The browser still sends ``Host: evil.example`` and
``Origin: http://evil.example``, so checking both stops it (MCP transports §Security Warning:
"Servers MUST validate the Origin header on all incoming connections"; checklist B-29, B-31).

Sessions: MCP 2025-11-25 security best practices §Session Hijacking: servers "MUST NOT use
sessions for authentication" and "SHOULD bind session IDs to user-specific information". Every
request is authenticated by its own token; the session id only selects state, and it must have
been opened by the same principal (checklist B-25).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
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
    """DNS-rebinding protection, Host half (checklist B-31): the Host must name *this* server."""
    if host_header is None:
        return False
    parsed = split_host_header(host_header, DEFAULT_PORTS.get(scheme))
    return parsed is not None and parsed in allowed


def origin_is_allowed(origin: str | None, resource_url: str, extra_origins: Iterable[str]) -> bool:
    """DNS-rebinding protection, Origin half (MCP transports §Security Warning; checklist B-29).

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


class SessionOwners:
    """Which principal opened which ``Mcp-Session-Id`` (bounded, oldest forgotten first)."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self._owners: OrderedDict[str, Principal] = OrderedDict()
        self._max = max_sessions

    def record(self, session_id: str, principal: Principal) -> None:
        self._owners[session_id] = principal
        self._owners.move_to_end(session_id)
        while len(self._owners) > self._max:
            self._owners.popitem(last=False)

    def forget(self, session_id: str) -> None:
        self._owners.pop(session_id, None)

    def may_use(self, session_id: str, principal: Principal) -> bool:
        """False only when the session is known and was opened by someone else. Unknown ids go on
        to the SDK, which answers 404 for them (MCP 2025-11-25 transports §Session Management)."""
        owner = self._owners.get(session_id)
        return owner is None or owner == principal
