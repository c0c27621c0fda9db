"""Embedded mode: start `demo_as` and `scoped_tools_server` on free loopback ports, with
throwaway SQLite databases in a temporary directory, and stop them afterwards.

The AS runs in a process of its own (`embedded_server.py`), started before this process imports
anything heavy, so that its start-up (FastAPI, SQLAlchemy, its templates and keys) runs on the
machine's other core while this process imports the RS and the client. The RS runs in a thread
of this process: it shares the MCP SDK with the client, which is the largest import of all, so
importing it once here costs less than a third process would save on a two-core machine.

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

from demo_client.embedded_server import (
    STOP_TIMEOUT_SECONDS,
    EmbeddedServerError,
    ServerProcess,
    prompt_server,
)

START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class EmbeddedStack:
    issuer: str
    server_url: str


def _loopback_socket() -> socket.socket:
    """Bind before building the apps: the issuer and resource URLs must contain the ports.

    The protocol is named (``IPPROTO_TCP``, not the default 0): a connection accepted on a
    socket inherits its ``proto``, and asyncio turns Nagle's algorithm off (``TCP_NODELAY``)
    only on sockets whose ``proto`` says TCP. Without it, each response uvicorn writes in two
    parts (head, then body) waited for the client's delayed ACK of the first: 40 ms on every
    request over a kept-alive connection, about a second over the story's ~60 requests."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


class _ServedThread:
    """uvicorn on a pre-bound socket in a daemon thread of this process."""

    def __init__(self, name: str, app: Any, sock: socket.socket) -> None:
        self.server = prompt_server(app)
        self.name = name
        self.sock = sock
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()

    def wait_started(self, deadline: float) -> None:
        while not self.server.started:
            if not self.thread.is_alive():
                raise EmbeddedServerError(f"the embedded {self.name} stopped before it was ready")
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"the embedded {self.name} was not ready within {START_TIMEOUT_SECONDS:.0f} s"
                )
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.stop()

    def join(self) -> None:
        self.thread.join(timeout=STOP_TIMEOUT_SECONDS)
        self.sock.close()


@contextlib.contextmanager
def embedded_stack(
    rs_overrides: dict[str, Any] | None = None,
    *,
    on_bound: Callable[[EmbeddedStack], None] | None = None,
    while_starting: Callable[[], None] | None = None,
    **as_overrides: Any,
) -> Iterator[EmbeddedStack]:
    """Run AS + RS until the block exits. `as_overrides` go to `demo_as.settings.Settings`
    (tests use `iss_mode="wrong"` to play a misbehaving AS), `rs_overrides` to
    `scoped_tools_server.settings.Settings` (e.g. `challenge_scope="cumulative"`); both must
    be JSON values (or objects whose `str` the settings parse, such as paths).

    `on_bound` is called as soon as the ports are bound, before any server code is imported:
    the story prints its first line there, not after start-up. `while_starting` is called once
    both servers are on their way, before waiting for them: the story imports its own code
    there, while the AS starts in its process."""
    as_sock, rs_sock = _loopback_socket(), _loopback_socket()
    issuer, rs_base = _base_url(as_sock), _base_url(rs_sock)
    stack = EmbeddedStack(issuer=issuer, server_url=f"{rs_base}/mcp")
    if on_bound is not None:
        on_bound(stack)
    # One lab secret for both: the RS reports its journal to the AS's lab with it.
    lab_secret = secrets.token_urlsafe(32)
    # The servers are stopped (the AS's lab threads finished, its engine disposed, its process
    # gone) before the block ends, so nothing writes into the directory while it is removed.
    with tempfile.TemporaryDirectory(prefix="demo-client-embedded-") as tmp:
        data = Path(tmp)
        as_settings = {
            "host": "127.0.0.1",
            "port": as_sock.getsockname()[1],
            "issuer": issuer,
            "data_dir": data,
            "database_url": f"sqlite:///{data / 'demo_as.db'}",
            "resources": [stack.server_url],
            "lab_secret": lab_secret,
            **as_overrides,
        }
        rs_settings = {
            "host": "127.0.0.1",
            "port": rs_sock.getsockname()[1],
            "resource_url": stack.server_url,
            "auth_server": issuer,
            "database_url": f"sqlite:///{data / 'notes.db'}",
            "lab_secret": lab_secret,
            **(rs_overrides or {}),
        }
        with _serve(as_settings, as_sock, rs_settings, rs_sock, while_starting):
            yield stack


@contextlib.contextmanager
def _serve(
    as_settings: dict[str, Any],
    as_sock: socket.socket,
    rs_settings: dict[str, Any],
    rs_sock: socket.socket,
    while_starting: Callable[[], None] | None,
) -> Iterator[None]:
    """Start both (the AS first: its process starts while this one imports); stop the RS
    first, then the AS, so that the RS's last lab report reaches the AS's lab."""
    served: list[ServerProcess | _ServedThread] = []
    collecting = gc.isenabled()
    gc.disable()  # while importing: see embedded_server.main
    try:
        served.append(ServerProcess("demo_as", as_settings, as_sock, close_in_child=(rs_sock,)))
        # Imported here so `demo-client --help` and remote mode do not pay for the RS's imports.
        from scoped_tools_server.app import create_app as create_rs_app
        from scoped_tools_server.settings import Settings as RSSettings

        rs_app = create_rs_app(RSSettings(**rs_settings))
        served.append(_ServedThread("scoped_tools_server", rs_app, rs_sock))
        if while_starting is not None:
            while_starting()
        # Everything imported so far lives as long as the process: keep it out of the cyclic
        # collector's full passes, which otherwise re-walk the RS's and the SDK's whole object
        # graph (pydantic and SQLAlchemy models) many times during a short story.
        gc.freeze()
        if collecting:
            gc.enable()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for one in reversed(served):
            one.wait_started(deadline)
        yield
    finally:
        if collecting:
            gc.enable()
        for one in reversed(served):
            one.stop()
            one.join()
        rs_sock.close()  # already, unless the RS failed before it was served
