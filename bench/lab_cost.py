"""What the lab costs the AS: AS CPU per request with the lab on ÷ with it off (issue #15).

    uv run python bench/lab_cost.py                 # all four comparisons, printed
    uv run python bench/lab_cost.py --prefill 20000 # with a journal as full as the full run's
    uv run python bench/lab_cost.py --only introspect-rs --seconds 3 --rounds 8

Two ``demo-as`` processes from one build, one with the lab on (the default) and one with
``--no-lab``, each with its own ``scoped-tools-server --token-check introspect`` (the lab-on one
reporting its journal to its AS, the lab-off one ``--no-lab-report``). Each comparison runs the
same load against both in alternating rounds and reads each AS's CPU time from
``/proc/<pid>/stat``:

- ``introspect``: ``POST /introspect`` of a valid JWT, 8 callers (AS: one introspection event);
- ``introspect-rs``: stateless ``tools/call whoami`` through the RS with introspection, 32
  clients (AS: the introspection event and the ingestion of the RS's events for that request);
- ``refresh``: refresh grants with rotation, 32 workers;
- ``first-token``: DCR + /authorize (auto-approve) + code exchange, 4 clients at a time.

``--prefill N`` first drives about N RS events through the lab-on stack (a journal as full as the
full run's at the point where ``bench/run.py`` measures the AS), so the lab's per-event costs
that grow with the journal (grading, retention) are in the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cost_figures as c
from loadgen import http_client, run_load
from measurements import StatelessToolCall
from stack import start_as, start_rs, wait_ready

from tests.harness.oauth_flow import first_token
from tests.harness.subprocess_servers import ServerProcess, free_loopback_port

COMPARISONS = ("introspect", "introspect-rs", "refresh", "first-token")


@dataclass
class LabStack:
    """An AS and its introspecting RS, with the lab on or off."""

    label: str
    auth: ServerProcess
    rs: ServerProcess

    @property
    def resource(self) -> str:
        return f"{self.rs.base_url}/mcp"


def start_lab_stack(workdir: Path, lab: bool) -> LabStack:
    """Spawned, not yet ready."""
    as_port, rs_port = free_loopback_port(), free_loopback_port()
    name = "lab_on" if lab else "lab_off"
    auth = start_as(
        workdir,
        [f"http://127.0.0.1:{rs_port}/mcp"],
        as_port,
        name=f"demo_as_{name}",
        extra=[] if lab else ["--no-lab"],
    )
    rs = start_rs(
        workdir,
        f"rs_{name}",
        rs_port,
        auth.base_url,
        token_check="introspect",
        gate=True,
        lab_report=lab,
    )
    return LabStack("lab on" if lab else "lab off", auth, rs)


async def sides_for(comparison: str, stacks: list[LabStack]) -> tuple[list[c.Side], int]:
    """The two sides of one comparison and its concurrency."""
    sides: list[c.Side] = []
    async with http_client(32) as client:
        for stack in stacks:
            issuer = stack.auth.base_url
            if comparison == "first-token":
                request = c.OurFirstToken(issuer, stack.resource)
            elif comparison == "refresh":
                grants = [await first_token(client, issuer, stack.resource) for _ in range(32)]
                request = c.RefreshChains(issuer, grants)
            else:
                token = (await first_token(client, issuer, stack.resource)).access_token
                if comparison == "introspect":
                    request = c.OurIntrospect(issuer, token)
                else:
                    request = StatelessToolCall(stack.resource, token)
            sides.append(c.Side(stack.label, request, [stack.auth]))
    concurrency = {"introspect": 8, "first-token": 4}.get(comparison, 32)
    return sides, concurrency


async def prefill(stack: LabStack, events: int) -> None:
    """About ``events`` RS events (two per whoami: the MCP request and its tool result) from
    one client, so the lab-on journal holds what a long run leaves in it."""
    async with http_client(32) as client:
        token = (await first_token(client, stack.auth.base_url, stack.resource)).access_token
        call = StatelessToolCall(stack.resource, token)
        done = 0
        while done * 2 < events:
            result = await run_load(client, call, concurrency=32, seconds=2.0)
            done += result.requests
    await asyncio.sleep(3.0)  # the RS's last batch and the grader's pass


async def compare(
    stacks: list[LabStack], comparisons: list[str], seconds: float, rounds: int
) -> dict[str, list[c.Side]]:
    """Each comparison's two sides (lab on, lab off), measured in alternating rounds."""
    results = {}
    for comparison in comparisons:
        sides, concurrency = await sides_for(comparison, stacks)
        results[comparison] = await c.alternate(
            sides, concurrency=concurrency, seconds=seconds, rounds=rounds
        )
    return results


def cpu_ratio(sides: list[c.Side]) -> float | None:
    """AS CPU per request, lab on ÷ lab off."""
    on, off = sides
    return on.cpu_ms / off.cpu_ms if off.cpu_ms else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=COMPARISONS, action="append")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--prefill", type=int, default=0, help="RS events first (lab on)")
    parser.add_argument("--keep", type=Path, help="copy the servers' logs to this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-auth-labcost-") as tmp:
        workdir = Path(tmp)
        on = start_lab_stack(workdir, lab=True)
        off = start_lab_stack(workdir, lab=False)
        servers = [on.auth, on.rs, off.auth, off.rs]
        try:
            wait_ready(servers)
            if args.prefill:
                asyncio.run(prefill(on, args.prefill))
            comparisons = args.only or list(COMPARISONS)
            results = asyncio.run(compare([on, off], comparisons, args.seconds, args.rounds))
            for comparison, sides in results.items():
                ratio = cpu_ratio(sides) or float("nan")
                print(
                    f"{comparison}: lab on ÷ off AS CPU {ratio:.2f}×; "
                    + "; ".join(side.summary() for side in sides)
                )
                for side in sides:
                    if side.errors:
                        print(f"  {side.label}: {side.errors} errors: {side.error_samples}")
            print(f"AS RSS: lab on {on.auth.rss_mb():.1f} MiB, lab off {off.auth.rss_mb():.1f} MiB")
        finally:
            for server in reversed(servers):
                server.stop(signal.SIGINT)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for server in servers:
                    (args.keep / server.log_path.name).write_text(server.log_tail(10**8))
    return 0


if __name__ == "__main__":
    sys.exit(main())
