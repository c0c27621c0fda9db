"""Profile one server under the benchmark's whoami load with pyinstrument (ad hoc, not in CI).

    uv run --with pyinstrument python bench/profile.py --target rs --token-check introspect
    uv run --with pyinstrument python bench/profile.py --target as --token-check introspect
    uv run --with pyinstrument python bench/profile.py --target rs --token-check jwt

Starts the same processes as ``run.py`` with the profiled one running under
``python -m pyinstrument``, drives stateless ``tools/call whoami`` for ``--seconds``, stops the
servers and prints the profile (text, the slowest call paths first). pyinstrument is not a
project dependency: ``uv run --with pyinstrument`` layers it in for one run.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path

import measurements as m
from loadgen import http_client, run_load
from stack import start_as, start_rs, wait_ready

from tests.harness.subprocess_servers import free_loopback_port


async def drive(base_url: str, issuer: str, seconds: float, concurrency: int) -> str:
    grant = await m.obtain_token(issuer, f"{base_url}/mcp")
    call = m.StatelessToolCall(f"{base_url}/mcp", grant.access_token)
    async with http_client(concurrency) as client:
        result = await run_load(client, call, concurrency=concurrency, seconds=seconds)
    return f"{result.requests} requests, {result.errors} errors, {result.rps:.0f} req/s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=["rs", "as"], default="rs")
    parser.add_argument("--token-check", choices=["jwt", "introspect"], default="jwt")
    parser.add_argument("--no-gate", action="store_true", help="profile the RS without its gate")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-auth-profile-") as tmp:
        workdir = Path(tmp)
        output = workdir / "profile.txt"
        profiler = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(output)]
        as_port, rs_port = free_loopback_port(), free_loopback_port()
        issuer = f"http://127.0.0.1:{as_port}"
        auth = start_as(
            workdir,
            [f"http://127.0.0.1:{rs_port}/mcp"],
            as_port,
            prefix=profiler if args.target == "as" else (),
        )
        resource = start_rs(
            workdir,
            "rs",
            rs_port,
            issuer,
            token_check=args.token_check,
            gate=not args.no_gate,
            prefix=profiler if args.target == "rs" else (),
        )
        try:
            wait_ready([auth, resource])
            print(asyncio.run(drive(resource.base_url, issuer, args.seconds, args.concurrency)))
        finally:
            resource.stop(signal.SIGINT)
            auth.stop(signal.SIGINT)
        print(output.read_text() if output.exists() else "no profile written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
