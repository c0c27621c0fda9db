"""How embedded mode serves: its sockets send without Nagle's delay, and its uvicorn servers stop
when asked, finishing what is in flight and running the app's lifespan shutdown."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from demo_client.embedded import _loopback_socket
from demo_client.embedded_server import inherited_socket, prompt_server


def launcher_socket() -> socket.socket:
    return _loopback_socket()


def child_socket() -> socket.socket:
    """The spawned child's view of the launcher's socket: a file descriptor handed over."""
    with _loopback_socket() as original:
        return inherited_socket(os.dup(original.fileno()))


@pytest.mark.parametrize("make_socket", [launcher_socket, child_socket])
def test_connections_accepted_on_an_embedded_socket_have_nagle_off(
    make_socket: Callable[[], socket.socket],
) -> None:
    """uvicorn writes a response's head and body separately; with Nagle's algorithm on, the body
    waits for the client's delayed ACK (40 ms per request on a kept-alive connection)."""
    listener = make_socket()
    accepted: list[int] = []

    class Record(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Record, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
            while not accepted:
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert accepted and accepted[0] != 0


class App:
    """A raw ASGI app: ``/slow`` answers once ``release`` is set; records its lifespan."""

    def __init__(self) -> None:
        self.lifespan: list[str] = []
        self.release = threading.Event()
        self.slow_started = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                self.lifespan.append(kind)
                await send({"type": f"{message['type']}.complete"})
                if kind == "shutdown":
                    return
        if scope["path"] == "/slow":
            self.slow_started.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        headers = [(b"content-length", b"4")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"done"})


@pytest.fixture
def served() -> Iterator[tuple[App, Any, threading.Thread, tuple[str, int]]]:
    app = App()
    sock = _loopback_socket()
    address = sock.getsockname()[:2]
    server = prompt_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield app, server, thread, address
    app.release.set()
    server.stop()
    thread.join(10)
    sock.close()


def request(address: tuple[str, int], path: str) -> socket.socket:
    conn = socket.create_connection(address, timeout=10)
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return conn


def listening(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


def read_response(conn: socket.socket) -> bytes:
    response = b""
    while not response.endswith(b"done"):
        chunk = conn.recv(65536)
        assert chunk, f"closed before the whole response: {response!r}"
        response += chunk
    return response


def read_until_closed(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_stop_from_another_thread_ends_an_idle_server_after_its_lifespan_shutdown(
    served: tuple[App, Any, threading.Thread, tuple[str, int]],
) -> None:
    app, server, thread, address = served
    server.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert app.lifespan == ["startup", "shutdown"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5)


def test_stop_closes_an_idle_kept_alive_connection(
    served: tuple[App, Any, threading.Thread, tuple[str, int]],
) -> None:
    app, server, thread, address = served
    conn = request(address, "/fast")
    assert read_response(conn).startswith(b"HTTP/1.1 200")  # the connection stays open
    server.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert read_until_closed(conn) == b""  # closed by the server, not left hanging
    assert app.lifespan == ["startup", "shutdown"]
    conn.close()


def test_stop_lets_a_request_in_flight_finish(
    served: tuple[App, Any, threading.Thread, tuple[str, int]],
) -> None:
    app, server, thread, address = served
    conn = request(address, "/slow")
    assert app.slow_started.wait(10)
    server.stop()
    deadline = time.monotonic() + 10
    while listening(address):  # wait until the shutdown has begun: no new connections
        assert time.monotonic() < deadline, "the server kept listening after stop()"
        time.sleep(0.01)
    assert thread.is_alive() and app.lifespan == ["startup"]
    app.release.set()
    response = read_until_closed(conn)
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"done")
    thread.join(10)
    assert app.lifespan == ["startup", "shutdown"]
    conn.close()
