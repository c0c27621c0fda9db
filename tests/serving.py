"""Run a real ASGI app under uvicorn on 127.0.0.1 with an ephemeral port, in a background thread.

Every end-to-end test uses this: real sockets, real HTTP, no in-process transport shortcuts.
The socket is bound *before* the app is built so the app can be told its own URL (the issuer
or resource URL must contain the port).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn


def bind_loopback_socket(port: int = 0) -> socket.socket:
    """A listening-ready TCP socket on 127.0.0.1, on ``port`` or (0) one chosen by the kernel.
    A fixed port serves a restarted server at the same URL, or the screenshots' default ports."""
    # IPPROTO_TCP named: asyncio turns Nagle off only on sockets that say TCP, and accepted
    # connections inherit the listening socket's (demo_client/embedded.py says more).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def socket_base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.contextmanager
def serve_on_socket(
    app: Any, sock: socket.socket, *, timeout: float = 20.0, **uvicorn_options: Any
) -> Iterator[str]:
    """Serve ``app`` on ``sock`` until the block exits; yields the base URL (no trailing slash).
    ``uvicorn_options`` go to ``uvicorn.Config`` (e.g. ``ssl_certfile``/``ssl_keyfile``: the
    server then speaks HTTPS, but the yielded URL still says http)."""
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, **uvicorn_options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield socket_base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def serve_app(app_for_base_url: Callable[[str], Any], port: int = 0) -> Iterator[str]:
    """Bind a port, build the app with its own base URL, serve it; yields the base URL."""
    sock = bind_loopback_socket(port)
    app = app_for_base_url(socket_base_url(sock))
    with serve_on_socket(app, sock) as base_url:
        yield base_url
