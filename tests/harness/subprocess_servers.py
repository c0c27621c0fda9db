"""Run the AS and the RS as real operating-system processes on free loopback ports.

The crash-safety test needs a process it can ``kill -9``; an in-process uvicorn thread cannot be
killed that way. The programs are started through their installed console scripts (the same
``demo-as`` / ``scoped-tools-server`` a user runs), with ``--port`` on a free 127.0.0.1 port, and
are ready when ``GET /health`` answers 200.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from harness.postgres_cluster import free_loopback_port


def console_script(name: str) -> list[str]:
    """argv prefix for an installed console script of this distribution (in the venv's bin/)."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    module = {"demo-as": "demo_as.cli", "scoped-tools-server": "scoped_tools_server.cli"}[name]
    return [sys.executable, "-c", f"import {module} as m; m.main()"]


@dataclass
class ServerProcess:
    """A started server process, its base URL and where its output goes."""

    argv: list[str]
    base_url: str
    log_path: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        log.close()
        wait_until_healthy(self.base_url, self.process, self.log_path, timeout=timeout)

    def kill_hard(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no lifespan exit. What a power cut looks like."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], log_path: Path, *, timeout: float
) -> None:
    """Poll ``/health`` until 200; fail with the process's log if it exits or never gets ready."""
    deadline = time.monotonic() + timeout
    with httpx2.Client(timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {process.returncode} before it was healthy:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            with contextlib.suppress(httpx2.TransportError):
                if client.get(f"{base_url}/health").status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{base_url}/health not ready after {timeout}s:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.1)


def demo_as_process(
    workdir: Path,
    database_url: str,
    *,
    resources: list[str],
    port: int | None = None,
    issuer: str | None = None,
    extra_args: list[str] | None = None,
) -> ServerProcess:
    """A ``demo-as`` process (not yet started) on a free port with the given database.

    ``issuer`` defaults to the process's own base URL; several processes behind one name (workers
    sharing a database) are given the same issuer.
    """
    port = port or free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = [
        *console_script("demo-as"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--issuer",
        issuer or base_url,
        "--database-url",
        database_url,
    ]
    for resource in resources:
        argv += ["--resource", resource]
    argv += extra_args or []
    return ServerProcess(
        argv=argv, base_url=base_url, log_path=workdir / f"demo-as-{port}.log", cwd=workdir
    )


def scoped_tools_process(
    workdir: Path, *, auth_server: str, database_url: str, port: int | None = None
) -> ServerProcess:
    """A ``scoped-tools-server`` process (not yet started) trusting ``auth_server``."""
    port = port or free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = [
        *console_script("scoped-tools-server"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--resource-url",
        f"{base_url}/mcp",
        "--auth-server",
        auth_server,
        "--database-url",
        database_url,
    ]
    return ServerProcess(
        argv=argv, base_url=base_url, log_path=workdir / "scoped-tools.log", cwd=workdir
    )


@contextlib.contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
