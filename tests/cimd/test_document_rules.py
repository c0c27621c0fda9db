"""The pure CIMD rules, one table each: client_id URL shape (CIMD §3), content type (§4.1),
address policy after DNS resolution (§6.5) and cache lifetime from caching headers (§4.4)."""

from __future__ import annotations

import ipaddress
import socket
import time

import httpx2
import pytest

from demo_as.client_metadata_documents import (
    AddressRefused,
    DocumentNotFetched,
    client_id_url_problem,
    content_type_problem,
    looks_like_client_id_url,
)
from demo_as.document_fetch import (
    DEFAULT_CACHE_SECONDS,
    MAX_CACHE_SECONDS,
    address_problem,
    cache_lifetime,
    checked_addresses,
    resolve_within,
)
from demo_as.registration import new_client_id


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example/client.json",
        "https://app.example:8443/oauth/client-metadata",
        "https://127.0.0.1:4443/clients/a.json",
    ],
)
def test_valid_client_id_urls(url: str) -> None:
    assert looks_like_client_id_url(url)
    assert client_id_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://app.example/client.json", "https"),
        ("HTTPS://app.example/client.json", "https"),
        ("https://app.example", "path component"),
        ("https://app.example/", "path component"),
        ("https://app.example/a/../client.json", ". or .."),
        ("https://app.example/./client.json", ". or .."),
        ("https://app.example/client.json#frag", "fragment"),
        ("https://user:pw@app.example/client.json", "username or password"),
        ("https://app.example/client.json?v=1", "query string"),
        ("https://app.example:99999/client.json", "port"),
        ("https://app.example/client json", "whitespace"),
        ("https://app.example/" + "a" * 1000, "at most"),
    ],
)
def test_invalid_client_id_urls_name_the_rule(url: str, problem: str) -> None:
    assert problem in (client_id_url_problem(url) or "")


def test_registered_client_ids_are_never_taken_for_urls() -> None:
    assert not looks_like_client_id_url(new_client_id())


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/client-metadata+json", True),
        ("text/html", False),
        ("text/json", False),
        (None, False),
    ],
)
def test_documents_are_json_only(content_type: str | None, accepted: bool) -> None:
    assert (content_type_problem(content_type) is None) is accepted


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata endpoints
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "not a public"),  # carrier-grade NAT (RFC 6598)
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 is judged as its IPv4 address
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    assert kind in (address_problem(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_fetched(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_every_resolved_address_must_be_public() -> None:
    """One public and one private answer: refused, or DNS could steer the fetch inward."""
    url = "https://mixed.example/client.json"
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.7 is a private address"):
        checked_addresses(url, "mixed.example", ["93.184.215.14", "10.0.0.7"], allowed=False)
    assert checked_addresses(url, "mixed.example", ["10.0.0.7"], allowed=True) == ["10.0.0.7"]


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, DEFAULT_CACHE_SECONDS),
        ({"cache-control": "max-age=600"}, 600),
        ({"cache-control": "public, max-age=600", "age": "100"}, 500),
        ({"cache-control": "max-age=0"}, 0),
        ({"cache-control": "no-store"}, 0),
        ({"cache-control": "no-cache, max-age=600"}, 0),
        ({"cache-control": "max-age=31536000"}, MAX_CACHE_SECONDS),
        (
            {"expires": "Thu, 01 Jan 2026 00:10:00 GMT", "date": "Thu, 01 Jan 2026 00:00:00 GMT"},
            600,
        ),
        ({"expires": "0"}, 0),  # an invalid Expires means already expired (RFC 9111 §5.3)
        ({"cache-control": "max-age=60", "expires": "Thu, 01 Jan 2099 00:00:00 GMT"}, 60),
    ],
)
def test_cache_lifetime_follows_the_caching_headers(headers: dict, seconds: int) -> None:
    assert cache_lifetime(httpx2.Headers(headers), now=1767225600.0) == seconds


def test_a_slow_or_failing_resolver_is_a_failed_fetch_within_the_time_limit() -> None:
    """getaddrinfo has no timeout: the lookup is bounded by the document time limit (§4.3)."""
    url = "https://slow-dns.example/client.json"

    def slow(host: str, port: int) -> list[str]:
        time.sleep(10)
        return ["93.184.215.14"]

    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    started = time.monotonic()
    with pytest.raises(DocumentNotFetched, match=r"not resolved within 0\.2 s"):
        resolve_within(slow, "slow-dns.example", 443, url, timeout=0.2)
    assert time.monotonic() - started < 5  # did not wait for the 10 s lookup
    with pytest.raises(DocumentNotFetched, match="could not be resolved"):
        resolve_within(failing, "slow-dns.example", 443, url, timeout=0.2)
