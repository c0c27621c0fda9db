"""AS CPU per request of two (or more) demo_as checkouts side by side (ad hoc, not in CI).

    git archive <commit> | tar -x -C /tmp/base      # the "before" tree
    uv run python bench/as_ab.py --checkout before=/tmp/base --checkout after=. \\
        [--peer-dir /work/peer/examples/servers/simple-auth] [--lab] [--rounds 6]

Starts one ``demo-as`` per checkout (``PYTHONPATH=<checkout>``, this venv's dependencies, lab off
unless ``--lab``, auto-approve, introspection on) and with ``--peer-dir`` the peer's AS
(``peer.py``), then measures each workload in alternating rounds (order flipped every round) and
prints AS CPU per request from ``/proc/<pid>/stat``, and requests per second:

- ``health``: ``GET /health`` (8 workers): a database round trip through the stack;
- ``metadata``: ``GET /.well-known/oauth-authorization-server`` (8 workers), ours and the
  peer's: the cost of a trivial request through each stack;
- ``first-token``: a new client's first token, 4 at a time (``cost_figures.as_first_token``);
- ``introspect``: ``POST /introspect`` of a valid JWT (8 workers);
- ``refresh``: refresh grants, 32 workers each rotating its own chain.

This is how the before → after figures of bench/profiling.md §4 are measured: the machine is
shared, so only figures of one run, in alternating rounds, are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import cost_figures as c
from loadgen import http_client
from peer import PeerIntrospect, PeerStack, peer_token_round_trip, start_peer
from stack import INTROSPECTION_SECRET, wait_ready

from tests.harness.oauth_flow import first_token
from tests.harness.subprocess_servers import ServerProcess, demo_as_process, free_loopback_port

RESOURCE = "http://127.0.0.1:9/mcp"  # never contacted: the AS only puts it in the tokens' aud


def start_checkout(workdir: Path, label: str, checkout: Path, lab: bool) -> ServerProcess:
    server = demo_as_process(
        workdir,
        f"sqlite:///{workdir / (label + '.db')}",
        resources=[RESOURCE],
        port=free_loopback_port(),
        extra_args=[
            "--auto-approve",
            "--introspection-secret",
            INTROSPECTION_SECRET,
            "--access-token-ttl",
            "3600",
            "--registration-rate-per-minute",
            "1000000",
            "--max-clients",
            "1000000",
            "--lab" if lab else "--no-lab",
        ],
        name=label,
    )
    server.env = {"PYTHONPATH": str(checkout.resolve())}
    return server.spawn()


class Get:
    """``GET <path>``, expecting 200."""

    def __init__(self, base_url: str, path: str) -> None:
        self.url = f"{base_url}{path}"

    async def __call__(self, client, worker_id: int) -> None:
        response = await client.get(self.url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {self.url}: {response.status_code}")


METADATA = "/.well-known/oauth-authorization-server"


async def measure(
    ours: dict[str, ServerProcess], peer: PeerStack | None, workloads: list[str], sizes
) -> None:
    peer_resource = f"{peer.rs.base_url}/mcp" if peer else ""
    for workload in workloads:
        sides: list[c.Side] = []
        if workload == "health":
            sides = [c.Side(k, Get(s.base_url, "/health"), [s]) for k, s in ours.items()]
            concurrency = 8
        elif workload == "metadata":
            sides = [c.Side(k, Get(s.base_url, METADATA), [s]) for k, s in ours.items()]
            if peer:
                sides.append(c.Side("peer", Get(peer.auth.base_url, METADATA), [peer.auth]))
            concurrency = 8
        elif workload == "first-token":
            sides = [c.Side(k, c.OurFirstToken(s.base_url, RESOURCE), [s]) for k, s in ours.items()]
            if peer:
                sides.append(
                    c.Side("peer", c.PeerFirstToken(peer.auth.base_url, peer_resource), [peer.auth])
                )
            concurrency = 4
        elif workload == "introspect":
            async with http_client(1) as client:
                for label, server in ours.items():
                    grant = await first_token(client, server.base_url, RESOURCE)
                    sides.append(
                        c.Side(
                            label, c.OurIntrospect(server.base_url, grant.access_token), [server]
                        )
                    )
                if peer:
                    token = await peer_token_round_trip(client, peer.auth.base_url, peer_resource)
                    sides.append(
                        c.Side("peer", PeerIntrospect(peer.auth.base_url, token), [peer.auth])
                    )
            concurrency = 8
        elif workload == "refresh":
            async with http_client(32) as client:
                for label, server in ours.items():
                    grants = [
                        await first_token(client, server.base_url, RESOURCE) for _ in range(32)
                    ]
                    sides.append(c.Side(label, c.RefreshChains(server.base_url, grants), [server]))
            concurrency = 32
        else:
            raise SystemExit(f"unknown workload {workload}")
        await c.alternate(
            sides, concurrency=concurrency, seconds=sizes.round_seconds, rounds=sizes.rounds
        )
        print(f"== {workload} ({concurrency} workers, {sizes.rounds} rounds)")
        for side in sides:
            rounds = ", ".join(
                f"{cpu / r.requests * 1000:.2f}"
                for cpu, r in zip(side.cpu, side.results, strict=True)
                if r.requests
            )
            print(
                f"  {side.label:>10}: {side.cpu_ms:7.3f} ms CPU/request (rounds {rounds}), "
                f"{side.rps:6.0f}/s, {side.errors} errors {side.error_samples[:1]}"
            )
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", action="append", required=True, help="label=path")
    parser.add_argument("--peer-dir", type=Path)
    parser.add_argument("--lab", action="store_true", help="run our ASes with the lab on")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--workload",
        action="append",
        help="health, metadata, first-token, introspect, refresh (default: all)",
    )
    args = parser.parse_args()
    sizes = c.CostSizes(args.seconds, args.rounds, 0, 0)
    workloads = args.workload or ["health", "metadata", "first-token", "introspect", "refresh"]
    with tempfile.TemporaryDirectory(prefix="mcp-auth-as-ab-") as tmp:
        workdir = Path(tmp)
        ours: dict[str, ServerProcess] = {}
        peer = None
        try:
            for spec in args.checkout:
                label, _, path = spec.partition("=")
                ours[label] = start_checkout(workdir, label, Path(path), args.lab)
            wait_ready(list(ours.values()))
            if args.peer_dir:
                peer = start_peer(args.peer_dir.resolve(), workdir)
            asyncio.run(measure(ours, peer, workloads, sizes))
        finally:
            for server in [*ours.values(), *(peer.all if peer else [])]:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
