"""Measure a proposed fix: whoami throughput and RS CPU per request, with and without it.

    uv run python bench/compare_fixes.py gate                   # gate on ÷ off, today's code
    uv run python bench/compare_fixes.py gate cache             # ... with the token cache
    uv run python bench/compare_fixes.py introspect ""          # JWT vs introspection
    uv run python bench/compare_fixes.py introspect quietlog,client

Both RS instances run under ``proposed_fixes.py`` with the same ``BENCH_FIXES``; the measurement
is ``measurements.measure_paired_whoami`` (alternating rounds, 32 clients), as in ``run.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import measurements as m
from stack import free_loopback_port, start_as, start_rs, wait_healthy

WRAPPER = str(Path(__file__).with_name("proposed_fixes.py"))


async def compare(workdir: Path, mode: str, rounds: int, seconds: float) -> str:
    as_port, a_port, b_port = (free_loopback_port() for _ in range(3))
    issuer = f"http://127.0.0.1:{as_port}"
    resources = [f"http://127.0.0.1:{port}/mcp" for port in (a_port, b_port)]
    prefix = [sys.executable, WRAPPER]
    auth = start_as(workdir, resources, as_port)
    a = start_rs(workdir, "a", a_port, issuer, token_check="jwt", gate=True, prefix=prefix)
    b_check, b_gate = ("jwt", False) if mode == "gate" else ("introspect", True)
    b = start_rs(workdir, "b", b_port, issuer, token_check=b_check, gate=b_gate, prefix=prefix)
    try:
        wait_healthy([auth, a, b])
        token_a = (await m.obtain_token(issuer, resources[0])).access_token
        token_b = (await m.obtain_token(issuer, resources[1])).access_token
        paired = await m.measure_paired_whoami(
            (a, token_a), (b, token_b), concurrency=32, seconds=seconds, rounds=rounds
        )
    finally:
        for server in (auth, a, b):
            server.stop()
    b_name = "gate off" if mode == "gate" else "introspect"
    return (
        f"{mode} fixes={os.environ['BENCH_FIXES']!r}: jwt+gate {paired.a_rps:.0f} req/s, "
        f"{paired.a_cpu_us:.0f} µs CPU/req | {b_name} {paired.b_rps:.0f} req/s, "
        f"{paired.b_cpu_us:.0f} µs CPU/req | throughput ratio {paired.ratio:.3f}, CPU ratio "
        f"{paired.b_cpu_us / paired.a_cpu_us:.3f} | errors {paired.errors} | "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "gate"
    os.environ["BENCH_FIXES"] = sys.argv[2] if len(sys.argv) > 2 else ""
    rounds, seconds = (6, 2.0) if mode == "gate" else (2, 3.0)
    with tempfile.TemporaryDirectory(prefix="mcp-auth-fixes-") as tmp:
        print(asyncio.run(compare(Path(tmp), mode, rounds, seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
