"""Benchmarks: the cost of authorization, measured against its limits.

    uv run python bench/run.py           # full run, writes bench/results.md
    uv run python bench/run.py --quick   # smoke sizes (< 60 s), writes bench/results-quick.md
    uv run python bench/run.py --peer-dir /work/peer/examples/servers/simple-auth

Starts one ``demo-as`` and three ``scoped-tools-server`` processes on loopback (gate on with JWT
checks, gate off, gate on with RFC 7662 introspection), and with ``--peer-dir`` the peer's AS and
RS (``peer.py``), measures, prints one ``name: value`` line per figure and writes the results
file. Exit status 1 only on a real failure (an error during a
load run, a failed story, a crash), never for a missed performance goal: those are reported in
the results file. The README's "Benchmarks" section explains every figure.

The honest client, the raw MCP requests and the server processes are the test kit's
(``tests.harness``): ``uv sync`` installs this project editable, which puts the repository root on
the interpreter's path, so ``tests.harness`` imports with no path set-up of our own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import cost_figures
import measurements as m
from cost_run import measure_costs
from peer import PeerStack, check_peer_dir, start_peer
from report import BENCH_DIR, Figure, Report, write
from stack import start_as, start_rs, wait_ready

from tests.harness.subprocess_servers import PortTaken, ServerProcess, free_loopback_port

CONCURRENCY = 32


@dataclass(frozen=True)
class Sizes:
    token_round_trips: int
    refresh_seconds: float
    verify_iterations: int
    pair_seconds: float
    gate_rounds: int
    introspect_rounds: int
    load_seconds: float
    story_runs: int


# Many short alternating rounds: other work on the machine then hits both sides of a ratio alike.
FULL = Sizes(200, 10.0, 3000, 2.0, 10, 4, 60.0, 5)
QUICK = Sizes(10, 2.0, 300, 0.75, 4, 1, 5.0, 1)


@dataclass
class Stack:
    auth: ServerProcess
    gate_on: ServerProcess
    gate_off: ServerProcess
    introspect: ServerProcess
    journal_off: ServerProcess

    @property
    def all(self) -> list[ServerProcess]:
        return [self.auth, self.gate_on, self.gate_off, self.introspect, self.journal_off]


def start_stack(workdir: Path, attempts: int = 3) -> Stack:
    """``start_stack_once``, again on new ports when another program took one meanwhile."""
    for attempt in range(attempts):
        try:
            return start_stack_once(workdir)
        except PortTaken:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def start_stack_once(workdir: Path) -> Stack:
    ports = [free_loopback_port() for _ in range(5)]
    as_port, on_port, off_port, intro_port, journal_off_port = ports
    issuer = f"http://127.0.0.1:{as_port}"
    resources = [f"http://127.0.0.1:{port}/mcp" for port in ports[1:]]
    servers: list[ServerProcess] = []
    try:
        servers.append(start_as(workdir, resources, as_port))
        servers.append(
            start_rs(workdir, "rs_gate_on", on_port, issuer, token_check="jwt", gate=True)
        )
        servers.append(
            start_rs(
                workdir,
                "rs_gate_off",
                off_port,
                issuer,
                token_check="jwt",
                gate=False,
                lab_report=False,
            )
        )
        servers.append(
            start_rs(
                workdir, "rs_introspect", intro_port, issuer, token_check="introspect", gate=True
            )
        )
        servers.append(
            start_rs(
                workdir,
                "rs_journal_off",
                journal_off_port,
                issuer,
                token_check="jwt",
                gate=True,
                lab_report=False,
            )
        )
        wait_ready(servers)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return Stack(*servers)


def load_average_line(when: str) -> str:
    one, five, fifteen = os.getloadavg()
    busy = " (other work was competing for the cores)" if one > (os.cpu_count() or 1) else ""
    return f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}{busy}"


def check_errors(report: Report, what: str, errors: int, samples: list[str]) -> None:
    if errors:
        report.fail(f"{what}: {errors} failed request(s); first: {samples[:3]}")


def rounds_detail(label: str, results: list) -> str:
    rates = ", ".join(f"{r.rps:.0f}" for r in results)
    cpu = ", ".join(f"{r.server_cpu_share:.2f}" for r in results if r.server_cpu_share is not None)
    return f"{label}: per-round req/s [{rates}]; server CPU (cores) [{cpu}]"


async def measure_tokens(report: Report, stack: Stack, sizes: Sizes) -> None:
    issuer, resource = stack.auth.base_url, f"{stack.gate_on.base_url}/mcp"
    timings = await m.measure_token_round_trips(issuer, resource, sizes.token_round_trips)
    report.add(Figure("token_p50_ms", timings.p50_ms, "ms", TOKEN_MEANING, 1))
    report.add(Figure("token_p95_ms", timings.p95_ms, "ms", TOKEN_MEANING + " (95th pct)", 1))
    report.detail(f"token round trips: {len(timings.round_trips_ms)} sequential, after 3 warm-ups")
    refreshes = await m.measure_refresh_throughput(
        issuer,
        resource,
        concurrency=CONCURRENCY,
        seconds=sizes.refresh_seconds,
        cpu_clock=stack.auth.cpu_seconds,
    )
    check_errors(report, "refresh run", refreshes.errors, refreshes.error_samples)
    report.add(
        Figure(
            "refresh_rps",
            refreshes.rps,
            "req/s",
            REFRESH_MEANING,
            0,
            goal="≥ 500",
            check=lambda value: value >= 500,
            why_missed="`refresh_cpu_ms` is the AS's own cost per grant, whatever else runs.",
        )
    )
    refresh_cpu_ms = (refreshes.server_cpu_seconds or 0.0) / max(refreshes.requests, 1) * 1000
    report.add(Figure("refresh_cpu_ms", refresh_cpu_ms, "ms", REFRESH_CPU_MEANING, 2))
    report.detail(
        f"refresh: {refreshes.requests} rotations in {refreshes.seconds:.1f} s by {CONCURRENCY} "
        f"workers, p50 {refreshes.median_ms:.1f} ms, p95 {refreshes.latency_ms(0.95):.1f} ms, "
        f"AS CPU {refreshes.server_cpu_share or 0:.2f} cores"
    )


async def measure_gate(report: Report, stack: Stack, sizes: Sizes, token: str) -> None:
    verify = await m.measure_verify(
        stack.auth.base_url,
        f"{stack.gate_on.base_url}/mcp",
        token,
        iterations=sizes.verify_iterations,
    )
    report.add(Figure("verify_us", verify.gate_us, "µs", VERIFY_MEANING, 1))
    report.add(Figure("verify_limit_us", verify.limit_us, "µs", LIMIT_MEANING, 1))
    paired = await m.measure_paired_whoami(
        (stack.gate_on, token),
        (stack.gate_off, token),  # the same header is sent; the gate-off server ignores it
        concurrency=CONCURRENCY,
        seconds=sizes.pair_seconds,
        rounds=sizes.gate_rounds,
    )
    check_errors(report, "gate on/off run", paired.errors, paired.error_samples)
    report.add(
        Figure(
            "gate_overhead_ratio",
            paired.ratio,
            "×",
            GATE_MEANING,
            3,
            goal="≥ 0.90",
            check=lambda value: value >= 0.90,
            why_missed="The gate's own work per request (the token check with its cache, "
            "session binding, the lab's record of the exchange): compare "
            "`bench/profile.py --target rs` with and without `--no-gate` (Profile §1).",
        )
    )
    report.add(
        Figure(
            "gate_cpu_ratio",
            paired.b_cpu_us / paired.a_cpu_us if paired.a_cpu_us else 0.0,
            "×",
            GATE_CPU_MEANING,
            3,
        )
    )
    report.detail(
        f"whoami server CPU per request: gate on {paired.a_cpu_us:.0f} µs, "
        f"gate off {paired.b_cpu_us:.0f} µs"
    )
    report.detail(rounds_detail(f"whoami, gate on ({paired.a_rps:.0f} req/s)", paired.a))
    report.detail(rounds_detail(f"whoami, gate off ({paired.b_rps:.0f} req/s)", paired.b))


async def paired_with_gate_on(
    stack: Stack, other: ServerProcess, sizes: Sizes, token: str
) -> m.PairedThroughput:
    """whoami on the gate-on RS (with ``token``) against ``other`` (with a token for it)."""
    other_token = await m.obtain_token(stack.auth.base_url, f"{other.base_url}/mcp")
    return await m.measure_paired_whoami(
        (stack.gate_on, token),
        (other, other_token.access_token),
        concurrency=CONCURRENCY,
        seconds=sizes.pair_seconds,
        rounds=sizes.introspect_rounds,
    )


async def measure_introspection(report: Report, stack: Stack, sizes: Sizes, token: str) -> None:
    paired = await paired_with_gate_on(stack, stack.introspect, sizes, token)
    check_errors(report, "jwt/introspect run", paired.errors, paired.error_samples)
    report.add(Figure("jwt_vs_introspect_ratio", paired.ratio, "×", INTROSPECT_MEANING, 2))
    report.detail(
        f"whoami RS CPU per request: JWT {paired.a_cpu_us:.0f} µs, "
        f"introspect {paired.b_cpu_us:.0f} µs (plus the AS's work per introspection)"
    )
    report.detail(rounds_detail(f"whoami, JWT ({paired.a_rps:.0f} req/s)", paired.a))
    report.detail(rounds_detail(f"whoami, introspect ({paired.b_rps:.0f} req/s)", paired.b))


def lab_rs_events(auth: ServerProcess) -> int:
    """How many RS events the AS's lab stored (what the bounded queue did not drop)."""
    database = auth.log_path.parent / "demo_as.db"
    with contextlib.closing(sqlite3.connect(database)) as db:
        return db.execute("SELECT count(*) FROM lab_event WHERE server = 'rs'").fetchone()[0]


async def measure_journal(report: Report, stack: Stack, sizes: Sizes, token: str) -> None:
    """The lab journal's cost: the same gate-on server with the journal on ÷ off (as many
    rounds as the introspection pair, so the quick run stays quick)."""
    paired = await paired_with_gate_on(stack, stack.journal_off, sizes, token)
    check_errors(report, "journal on/off run", paired.errors, paired.error_samples)
    report.add(Figure("journal_ratio", paired.ratio, "×", JOURNAL_MEANING, 3))
    journal_cpu = paired.b_cpu_us / paired.a_cpu_us if paired.a_cpu_us else 0.0
    report.add(Figure("journal_cpu_ratio", journal_cpu, "×", JOURNAL_CPU_MEANING, 3))
    report.detail(
        f"whoami RS CPU per request: journal on {paired.a_cpu_us:.0f} µs, "
        f"journal off {paired.b_cpu_us:.0f} µs; {lab_rs_events(stack.auth)} RS events stored "
        "by the AS's lab"
    )
    report.detail(rounds_detail(f"whoami, journal on ({paired.a_rps:.0f} req/s)", paired.a))
    report.detail(rounds_detail(f"whoami, journal off ({paired.b_rps:.0f} req/s)", paired.b))


async def measure_load_and_memory(report: Report, stack: Stack, sizes: Sizes, token: str) -> None:
    load = await m.measure_load(
        stack.gate_on, token, concurrency=CONCURRENCY, seconds=sizes.load_seconds
    )
    check_errors(report, "load run", load.errors, load.error_samples)
    report.add(Figure("load_rps", load.rps, "req/s", LOAD_MEANING, 0))
    report.add(
        Figure(
            "load_errors",
            load.errors,
            "requests",
            "failed requests during the load run",
            0,
            goal="= 0",
            check=lambda value: value == 0,
        )
    )
    report.detail(
        f"load run: {load.requests} requests in {load.seconds:.1f} s, {CONCURRENCY} clients, "
        f"p50 {load.median_ms:.1f} ms, p95 {load.latency_ms(0.95):.1f} ms, "
        f"p99 {load.latency_ms(0.99):.1f} ms, RS CPU {load.server_cpu_share or 0:.2f} cores"
    )
    for name, server in (("as_rss_mb", stack.auth), ("rs_rss_mb", stack.gate_on)):
        report.add(
            Figure(
                name,
                server.rss_mb(),
                "MiB",
                f"VmRSS of the {server.name} process after the load",
                1,
                goal="< 150",
                check=lambda value: value < 150,
            )
        )


def measure_story(report: Report, sizes: Sizes, workdir: Path) -> None:
    story, cached = m.measure_story(sizes.story_runs, workdir, with_cache=not report.quick)
    for failure in story.failures + cached.failures:
        report.fail(f"demo-client story failed: {failure}")
    if not story.seconds:
        return
    report.add(
        Figure(
            "story_seconds",
            story.median,
            "s",
            STORY_MEANING,
            2,
            goal="< 2",
            check=lambda value: value < 2,
            why_missed="See `story_cpu_seconds`, `story_bytecode_*` and Profile §3 below: most "
            "of it is importing (and, without bytecode on disk, compiling) the MCP SDK, FastAPI "
            "and SQLAlchemy.",
        )
    )
    report.add(
        Figure(
            "story_first_line_seconds",
            story.median_first_line,
            "s",
            "time until `demo-client story` prints its first line, median of the runs",
            2,
            goal="< 0.7",
            check=lambda value: value < 0.7,
        )
    )
    report.add(Figure("story_cpu_seconds", story.median_cpu, "s", STORY_CPU_MEANING, 2))
    if cached.seconds:
        report.add(Figure("story_bytecode_seconds", cached.median, "s", STORY_CACHED_MEANING, 2))
        report.add(
            Figure(
                "story_bytecode_first_line_seconds",
                cached.median_first_line,
                "s",
                "the same, time to its first line",
                2,
            )
        )
        report.add(
            Figure("story_bytecode_cpu_seconds", cached.median_cpu, "s", "the same, CPU time", 2)
        )
    for label, timings in (("as installed", story), ("with bytecode", cached)):
        report.detail(
            f"story runs {label} (s): wall "
            + ", ".join(f"{s:.2f}" for s in timings.seconds)
            + "; first line "
            + ", ".join(f"{s:.2f}" for s in timings.first_line)
            + "; CPU "
            + ", ".join(f"{s:.2f}" for s in timings.cpu_seconds)
        )
    report.detail(m.bytecode_line())


async def measure_servers(
    report: Report, stack: Stack, sizes: Sizes, workdir: Path, peer: PeerStack | None
) -> None:
    token = await m.obtain_token(stack.auth.base_url, f"{stack.gate_on.base_url}/mcp")
    await measure_tokens(report, stack, sizes)
    await measure_gate(report, stack, sizes, token.access_token)
    await measure_introspection(report, stack, sizes, token.access_token)
    await measure_journal(report, stack, sizes, token.access_token)
    await measure_load_and_memory(report, stack, sizes, token.access_token)
    # After the load run and its RSS figures: the session figure leaves 1,000 sessions open.
    await measure_costs(
        report,
        auth=stack.auth,
        rs_jwt=stack.gate_on,
        rs_introspect=stack.introspect,
        workdir=workdir,
        peer=peer,
        sizes=cost_figures.QUICK_COSTS if report.quick else cost_figures.FULL_COSTS,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 60 s), for CI")
    parser.add_argument("--output", type=Path, help="results file (default: see above)")
    parser.add_argument(
        "--peer-dir",
        type=Path,
        help="examples/servers/simple-auth of a python-sdk checkout (outside this repository); "
        "without it the peer figures say 'not measured'",
    )
    args = parser.parse_args(argv)
    peer_dir = check_peer_dir(args.peer_dir) if args.peer_dir else None
    sizes = QUICK if args.quick else FULL
    output = args.output or BENCH_DIR / ("results-quick.md" if args.quick else "results.md")
    report = Report(quick=args.quick)
    report.detail(load_average_line("at start"))
    with tempfile.TemporaryDirectory(prefix="mcp-auth-bench-") as tmp:
        workdir = Path(tmp)
        try:
            stack = start_stack(workdir)
            peer = None
            try:
                peer = start_peer(peer_dir, workdir) if peer_dir else None
                asyncio.run(measure_servers(report, stack, sizes, workdir, peer))
            finally:
                for server in stack.all + (peer.all if peer else []):
                    server.stop()
            measure_story(report, sizes, workdir)
        except Exception as exc:
            traceback.print_exc()
            report.fail(f"the benchmark crashed: {type(exc).__name__}: {exc}")
    report.detail(load_average_line("at end"))
    command = "uv run python bench/run.py" + (" --quick" if args.quick else "")
    if peer_dir:
        command += " --peer-dir <python-sdk>/examples/servers/simple-auth"
    else:
        report.detail("peer: not measured (no --peer-dir)")
    write(report, output, command)
    for figure in report.missed_goals:
        print(f"goal missed: {figure.name} = {figure.shown} (goal {figure.goal})", flush=True)
    return 1 if report.failures else 0


TOKEN_MEANING = (
    "one new client's first token: DCR registration + /authorize (auto-approve, PKCE) + "
    "code exchange, sequential"
)
REFRESH_MEANING = f"/token refresh grants (with rotation) per second, {CONCURRENCY} workers"
REFRESH_CPU_MEANING = "AS CPU per refresh grant in that run (insensitive to other load)"
VERIFY_MEANING = "the gate's token check per request (header parse + JwtTokenVerifier, warm JWKS)"
LIMIT_MEANING = "bare joserfc ES256 verify of the same token and key (the floor)"
GATE_MEANING = (
    "stateless tools/call whoami throughput, gate on with a valid token (lab journal on) ÷ "
    f"gate off (journal off) (same build, alternating rounds, {CONCURRENCY} clients)"
)
JOURNAL_CPU_MEANING = (
    "RS CPU time per whoami, journal off ÷ journal on: the same comparison, insensitive to other "
    "processes competing for the cores"
)
JOURNAL_MEANING = (
    "whoami throughput, gate on, lab journal reporting to the AS ÷ journal off "
    f"(--no-lab-report), alternating rounds, {CONCURRENCY} clients"
)
GATE_CPU_MEANING = (
    "RS CPU time per whoami, gate off ÷ gate on: the same comparison, insensitive to other "
    "processes competing for the cores"
)
INTROSPECT_MEANING = (
    "whoami throughput with local JWT checks ÷ with RFC 7662 introspection per request"
)
LOAD_MEANING = (
    f"RS throughput, {CONCURRENCY} clients, note create/read/list/delete + whoami, "
    "half stateless 2026-07-28, half 2025-11-25 sessions"
)
STORY_MEANING = "`demo-client story` wall time, embedded mode, median of the runs"
STORY_CPU_MEANING = "CPU time (user + system) of that process, AS and RS included, median"
STORY_CACHED_MEANING = (
    "`demo-client story` wall time with a bytecode cache (PYTHONPYCACHEPREFIX, filled by one "
    "unmeasured run), alternating with the runs above"
)


if __name__ == "__main__":
    sys.exit(main())
