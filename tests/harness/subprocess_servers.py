"""Run the AS and the RS as real operating-system processes on free loopback ports: for the tests
that need a process they can ``kill -9`` or several workers on one database, and for bench/, whose
load generator must not share a GIL with the server it measures.

The programs are started through their installed console scripts (the same ``demo-as`` /
``scoped-tools-server`` a user runs), with ``--port`` on a free 127.0.0.1 port; a server is ready
when ``GET /health`` answers 200. Output goes to a log file in the server's working directory and
is shown when a server fails to start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

__all__ = [
    "PortTaken",
    "ServerProcess",
    "confirm_still_running",
    "console_script",
    "demo_as_process",
    "free_loopback_port",
    "running",
    "scoped_tools_process",
    "wait_healthy",
]


def free_loopback_port() -> int:
    """An ephemeral 127.0.0.1 port (closed again; the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def console_script(name: str) -> list[str]:
    """argv prefix for an installed console script of this distribution (in the venv's bin/)."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    module = {
        "demo-as": "demo_as.cli",
        "scoped-tools-server": "scoped_tools_server.cli",
        "demo-client": "demo_client.cli",
    }[name]
    return [sys.executable, "-c", f"import {module} as m; m.main()"]


@dataclass
class ServerProcess:
    """A server process (``spawn`` starts it), its base URL and where its output goes."""

    argv: list[str]
    base_url: str
    log_path: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return self.log_path.stem

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def spawn(self) -> ServerProcess:
        """Start the process without waiting for it (``wait_healthy`` waits for several)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
            )
        return self

    def start(self, *, timeout: float = 60.0) -> None:
        """Spawn, then wait until ``/health`` answers 200."""
        self.spawn()
        wait_healthy([self], timeout=timeout)

    def kill_hard(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no lifespan exit. What a power cut looks like."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the process (SIGINT lets a profiler wrapping it write its report)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
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

    def rss_mb(self) -> float:
        """Resident set size from ``/proc/<pid>/status`` (``VmRSS``, kB) in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for {self.name} (pid {self.pid})")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (``/proc/<pid>/stat``)."""
        return stat_cpu_seconds(Path(f"/proc/{self.pid}/stat"))


def stat_cpu_seconds(stat: Path) -> float:
    """User + system CPU time from a ``/proc`` ``stat`` file (a process's or one of its
    threads' ``task/<tid>/stat``): fields 14 and 15, after the parenthesised name."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(
    servers: Sequence[ServerProcess], *, timeout: float = 60.0, path: str = "/health"
) -> None:
    """Poll every server's ``GET <path>`` until 200 (they start in parallel); fail with a
    server's log if it exits or is not ready in time."""
    deadline = time.monotonic() + timeout
    waiting = list(servers)
    with httpx2.Client(timeout=2.0, trust_env=False) as client:
        while waiting:
            server = waiting[0]
            assert server.process is not None, f"{server.name} was never spawned"
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.process.returncode} before it was "
                    f"healthy:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx2.TransportError):
                if client.get(f"{server.base_url}{path}").status_code == 200:
                    waiting.pop(0)
                    continue
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{server.base_url}{path} not ready after {timeout}s:\n{server.log_tail()}"
                )
            time.sleep(0.05)


class PortTaken(RuntimeError):
    """A server of ours is gone although its port answered: start it again on other ports."""


def confirm_still_running(servers: Sequence[ServerProcess], settle: float = 0.3) -> None:
    """A port can be taken by another program between ``free_loopback_port`` and the bind (slow
    start-ups on a busy machine): that server exits, and the 200 came from someone else."""
    time.sleep(settle)
    for server in servers:
        if server.process is None or server.process.poll() is not None:
            raise PortTaken(f"{server.name} exited after start-up:\n{server.log_tail(600)}")


def loopback_argv(prefix: Sequence[str], script: str, port: int) -> list[str]:
    """``[*prefix, <script>, --host 127.0.0.1, --port <port>]``."""
    return [*prefix, *console_script(script), "--host", "127.0.0.1", "--port", str(port)]


def demo_as_process(
    workdir: Path,
    database_url: str,
    *,
    resources: list[str],
    port: int | None = None,
    issuer: str | None = None,
    extra_args: Sequence[str] = (),
    prefix: Sequence[str] = (),
    name: str | None = None,
) -> ServerProcess:
    """A ``demo-as`` process (not yet started) on a free port with the given database.

    ``issuer`` defaults to the process's own base URL; several processes behind one name (workers
    sharing a database) are given the same issuer. ``prefix`` runs it under another program (a
    profiler); its log is ``<name>.log`` (default ``demo-as-<port>``) in ``workdir``.
    """
    port = port or free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = loopback_argv(prefix, "demo-as", port)
    argv += ["--issuer", issuer or base_url, "--database-url", database_url]
    for resource in resources:
        argv += ["--resource", resource]
    log_path = workdir / f"{name or f'demo-as-{port}'}.log"
    return ServerProcess([*argv, *extra_args], base_url, log_path, workdir)


def scoped_tools_process(
    workdir: Path,
    *,
    auth_server: str,
    database_url: str,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    prefix: Sequence[str] = (),
    name: str = "scoped-tools",
) -> ServerProcess:
    """A ``scoped-tools-server`` process (not yet started) trusting ``auth_server``; its log is
    ``<name>.log`` in ``workdir``."""
    port = port or free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = loopback_argv(prefix, "scoped-tools-server", port)
    argv += ["--resource-url", f"{base_url}/mcp", "--auth-server", auth_server]
    argv += ["--database-url", database_url]
    return ServerProcess([*argv, *extra_args], base_url, workdir / f"{name}.log", workdir)


@contextlib.contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
