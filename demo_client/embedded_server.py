"""The embedded AS in a process of its own: both ends of the small protocol between the embedded
launcher (`embedded.py`) and that process.

- The launcher binds the loopback socket itself (the URLs it announced contain its port) and
  hands it to the child with two pipes: the child writes `ready` to one once uvicorn has started
  (lifespan done, listening), and stops gracefully (uvicorn's shutdown, then the app's lifespan
  shutdown) when the other reaches end of file. The launcher closes that pipe to stop it; should
  the launcher die, the kernel closes it and the child stops all the same. If the child exits
  before it is ready, the launcher reads end of file on the first pipe and reports the status.
- The child is in a session of its own: Ctrl-C in a terminal reaches only the launcher, which
  stops the child on its way out like any other exit. Its output goes to the launcher's stderr:
  its warnings (a refusal, a rule a client failed in the lab) show as `demo_as WARNING: ...`,
  and a failed start-up's traceback sits right above the launcher's error.
- The app is built through the server's public factory, `create_app(settings)`.

How the child starts. On Linux, from a launcher with no other thread, it is **forked** once the
launcher has imported what both servers use (`SHARED_IMPORTS`: pydantic, SQLAlchemy, Starlette,
uvicorn, ...): the child inherits those modules instead of importing them again, about 1 s of
CPU saved on a two-core machine that is also running the RS and the client. Anywhere else (or
when threads are running, as in a test process already serving another stack, since a fork
copies only the forking thread and any lock another thread held stays locked) it is
**spawned** as `python -m demo_client.embedded_server`, the settings, the lab secret among
them, written as one JSON line to its stdin (never on a command line).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

READY = b"ready\n"
STOP_TIMEOUT_SECONDS = 10.0
# What both servers import: loaded before a fork, so the child does not load it again.
SHARED_IMPORTS = (
    "pydantic",
    "pydantic_settings",
    "sqlalchemy.orm",
    "sqlmodel",
    "starlette.applications",
    "anyio",
    "httpx2",
    "uvicorn",
    "joserfc.jwt",
    "joserfc.jwk",
    # Loaded by both only once they serve: uvicorn's protocol, loop and lifespan, anyio's
    # asyncio backend, the SQLite dialect, cryptography's backend, OpenTelemetry's API (the MCP
    # SDK's and FastAPI's tracing).
    "anyio._backends._asyncio",
    "uvicorn.lifespan.on",
    "uvicorn.loops.asyncio",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.auto",
    "sqlalchemy.dialects.sqlite",
    "cryptography.hazmat.backends.openssl",
    "opentelemetry.propagate",
    "opentelemetry.trace",
)


class EmbeddedServerError(RuntimeError):
    """An embedded server did not start."""


# -- the launcher's end ------------------------------------------------------------------------


def can_fork() -> bool:
    return sys.platform == "linux" and threading.active_count() == 1


class ServerProcess:
    """``server`` (``demo_as`` or ``scoped_tools_server``) with ``settings`` (its `Settings`
    keyword arguments, JSON values or objects whose `str` the settings parse, such as paths),
    served in a child process on ``sock``. ``sock`` and ``close_in_child`` (sockets of this
    process the child must not keep open) are closed here once the child holds its copy."""

    def __init__(
        self,
        server: str,
        settings: dict[str, Any],
        sock: socket.socket,
        close_in_child: tuple[socket.socket, ...] = (),
    ) -> None:
        self.name = server
        self.started = False
        self.popen: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        ready_read, ready_write = os.pipe()
        stop_read, stop_write = os.pipe()
        try:
            if can_fork():
                inherited = (ready_read, stop_write, *[o.fileno() for o in close_in_child])
                self.pid = self._fork(server, settings, sock, ready_write, stop_read, inherited)
            else:
                self.popen = self._spawn(server, settings, sock, ready_write, stop_read)
                self.pid = self.popen.pid
        finally:
            # The child holds the only other ends: its exit means end of file on ``ready``,
            # and the end of this process means end of file on its ``stop``.
            os.close(ready_write)
            os.close(stop_read)
            sock.close()
        self.ready = os.fdopen(ready_read, "rb", buffering=0)
        self.stop_write: int | None = stop_write

    @staticmethod
    def _fork(
        server: str,
        settings: dict[str, Any],
        sock: socket.socket,
        ready_fd: int,
        stop_fd: int,
        close_in_child: tuple[int, ...],
    ) -> int:
        for name in SHARED_IMPORTS:
            with contextlib.suppress(ImportError):  # a saving, not a requirement
                importlib.import_module(name)
        gc.freeze()  # what the child inherits stays shared: no collector writes to it
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid != 0:
            return pid
        status = 1
        try:  # the child: it never returns into the launcher's code
            os.setsid()
            os.dup2(2, 1)  # as when spawned: nothing of the child's among the story's lines
            # The launcher's ends of the pipes (with its own copy of ``stop`` open, the child
            # would never read end of file) and its other sockets.
            for fd in close_in_child:
                os.close(fd)
            run(server, settings, sock, ready_fd, stop_fd)
            status = 0
        except SystemExit as exit_:  # uvicorn's own exit when the app's start-up fails
            status = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:  # a failed start-up: say why, above the launcher's error
            import traceback

            traceback.print_exc()
        finally:
            _exit_now(status)
        return 0  # not reached

    @staticmethod
    def _spawn(
        server: str, settings: dict[str, Any], sock: socket.socket, ready_fd: int, stop_fd: int
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "demo_client.embedded_server"],
            stdin=subprocess.PIPE,
            stdout=sys.__stderr__.fileno() if sys.__stderr__ else subprocess.DEVNULL,
            pass_fds=(sock.fileno(), ready_fd, stop_fd),
            start_new_session=True,
        )
        spec = {
            "server": server,
            "settings": settings,
            "socket_fd": sock.fileno(),
            "ready_fd": ready_fd,
            "stop_fd": stop_fd,
        }
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died at once: wait_started says so
            process.stdin.write(json.dumps(spec, default=str).encode() + b"\n")
            process.stdin.close()
        return process

    def wait_started(self, deadline: float) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.ready, selectors.EVENT_READ)
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise EmbeddedServerError(f"the embedded {self.name} was not ready in time")
        if self.ready.read(len(READY)) != READY:  # end of file: the child exited
            self._wait(STOP_TIMEOUT_SECONDS)
            raise EmbeddedServerError(
                f"the embedded {self.name} exited with status {self.returncode} before it "
                "was ready (its output, if any, is above)"
            )
        self.started = True

    def stop(self) -> None:
        """A started server is asked to stop gracefully; one still starting has nothing to
        save and is terminated."""
        if self.stop_write is not None:
            os.close(self.stop_write)
            self.stop_write = None
        if not self.started and self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def join(self) -> None:
        self.ready.close()
        if not self._wait(STOP_TIMEOUT_SECONDS):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._wait(None)

    def _wait(self, timeout: float | None) -> bool:
        """Reap the child; False if it is still running after ``timeout`` seconds."""
        if self.popen is not None:
            try:
                self.returncode = self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            if pid != 0:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif deadline is not None and time.monotonic() > deadline:
                return False
            else:
                time.sleep(0.01)
        return True


# -- the child's end ---------------------------------------------------------------------------


def inherited_socket(fd: int) -> socket.socket:
    """The listening socket the launcher handed over, as the launcher made it: TCP named as the
    protocol (see `embedded._loopback_socket`), not left for the platform to detect."""
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=fd)


def prompt_server(app: Any, on_started: Callable[[], None] | None = None) -> Any:
    """A `uvicorn.Server` for ``app`` that stops as soon as its ``stop()`` is called (from any
    thread) and calls ``on_started`` once it listens (lifespan start-up done).

    uvicorn notices ``should_exit`` only on its next 0.1 s tick, and its shutdown then sleeps
    0.1 s to let open connections finish, even when there are none; twice per story (RS, then
    AS), that was about 0.3 s of the story's wall time spent idle. Here ``stop()`` wakes the
    main loop at once, and a shutdown with no connection open and no request running goes
    straight to closing the listener and the app's lifespan shutdown (what the servers must
    finish: the RS's last lab report, the AS's journal and database). With anything in flight
    it is uvicorn's own graceful shutdown, unchanged."""
    import asyncio

    import uvicorn

    class PromptServer(uvicorn.Server):
        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            self._loop: asyncio.AbstractEventLoop | None = None
            self._wake = asyncio.Event()

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            self._loop = asyncio.get_running_loop()
            await super().startup(sockets)
            if self.started and on_started is not None:
                on_started()

        async def main_loop(self) -> None:
            counter = 0
            should_exit = await self.on_tick(counter)
            while not should_exit:
                counter = (counter + 1) % 864000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.1)
                should_exit = await self.on_tick(counter)

        def stop(self) -> None:
            self.should_exit = True
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop has already ended
                    loop.call_soon_threadsafe(self._wake.set)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            state = self.server_state
            if state.connections or state.tasks or self.force_exit:
                await super().shutdown(sockets)  # closing the listeners again is harmless
                return
            for server in self.servers:
                await server.wait_closed()
            await self.lifespan.shutdown()

    return PromptServer(
        uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1, access_log=False
        )
    )


def build_app(server: str, settings: dict[str, Any]) -> Any:
    """The app of ``server``, from its public factory and settings only."""
    if server == "demo_as":
        from demo_as.app import create_app as create_as_app
        from demo_as.settings import Settings as ASSettings

        return create_as_app(ASSettings(**settings))
    if server == "scoped_tools_server":
        from scoped_tools_server.app import create_app as create_rs_app
        from scoped_tools_server.settings import Settings as RSSettings

        return create_rs_app(RSSettings(**settings))
    raise ValueError(f"unknown embedded server {server!r}")


def run(
    server: str, settings: dict[str, Any], sock: socket.socket, ready_fd: int, stop_fd: int
) -> None:
    """Build the app, serve it on ``sock`` until ``stop_fd`` reaches end of file."""
    logging.basicConfig(
        level=logging.WARNING, format=f"{server} %(levelname)s: %(message)s", force=True
    )
    # No cyclic collection while importing and building the app: each pass re-walks the whole
    # growing heap of module and model objects, none of which is garbage. It is all frozen
    # afterwards, so the collector's later passes skip it.
    gc.disable()
    app = build_app(server, settings)
    gc.freeze()
    gc.enable()

    def ready() -> None:
        os.write(ready_fd, READY)
        os.close(ready_fd)

    served = prompt_server(app, on_started=ready)

    def stop_at_end_of_file() -> None:
        while os.read(stop_fd, 512):
            pass
        served.stop()

    threading.Thread(target=stop_at_end_of_file, name="stop-at-eof", daemon=True).start()
    served.run(sockets=[sock])


def _exit_now(status: int) -> None:
    """End the child once its server has shut down (for the AS: lab queue stored, engine
    disposed). Interpreter shutdown would only free memory the operating system takes back
    anyway (0.1 s the launcher would wait for); a forked child must not run the launcher's
    exit handlers either."""
    logging.shutdown()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def main() -> None:
    """``python -m demo_client.embedded_server``: the spawned child (see the module doc)."""
    spec = json.loads(sys.stdin.buffer.readline())
    sock = inherited_socket(spec["socket_fd"])
    run(spec["server"], spec["settings"], sock, spec["ready_fd"], spec["stop_fd"])
    _exit_now(0)


if __name__ == "__main__":
    main()
