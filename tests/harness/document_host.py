"""A real HTTPS server on 127.0.0.1 that publishes client ID metadata documents, with a
throwaway CA (``trustme``) that the AS is told to trust (``cimd_ca_bundle``).

Each test publishes what it needs at its own path: a document, or a misbehaving answer (a
redirect, a huge body, a slow reply, HTML). ``fetches`` records every path the AS asked for, so a
test can tell a cache hit from a fetch.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import trustme
from serving import bind_loopback_socket, serve_on_socket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Answer:
    """What the host answers at one path."""

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0
    chunked: bool = False  # no Content-Length: the body arrives in 1 KB chunks


@dataclass
class DocumentHost:
    """Where the documents are served (``https://127.0.0.1:PORT``) and what was fetched."""

    origin: str
    ca_bundle: Path
    answers: dict[str, Answer] = field(default_factory=dict)
    fetches: list[str] = field(default_factory=list)

    def url(self, name: str | None = None) -> str:
        """A fresh document URL on this host (the client_id of one test's client)."""
        return f"{self.origin}/clients/{name or secrets.token_hex(6)}.json"

    def answer(self, url: str, answer: Answer) -> str:
        self.answers[url.removeprefix(self.origin)] = answer
        return url

    def publish(self, url: str, document: dict, **answer: object) -> str:
        """Serve ``document`` as JSON at ``url``."""
        return self.answer(url, Answer(json.dumps(document).encode(), **answer))  # type: ignore[arg-type]

    def fetch_count(self, url: str) -> int:
        return self.fetches.count(url.removeprefix(self.origin))

    def app(self) -> Starlette:
        async def serve(request: Request) -> Response:
            path = request.url.path
            self.fetches.append(path)
            answer = self.answers.get(path)
            if answer is None:
                return Response(b"not found", status_code=404, media_type="text/plain")
            if answer.delay:
                await anyio.sleep(answer.delay)
            if answer.chunked:
                chunks = [answer.body[i : i + 1024] for i in range(0, len(answer.body), 1024)]
                return StreamingResponse(
                    iter(chunks),
                    status_code=answer.status,
                    headers=answer.headers,
                    media_type=answer.content_type,
                )
            return Response(
                answer.body,
                status_code=answer.status,
                headers=answer.headers,
                media_type=answer.content_type,
            )

        return Starlette(routes=[Route("/{path:path}", serve)])


def client_document(url: str, redirect_uri: str, **fields: object) -> dict:
    """A valid document for a public loopback client of the code + refresh flow."""
    document: dict[str, object] = {
        "client_id": url,
        "client_name": "CIMD test client",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "software_id": "cimd-test-suite",
        "software_version": "1.0.0",
    }
    document.update(fields)
    return document


@contextlib.contextmanager
def running_document_host(workdir: Path) -> Iterator[DocumentHost]:
    """Start the HTTPS host; its certificate names 127.0.0.1 and localhost."""
    ca = trustme.CA()
    ca_bundle = workdir / "cimd-test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    server_pem = workdir / "cimd-host.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
        str(server_pem)
    )
    sock = bind_loopback_socket()
    host = DocumentHost(origin=f"https://127.0.0.1:{sock.getsockname()[1]}", ca_bundle=ca_bundle)
    with serve_on_socket(host.app(), sock, ssl_certfile=server_pem, ssl_keyfile=server_pem):
        yield host
