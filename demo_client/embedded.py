"""Embedded mode: start `demo_as` and `scoped_tools_server` in this process, on free loopback
ports, with throwaway SQLite databases, and stop them afterwards.

This is the only place in the repository where one package imports another, and it does so
only through their public factories (`create_app(settings)`, docs/architecture.md). The servers
are real: uvicorn on 127.0.0.1, real sockets, real HTTP; the client talks to them exactly as it
would to servers on other machines.
"""

from __future__ import annotations

import contextlib
import gc
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EmbeddedStack:
    issuer: str
    server_url: str


def _loopback_socket() -> socket.socket:
    """Bind before building the apps: the issuer and resource URLs must contain the ports."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


class _Served:
    """uvicorn on a pre-bound socket in a daemon thread."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()

    def wait_started(self, deadline: float) -> None:
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("an embedded server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True

    def join(self) -> None:
        self.thread.join(timeout=5)
        self.sock.close()


@contextlib.contextmanager
def _serve_all(*apps: tuple[Any, socket.socket]) -> Iterator[None]:
    """Start every app at once (start-up overlaps); stop them last first, each once the one
    after it has stopped: the RS's last lab report reaches the AS before the AS stops."""
    served = [_Served(app, sock) for app, sock in apps]
    try:
        deadline = time.monotonic() + 20
        for one in served:
            one.wait_started(deadline)
        yield
    finally:
        for one in reversed(served):
            one.stop()
            one.join()


@contextlib.contextmanager
def embedded_stack(
    rs_overrides: dict[str, Any] | None = None,
    *,
    on_bound: Callable[[EmbeddedStack], None] | None = None,
    **as_overrides: Any,
) -> Iterator[EmbeddedStack]:
    """Run AS + RS until the block exits. `as_overrides` go to `demo_as.settings.Settings`
    (tests use `iss_mode="wrong"` to play a misbehaving AS), `rs_overrides` to
    `scoped_tools_server.settings.Settings` (e.g. `challenge_scope="cumulative"`).

    `on_bound` is called as soon as the ports are bound, before the servers' code is even
    imported (about a second): the story prints its first line there, not after start-up."""
    as_sock, rs_sock = _loopback_socket(), _loopback_socket()
    issuer, rs_base = _base_url(as_sock), _base_url(rs_sock)
    stack = EmbeddedStack(issuer=issuer, server_url=f"{rs_base}/mcp")
    if on_bound is not None:
        on_bound(stack)
    # Imported here so `demo-client --help` and remote mode do not pay for the servers' imports.
    from demo_as.app import create_app as create_as_app
    from demo_as.settings import Settings as ASSettings
    from scoped_tools_server.app import create_app as create_rs_app
    from scoped_tools_server.settings import Settings as RSSettings

    # One lab secret for both: the RS reports its journal to the AS's lab with it.
    lab_secret = secrets.token_urlsafe(32)
    as_overrides = {"lab_secret": lab_secret, **as_overrides}
    rs_overrides = {"lab_secret": lab_secret, **(rs_overrides or {})}
    # The servers are stopped (the AS's lab threads finished, its engine disposed) before the
    # block ends, so nothing writes into the directory while it is removed.
    with tempfile.TemporaryDirectory(prefix="demo-client-embedded-") as tmp:
        data = Path(tmp)
        as_settings = ASSettings(
            host="127.0.0.1",
            port=as_sock.getsockname()[1],
            issuer=issuer,
            data_dir=data,
            database_url=f"sqlite:///{data / 'demo_as.db'}",
            resources=[stack.server_url],
            **as_overrides,
        )
        rs_settings = RSSettings(
            host="127.0.0.1",
            port=rs_sock.getsockname()[1],
            resource_url=stack.server_url,
            auth_server=issuer,
            database_url=f"sqlite:///{data / 'notes.db'}",
            **rs_overrides,
        )
        apps = ((create_as_app(as_settings), as_sock), (create_rs_app(rs_settings), rs_sock))
        # Everything imported so far lives as long as the process: keep it out of the cyclic
        # collector's full passes, which otherwise re-walk the servers' whole object graph
        # (pydantic and SQLAlchemy models) many times during a short story.
        gc.freeze()
        with _serve_all(*apps):
            yield stack
