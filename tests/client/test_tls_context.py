"""The client's shared TLS context verifies like `ssl.create_default_context()`; it only loads the
CA certificates when the first TLS connection starts (embedded mode never makes one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import trustme
from serving import bind_loopback_socket, serve_on_socket

from demo_client.mcp_session import CertificatesOnFirstUse


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def https_url(tmp_path: Path) -> Iterator[tuple[str, trustme.CA]]:
    """An HTTPS server whose certificate (for 127.0.0.1) a throwaway CA issued."""
    ca = trustme.CA()
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    sock = bind_loopback_socket()
    with serve_on_socket(hello, sock, ssl_certfile=server_pem, ssl_keyfile=server_pem) as base:
        yield base.replace("http://", "https://"), ca


def trust(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``ca`` the system's CA bundle (OpenSSL reads SSL_CERT_FILE when the defaults load)."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def test_the_certificates_load_at_the_first_tls_connection_which_they_verify(
    https_url: tuple[str, trustme.CA], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca = https_url
    trust(ca, tmp_path, monkeypatch)
    context = CertificatesOnFirstUse()
    assert context.cert_store_stats()["x509_ca"] == 0  # nothing loaded yet

    async def fetch() -> int:
        async with httpx2.AsyncClient(verify=context, trust_env=False) as http:
            return (await http.get(url)).status_code

    assert anyio.run(fetch) == 200
    assert context.cert_store_stats()["x509_ca"] == 1
    with httpx2.Client(verify=context, trust_env=False) as http:  # blocking sockets too
        assert http.get(url).text == "hello"


def test_a_certificate_from_a_ca_the_system_does_not_trust_is_refused(
    https_url: tuple[str, trustme.CA], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = https_url
    trust(trustme.CA(), tmp_path, monkeypatch)
    with (
        httpx2.Client(verify=CertificatesOnFirstUse(), trust_env=False) as http,
        pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        http.get(url)


def test_a_certificate_for_another_host_name_is_refused(
    https_url: tuple[str, trustme.CA], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca = https_url
    trust(ca, tmp_path, monkeypatch)
    with (
        httpx2.Client(verify=CertificatesOnFirstUse(), trust_env=False) as http,
        pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        http.get(url.replace("127.0.0.1", "localhost"))  # the certificate names 127.0.0.1 only
