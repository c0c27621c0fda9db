"""AS CPU per request, thread by thread, of demo_as checkouts side by side (ad hoc, not in CI).

    uv run python bench/thread_cpu.py --checkout before=/tmp/base --checkout after=. \\
        [--no-lab before] [--workload first-token|introspect] [--rounds 4] [--prefill 20000] \\
        [--history 12]

Starts one ``demo-as`` per checkout (as ``as_ab.py`` does, lab on unless ``--no-lab <label>``),
then runs the workload against each in alternating rounds; each round is followed by
``--after`` seconds without load, so that the work the AS defers (the lab's journal writer and
grader) falls in the round that caused it. Each thread's CPU comes from
``/proc/<pid>/task/<tid>/stat`` before and after each round; at the end the threads are named
by ``py-spy dump`` (``uvx py-spy``: Python 3.11 does not name its threads for the OS; without
py-spy they are shown by id). The event loop, the lab's writer and its grader then show their
own shares, which one figure for the whole process mixes with the machine's noise
(bench/profiling.md §10, §11). ``--prefill N`` first writes N events of one busy client (an
RS's accepted calls) into each lab-on AS's journal, as a full run's AS carries a full journal
(its retention then deletes about as many events as each batch writes). ``--history S`` first
sends S seconds of new clients' first tokens to each AS, as a full run's first-token figures do
before its introspection figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cost_figures as c
from as_ab import RESOURCE, start_checkout
from loadgen import http_client, run_load
from stack import wait_ready

from tests.harness.oauth_flow import first_token
from tests.harness.subprocess_servers import ServerProcess, stat_cpu_seconds

DUMP_THREAD = re.compile(r'Thread (\d+) \([^)]*\): "([^"]+)"')


def prefill(database: Path, events: int) -> None:
    """``events`` accepted MCP requests of one client, written as the journal writer writes."""
    from demo_as.db import create_db_engine
    from demo_as.lab.journal import NewEvent, write_events

    engine = create_db_engine(f"sqlite:///{database}")
    try:
        for start in range(0, events, 500):
            batch = [
                NewEvent(
                    "rs",
                    "mcp-request",
                    "tools/call whoami",
                    {"method": "tools/call", "status": 200, "token_in": "header", "n": n},
                    client_id="bench-busy-client",
                    attribution="token",
                )
                for n in range(start, min(start + 500, events))
            ]
            write_events(engine, None, batch)
    finally:
        engine.dispose()


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of ``pid``."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            found[int(tid)] = stat_cpu_seconds(Path(f"/proc/{pid}/task/{tid}/stat"))
        except FileNotFoundError:
            continue  # the thread ended
    return found


def thread_names(pid: int) -> dict[int, str]:
    """Thread id -> Python thread name, from ``py-spy dump`` ({} without py-spy)."""
    try:
        dump = subprocess.run(
            ["uvx", "py-spy", "dump", "--pid", str(pid)],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {int(tid): name for tid, name in DUMP_THREAD.findall(dump)}


async def request_for(workload: str, server: ServerProcess):
    if workload == "first-token":
        return c.OurFirstToken(server.base_url, RESOURCE), 4
    async with http_client(1) as client:
        grant = await first_token(client, server.base_url, RESOURCE)
    return c.OurIntrospect(server.base_url, grant.access_token), 8


async def give_history(servers: dict[str, ServerProcess], seconds: float) -> None:
    """``seconds`` of new clients' first tokens at each server (as a full run's first-token
    figures leave its AS before the introspection figures), then until their deferred work is
    done (``cost_figures.settled_cpu``)."""
    async with http_client(4) as client:
        for server in servers.values():
            request = c.OurFirstToken(server.base_url, RESOURCE)
            await run_load(client, request, concurrency=4, seconds=seconds)
    await c.settled_cpu(list(servers.values()))


async def measure(servers: dict[str, ServerProcess], args: argparse.Namespace) -> None:
    if args.history:
        await give_history(servers, args.history)
    requests = {label: await request_for(args.workload, s) for label, s in servers.items()}
    cpu: dict[str, dict[int, float]] = {label: {} for label in servers}
    done = dict.fromkeys(servers, 0)
    async with http_client(8) as client:
        for index in range(args.rounds):
            order = list(servers) if index % 2 == 0 else list(servers)[::-1]
            for label in order:
                server, (request, concurrency) = servers[label], requests[label]
                before = thread_cpu(server.pid)
                result = await run_load(
                    client, request, concurrency=concurrency, seconds=args.seconds
                )
                await asyncio.sleep(args.after)
                after = thread_cpu(server.pid)
                done[label] += result.requests
                for tid, seconds in after.items():
                    cpu[label][tid] = cpu[label].get(tid, 0.0) + seconds - before.get(tid, 0.0)
    for label, server in servers.items():
        names, count = thread_names(server.pid), max(done[label], 1)
        total = sum(cpu[label].values())
        print(f"{label}: {done[label]} × {args.workload}, {total / count * 1000:.3f} ms CPU each")
        for tid, seconds in sorted(cpu[label].items(), key=lambda item: -item[1]):
            if seconds > 0:
                print(f"  {names.get(tid, f'thread {tid}'):>22}: {seconds / count * 1000:.3f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", action="append", required=True, help="label=path")
    parser.add_argument("--no-lab", action="append", default=[], help="a label to run --no-lab")
    parser.add_argument("--workload", choices=["first-token", "introspect"], default="first-token")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--after", type=float, default=4.0, help="seconds idle after a round")
    parser.add_argument("--prefill", type=int, default=0, help="events in each journal first")
    parser.add_argument(
        "--history", type=float, default=0.0, help="seconds of first tokens at each AS first"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-auth-thread-cpu-") as tmp:
        servers: dict[str, ServerProcess] = {}
        try:
            for spec in args.checkout:
                label, _, path = spec.partition("=")
                lab = label not in args.no_lab
                servers[label] = start_checkout(Path(tmp), label, Path(path), lab)
            wait_ready(list(servers.values()))
            for label in servers:
                if args.prefill and label not in args.no_lab:
                    prefill(Path(tmp) / f"{label}.db", args.prefill)
            asyncio.run(measure(servers, args))
        finally:
            for server in servers.values():
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
