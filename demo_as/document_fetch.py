"""Fetching a client ID metadata document safely (draft-ietf-oauth-client-id-metadata-document-00
§4.3, §4.4, §6.5, §6.6): https only, every resolved address public (unless the host is allowed by
``--cimd-allowed-host``), connected to the address that was checked, no redirects, a total time
limit, a size cap, JSON only, and the response's caching headers turned into a lifetime.

The connection goes to the checked IP address while TLS still verifies the certificate for the
host name (SNI + hostname check via httpx2's ``sni_hostname``), so a DNS answer that changes
between the check and the fetch (DNS rebinding) cannot redirect the request to a private address.
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2

from demo_as.client_metadata_documents import (
    AddressRefused,
    DocumentNotFetched,
    DocumentTooLarge,
    InvalidDocument,
    content_type_problem,
)
from demo_as.redirect_uris import split_authority

MAX_DOCUMENT_BYTES = 5 * 1024  # CIMD §6.6: "The recommended maximum response size ... 5 kilobytes"
FETCH_TIMEOUT_SECONDS = 5.0  # DNS + connect + TLS + response, in total
DEFAULT_CACHE_SECONDS = 300  # a 200 without explicit freshness (RFC 9111 §4.2.2 heuristic)
MAX_CACHE_SECONDS = 24 * 3600  # CIMD §4.4 allows bounds; SEP-991: "max 24 hours recommended"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class FetchedDocument:
    """A 200 response's JSON text and how long it may be reused."""

    body: bytes
    address: str
    cache_seconds: int


def address_problem(address: IPAddress) -> str | None:
    """CIMD §6.5: "SHOULD avoid fetching any URLs using private or loopback addresses". Only
    globally routable unicast addresses are fetched (RFC 6890 special-purpose registries);
    an IPv4-mapped IPv6 address is judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind, flagged in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flagged:
            return f"{address} is a {kind} address"
    if not address.is_global:
        return f"{address} is not a public (globally routable) address"
    return None


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# getaddrinfo has no timeout of its own: it runs on these few threads so that a slow resolver
# costs a request at most the time limit (a stuck lookup keeps one thread until it returns).
_resolver_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cimd-dns")


def resolve_within(resolver: Resolver, host: str, port: int, url: str, timeout: float) -> list[str]:
    """``resolver(host, port)``, or ``DocumentNotFetched`` if it fails or takes too long."""
    try:
        return _resolver_threads.submit(resolver, host, port).result(timeout=timeout)
    except FutureTimeout:
        raise DocumentNotFetched(url, f"{host} was not resolved within {timeout:g} s") from None
    except (OSError, UnicodeError) as error:
        raise DocumentNotFetched(url, f"the host {host} could not be resolved ({error})") from None


def checked_addresses(url: str, host: str, addresses: Iterable[str], allowed: bool) -> list[str]:
    """CIMD §6.5 after DNS resolution: refuse when ANY address is non-public (a name with one
    public and one private address could otherwise be steered to the private one), unless the
    host is named by ``--cimd-allowed-host``."""
    found = list(addresses)
    if not found:
        raise DocumentNotFetched(url, f"{host} does not resolve to any address")
    if allowed:
        return found
    for text in found:
        if problem := address_problem(ipaddress.ip_address(text.split("%", 1)[0])):
            raise AddressRefused(
                url,
                f"{host} resolves to {problem}; this server does not fetch documents from "
                "non-public addresses unless the host is allowed with --cimd-allowed-host "
                "(workshops and tests only)",
            )
    return found


def cache_lifetime(headers: httpx2.Headers, now: float) -> int:
    """Seconds the document may be reused (CIMD §4.4: "SHOULD respect HTTP cache headers", with
    this server's bounds 0..24 h). RFC 9111 §5.2.2: ``no-store``/``no-cache`` mean no reuse
    (no revalidation is done here); ``max-age`` beats ``Expires`` (§5.3); ``Age`` is subtracted."""
    directives = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return 0
    age = _int(headers.get("age")) or 0
    if "max-age" in directives:
        lifetime = _int(directives["max-age"])
        return _bounded((lifetime or 0) - age)
    if "expires" in headers:
        expires = _http_date(headers["expires"])
        date = _http_date(headers.get("date", "")) or now
        return _bounded(int(expires - date) - age if expires else 0)
    return _bounded(DEFAULT_CACHE_SECONDS - age)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None  # RFC 9111 §5.3: an invalid Expires means "already expired"


def _bounded(seconds: int) -> int:
    return max(0, min(seconds, MAX_CACHE_SECONDS))


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The system's trusted CAs, plus ``--cimd-ca-bundle`` when given (tests, workshops)."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def url_for_address(url: str, address: str) -> str:
    """``url`` with its host replaced by the checked IP address (brackets for IPv6)."""
    parts = urlsplit(url)
    _host, port, _userinfo = split_authority(parts.netloc)
    literal = f"[{address}]" if ":" in address else address
    return parts._replace(netloc=f"{literal}:{port or 443}").geturl()


def fetch_document(
    url: str,
    *,
    allowed_hosts: Iterable[str],
    context: ssl.SSLContext,
    resolver: Resolver = resolve_host,
    timeout: float = FETCH_TIMEOUT_SECONDS,
) -> FetchedDocument:
    """GET the document at ``url`` (already checked by ``client_id_url_problem``) or raise the
    error of the rule it broke. Nothing is cached or stored here."""
    parts = urlsplit(url)
    host, port_text, _userinfo = split_authority(parts.netloc)
    host_for_dns = host.strip("[]")
    port = int(port_text) if port_text else 443
    deadline = time.monotonic() + timeout
    found = resolve_within(resolver, host_for_dns, port, url, timeout)
    allowed = host.lower() in {name.lower() for name in allowed_hosts}
    address = checked_addresses(url, host, found, allowed)[0]
    remaining = max(0.1, deadline - time.monotonic())
    try:
        with (
            # trust_env=False: no HTTPS_PROXY detour around the address check.
            httpx2.Client(verify=context, trust_env=False, timeout=remaining) as client,
            client.stream(
                "GET",
                url_for_address(url, address),
                headers={"Host": parts.netloc, "Accept": "application/json"},
                extensions={"sni_hostname": host_for_dns},
                follow_redirects=False,
            ) as response,
        ):
            check_status(url, response)
            if problem := content_type_problem(response.headers.get("content-type")):
                raise InvalidDocument(url, problem)
            body = read_capped(url, response, deadline)
            return FetchedDocument(body, address, cache_lifetime(response.headers, time.time()))
    except httpx2.TimeoutException:
        raise DocumentNotFetched(
            url, f"no complete answer within {timeout:g} s (the time limit for documents)"
        ) from None
    except httpx2.HTTPError as error:
        reason = str(error) or type(error).__name__
        raise DocumentNotFetched(url, f"the fetch failed: {reason}") from None


def check_status(url: str, response: httpx2.Response) -> None:
    """CIMD §4.3: only a 200 is a document; a 3xx is refused, not followed (the target was
    never checked against the address rules of §6.5)."""
    if response.is_redirect:
        location = response.headers.get("location", "")[:200]
        raise DocumentNotFetched(
            url,
            f"the server answered {response.status_code} redirecting to {location!r}; "
            "redirects are not followed, serve the document at the client_id URL itself",
        )
    if response.status_code != 200:
        raise DocumentNotFetched(url, f"the server answered HTTP {response.status_code}, not 200")


def read_capped(url: str, response: httpx2.Response, deadline: float) -> bytes:
    """CIMD §6.6: read at most ``MAX_DOCUMENT_BYTES`` (refusing early on a larger
    Content-Length), and give up at the deadline even if bytes keep trickling in."""
    declared = _int(response.headers.get("content-length"))
    too_large = f"the document is larger than {MAX_DOCUMENT_BYTES} bytes"
    if declared is not None and declared > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(url, f"{too_large} (Content-Length {declared})")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise DocumentTooLarge(url, too_large)
        if time.monotonic() > deadline:
            raise httpx2.ReadTimeout("deadline passed while reading the document")
    return bytes(body)
