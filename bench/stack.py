"""The servers under test: real ``demo-as`` / ``scoped-tools-server`` processes on loopback,
started with the benchmark's options through the test kit's ``tests.harness.subprocess_servers``.

Each server runs as its own operating-system process, started through its installed console
script (what a user runs), so the load generator never shares a GIL with the server it measures
and ``/proc/<pid>/status`` gives the server's own resident memory. A server is ready when
``GET /health`` answers 200. Output (including uvicorn's access log) goes to ``<name>.log`` in the
run's temporary directory and is shown when a server fails to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.harness.subprocess_servers import (
    ServerProcess,
    confirm_still_running,
    demo_as_process,
    scoped_tools_process,
    wait_healthy,
)

BENCH_ACCESS_TOKEN_TTL = 3600  # the full run lasts minutes; tokens must outlive it
INTROSPECTION_SECRET = "bench-introspection-secret-0123456789"  # loopback-only, throwaway


def wait_ready(
    servers: Sequence[ServerProcess], timeout: float = 180.0, path: str = "/health"
) -> None:
    """Wait until every server's ``GET <path>`` answers 200 (they start in parallel) and none of
    them exited meanwhile (``PortTaken``: start the stack again)."""
    wait_healthy(servers, timeout=timeout, path=path)
    confirm_still_running(servers)


def start_as(
    workdir: Path,
    resources: list[str],
    port: int,
    prefix: Sequence[str] = (),
    *,
    name: str = "demo_as",
    extra: Sequence[str] = (),
) -> ServerProcess:
    """``demo-as`` with auto-approve (no login/consent pages), introspection enabled and a
    token lifetime longer than the run; its own SQLite file ``<name>.db`` in ``workdir``.
    ``prefix`` runs it under another program (a profiler); ``extra`` adds options. Spawned, not
    yet ready: call ``wait_ready``."""
    options = [
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
        *extra,
    ]
    return demo_as_process(
        workdir,
        f"sqlite:///{workdir / (name + '.db')}",
        resources=resources,
        port=port,
        extra_args=options,
        prefix=prefix,
        name=name,
    ).spawn()


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
) -> ServerProcess:
    """``scoped-tools-server`` with its own notes database; ``gate=False`` is the benchmark-only
    switch that serves MCP without the auth gate. With ``lab_report`` (the default) it reports
    its lab journal to the AS, reading the lab secret the AS wrote to ``./data/lab-secret`` (both
    run in ``workdir``). Spawned, not yet ready: call ``wait_ready``."""
    options = ["--token-check", token_check, "--gate-enabled" if gate else "--no-gate"]
    if token_check == "introspect":
        options += ["--introspection-secret", INTROSPECTION_SECRET]
    if not lab_report:
        options.append("--no-lab-report")
    return scoped_tools_process(
        workdir,
        auth_server=issuer,
        database_url=f"sqlite:///{workdir / (name + '.db')}",
        port=port,
        extra_args=options,
        prefix=prefix,
        name=name,
    ).spawn()
