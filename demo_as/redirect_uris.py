"""Redirect URI rules, as small pure functions (the mission's core hardening).

Registration accepts only loopback redirect URIs; /authorize compares exactly, with RFC 8252 §7.3
port flexibility behind a switch (``--loopback-any-port``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from demo_as import field_limits

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MAX_REDIRECT_URIS = field_limits.REDIRECT_URIS
MAX_REDIRECT_URI_LENGTH = field_limits.REDIRECT_URI
ALLOWED_FORMS = (
    "redirect URIs must use scheme http or https with host exactly 127.0.0.1, localhost or [::1], "
    "an optional valid port (1-65535), a path, no userinfo, no fragment and no wildcard, e.g. "
    "http://127.0.0.1:33418/callback (this demo AS only accepts loopback redirect URIs)"
)


def split_authority(netloc: str) -> tuple[str, str | None, str | None]:
    """``(host, port, userinfo)`` of an authority, with the host kept as written (RFC 3986 §3.2)."""
    userinfo, at, hostport = netloc.rpartition("@")
    userinfo_or_none = userinfo if at else None
    if hostport.startswith("["):
        host, bracket, rest = hostport.partition("]")
        host += bracket
        port = rest[1:] if rest.startswith(":") else (None if not rest else rest)
    else:
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
    return host, port, userinfo_or_none


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` may not be registered, or None when it is acceptable.

    Rules: OAuth 2.1 draft-13 §2.3 (absolute URI, no fragment) and §1.5 (https, or http on
    loopback); RFC 8252 §7.3/§8.3 (loopback redirect URIs for native apps); RFC 9700 §4.1
    (no wildcards, exact registration); RFC 3986 §3.2.1 (no userinfo, which enables
    ``http://127.0.0.1@evil.example`` confusions). This AS narrows the allowed set to loopback
    hosts only (DESIGN.md "Hardening"), refusing every https web callback.
    """
    if not isinstance(uri, str) or not uri:
        return "a redirect URI must be a non-empty string"
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        return f"a redirect URI may be at most {MAX_REDIRECT_URI_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        return "a redirect URI must not contain whitespace or control characters"
    if "*" in uri:
        return "wildcards are not allowed in redirect URIs (RFC 9700 §4.1.3)"
    if "#" in uri:
        return "a redirect URI must not contain a fragment (OAuth 2.1 §2.3)"
    try:
        parts = urlsplit(uri)
    except ValueError:  # e.g. an unbalanced "[" in the authority
        return "the redirect URI is not a well-formed absolute URI (RFC 3986)"
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https, written in lower case"
    if not uri.startswith(parts.scheme + "://"):
        return "a redirect URI must be absolute: scheme://host[:port]/path"
    host, port, userinfo = split_authority(parts.netloc)
    if userinfo is not None:
        return "a redirect URI must not contain userinfo (user@host)"
    if host not in LOOPBACK_HOSTS:
        return f"host {host!r} is not a loopback host (127.0.0.1, localhost or [::1])"
    if port is not None and not port_is_valid(port):
        return f"port {port!r} is not a number between 1 and 65535"
    return None


def port_is_valid(port: str) -> bool:
    """RFC 3986 §3.2.3 port digits, limited to the TCP range 1-65535."""
    return port.isascii() and port.isdigit() and len(port) <= 5 and 1 <= int(port) <= 65535


def redirect_uris_problem(uris: object) -> str | None:
    """RFC 7591 §2: ``redirect_uris`` is required for the code grant; every entry must pass
    ``redirect_uri_problem``. Returns the first problem, naming the offending URI."""
    if not isinstance(uris, list) or not uris:
        return "redirect_uris is required and must be a non-empty array of strings"
    if len(uris) > MAX_REDIRECT_URIS:
        return f"at most {MAX_REDIRECT_URIS} redirect URIs may be registered"
    if sum(len(uri) for uri in uris if isinstance(uri, str)) > field_limits.REDIRECT_URIS_TOTAL:
        return (
            f"the redirect URIs may total at most {field_limits.REDIRECT_URIS_TOTAL} characters "
            "(registration is unauthenticated, so what it stores is bounded)"
        )
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem:
            shown = uri[:200] if isinstance(uri, str) else repr(uri)[:200]
            return f"{shown!r} refused: {problem}. Allowed: {ALLOWED_FORMS}"
    return None


def is_loopback_http(uri: str) -> bool:
    """RFC 8252 §7.3: a loopback IP redirect URI uses http and a loopback host."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    host, port, userinfo = split_authority(parts.netloc)
    # RFC 3986 §3.2.3: only digits may follow the colon. Anything else (``5000\\``) is read
    # differently by browsers (WHATWG URL), so it must never reach the port-blind comparison.
    port_ok = port is None or port_is_valid(port)
    return (
        parts.scheme == "http"
        and userinfo is None
        and host in LOOPBACK_HOSTS
        and port_ok
        and "\\" not in uri
    )


def without_port(uri: str) -> str:
    """``uri`` with the port removed from its authority (for RFC 8252 §7.3 comparison)."""
    parts = urlsplit(uri)
    host, _port, _userinfo = split_authority(parts.netloc)
    return parts._replace(netloc=host).geturl()


def redirect_uri_matches(registered: str, presented: str, *, loopback_any_port: bool) -> bool:
    """Does ``presented`` match the ``registered`` redirect URI?

    OAuth 2.1 draft-13 §4.1.1 / RFC 9700 §2.1: simple string comparison (RFC 3986 §6.2.1).
    With ``loopback_any_port``, RFC 8252 §7.3: when both are loopback http URIs the port is
    ignored; scheme, host (``localhost`` is not ``127.0.0.1``), path and query still compare
    exactly. Off by default here, so a client must call back on the port it registered.
    """
    if registered == presented:
        return True
    if not loopback_any_port:
        return False
    if not (is_loopback_http(registered) and is_loopback_http(presented)):
        return False
    return without_port(registered) == without_port(presented)


def find_registered_redirect_uri(
    registered: list[str], presented: str, *, loopback_any_port: bool
) -> bool:
    """True when ``presented`` matches one of the client's registered redirect URIs."""
    return any(
        redirect_uri_matches(uri, presented, loopback_any_port=loopback_any_port)
        for uri in registered
    )
