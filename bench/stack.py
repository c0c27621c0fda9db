"""The servers under test: real ``demo-as`` / ``scoped-tools-server`` processes on loopback.

Each server runs as its own operating-system process, started through its installed console
script (what a user runs), so the load generator never shares a GIL with the server it measures
and ``/proc/<pid>/status`` gives the server's own resident memory. A server is ready when
``GET /health`` answers 200. Output (including uvicorn's access log) goes to a file in the run's
temporary directory and is shown when a server fails to start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2

BENCH_ACCESS_TOKEN_TTL = 3600  # the full run lasts minutes; tokens must outlive it
INTROSPECTION_SECRET = "bench-introspection-secret-0123456789"  # loopback-only, throwaway


def console_script(name: str) -> str:
    """Path of an installed console script of this distribution (the venv's ``bin/``)."""
    beside_python = Path(sys.executable).with_name(name)
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"console script {name!r} not found; run with `uv run python ...`")
    return found


def free_loopback_port() -> int:
    """An ephemeral 127.0.0.1 port (closed again; the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clock_ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """One started server process."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        """Resident set size from ``/proc/<pid>/status`` (``VmRSS``, kB) in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for {self.name} (pid {self.pid})")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (``/proc/<pid>/stat`` fields 14, 15)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / clock_ticks_per_second()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the server (SIGINT lets a profiler wrapping it write its report)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(
    name: str, argv: list[str], base_url: str, workdir: Path, env: dict[str, str] | None = None
) -> Server:
    """Start ``argv`` in ``workdir``; call ``wait_healthy`` before using it."""
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env)
    return Server(name=name, base_url=base_url, process=process, log_path=log_path)


def wait_healthy(servers: list[Server], timeout: float = 180.0, path: str = "/health") -> None:
    """Wait until every server's ``GET <path>`` answers 200 (they start in parallel)."""
    deadline = time.monotonic() + timeout
    waiting = list(servers)
    while waiting:
        server = waiting[0]
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            if (
                httpx2.get(f"{server.base_url}{path}", timeout=2.0, trust_env=False).status_code
                == 200
            ):
                waiting.pop(0)
                continue
        except httpx2.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} not healthy after {timeout} s:\n{server.log_tail()}")
        time.sleep(0.05)
    # A port can be taken by another program between ``free_loopback_port`` and the bind (slow
    # start-ups on a busy machine): that server exits, and the 200 came from someone else.
    time.sleep(0.3)
    for server in servers:
        if server.process.poll() is not None:
            raise PortTaken(f"{server.name} exited after start-up:\n{server.log_tail(600)}")


class PortTaken(RuntimeError):
    """A server of ours is gone although its port answered: start the stack again."""


def start_as(
    workdir: Path,
    resources: list[str],
    port: int,
    prefix: Sequence[str] = (),
    *,
    name: str = "demo_as",
    extra: Sequence[str] = (),
) -> Server:
    """``demo-as`` with auto-approve (no login/consent pages), introspection enabled and a
    token lifetime longer than the run; its own SQLite file ``<name>.db`` in ``workdir``.
    ``prefix`` runs it under another program (a profiler); ``extra`` adds options."""
    base_url = f"http://127.0.0.1:{port}"
    argv = [
        *prefix,
        console_script("demo-as"),
        "--port",
        str(port),
        "--issuer",
        base_url,
        "--database-url",
        f"sqlite:///{workdir / (name + '.db')}",
        "--auto-approve",
        "--introspection-secret",
        INTROSPECTION_SECRET,
        "--access-token-ttl",
        str(BENCH_ACCESS_TOKEN_TTL),
        # The load generator registers new clients from 127.0.0.1 far faster than the
        # per-address default and keeps more than the default cap (demo_as/registration_bounds.py).
        "--registration-rate-per-minute",
        "1000000",
        "--max-clients",
        "1000000",
    ]
    for resource in resources:
        argv += ["--resource", resource]
    return start_server(name, [*argv, *extra], base_url, workdir)


def start_rs(
    workdir: Path,
    name: str,
    port: int,
    issuer: str,
    *,
    token_check: str,
    gate: bool,
    prefix: Sequence[str] = (),
    lab_report: bool = True,
) -> Server:
    """``scoped-tools-server`` with its own notes database; ``gate=False`` is the benchmark-only
    switch that serves MCP without the auth gate. With ``lab_report`` (the default) it reports
    its lab journal to the AS, reading the lab secret the AS wrote to ``./data/lab-secret`` (both
    run in ``workdir``)."""
    base_url = f"http://127.0.0.1:{port}"
    argv = [
        *prefix,
        console_script("scoped-tools-server"),
        "--port",
        str(port),
        "--resource-url",
        f"{base_url}/mcp",
        "--auth-server",
        issuer,
        "--database-url",
        f"sqlite:///{workdir / (name + '.db')}",
        "--token-check",
        token_check,
        "--gate-enabled" if gate else "--no-gate",
    ]
    if token_check == "introspect":
        argv += ["--introspection-secret", INTROSPECTION_SECRET]
    if not lab_report:
        argv.append("--no-lab-report")
    return start_server(name, argv, base_url, workdir)
