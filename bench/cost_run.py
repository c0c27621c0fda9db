"""The cost figures of ``cost_figures.py`` as ``Figure``s with their goals (issue #15).

``run.py`` calls ``measure_costs`` once per run, after the throughput figures, with the same
stack; the peer (``--peer-dir``) is started by ``run.py`` too, so its figures come from the same
run and the same load generator.
"""

from __future__ import annotations

from pathlib import Path

import cost_figures as c
import lab_cost
from loadgen import http_client
from measurements import obtain_token
from peer import PeerStack, peer_token_round_trip
from report import Figure, Report
from stack import start_as, wait_ready

from tests.harness.subprocess_servers import ServerProcess, free_loopback_port

PEER = "the official python-sdk simple-auth example (same SDK, same run, alternating rounds)"


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def check_errors(report: Report, sides: list[c.Side]) -> None:
    for side in sides:
        if side.errors:
            report.fail(f"{side.label}: {side.errors} failed request(s); {side.error_samples}")


def detail_sides(report: Report, title: str, sides: list[c.Side]) -> None:
    report.detail(f"{title}: " + "; ".join(side.summary() for side in sides))


def add_ours_and_ratio(
    report: Report,
    sides: list[c.Side],
    ours: tuple[str, str, int],
    versus: tuple[str, str],
    why_missed: str,
) -> None:
    """Our AS's CPU per request (``ours``: name, meaning, digits) and its ratio to the peer's
    (``versus``: name, meaning; goal ≤ 1.00, "not measured" without a peer)."""
    check_errors(report, sides)
    name, meaning, digits = ours
    report.add(Figure(name, sides[0].cpu_ms, "ms", meaning, digits))
    report.add(
        Figure(
            versus[0],
            ratio(sides[0].cpu_ms, sides[1].cpu_ms) if len(sides) > 1 else None,
            "×",
            f"{versus[1]}: {PEER}",
            2,
            goal="≤ 1.00",
            check=lambda value: value <= 1.0,
            why_missed=why_missed,
        )
    )


async def first_token_figures(
    report: Report,
    auth: ServerProcess,
    resource: str,
    peer: PeerStack | None,
    sizes: c.CostSizes,
    no_lab: ServerProcess | None,
) -> None:
    """Ours (lab on, as shipped) against the peer; ``no_lab`` (full runs) takes part in the same
    alternation, so the run also says how much of the difference is the lab."""
    sides = await c.as_first_token(auth, resource, peer, sizes, no_lab=no_lab)
    versus_peer, ours_no_lab = without_no_lab(sides, no_lab is not None)
    add_ours_and_ratio(
        report,
        versus_peer,
        ("as_first_token_cpu_ms", FIRST_TOKEN_MEANING, 2),
        (
            "as_first_token_cpu_vs_peer",
            "our AS CPU per first token ÷ the peer AS's (5 requests there)",
        ),
        "See Profile §7, §8, §10, §11 and §14 below: ours stores each step durably (14 "
        "statements and 3 commits per first token, on the sqlite3 driver), signs an ES256 JWT "
        "(RFC 9068) and journals and grades the client for the lab; the peer keeps opaque tokens "
        "in dicts. `as_first_token_no_lab_cpu_vs_peer` (full runs) is the same comparison "
        "without the lab.",
    )
    if ours_no_lab is not None:
        no_lab_figure(
            report, "as_first_token_no_lab_cpu_vs_peer", "first token", ours_no_lab, versus_peer
        )
    detail_sides(report, "first token", sides)


def without_no_lab(sides: list[c.Side], has_no_lab: bool) -> tuple[list[c.Side], c.Side | None]:
    """``[ours, (ours --no-lab), (peer)]`` as ``[ours, (peer)]`` and the ``--no-lab`` side."""
    if not has_no_lab:
        return sides, None
    return [sides[0], *sides[2:]], sides[1]


def no_lab_figure(
    report: Report, name: str, per: str, ours_no_lab: c.Side, versus_peer: list[c.Side]
) -> None:
    """The ``--no-lab`` AS's CPU per ``per`` ÷ the peer's (``versus_peer``: ours, then the
    peer's side if measured), measured in the same alternation."""
    check_errors(report, [ours_no_lab])
    report.add(
        Figure(
            name,
            ratio(ours_no_lab.cpu_ms, versus_peer[1].cpu_ms) if len(versus_peer) > 1 else None,
            "×",
            f"AS CPU per {per} of this build with --no-lab (a database of its own, fresh at "
            f"the start of these figures) ÷ the peer AS's, in the same alternation: the "
            f"protocol's work without the lab's: {PEER}",
            2,
        )
    )


async def introspection_figures(
    report: Report,
    auth: ServerProcess,
    token: str,
    peer: PeerStack | None,
    peer_token: str | None,
    sizes: c.CostSizes,
    no_lab: tuple[ServerProcess, str] | None,
) -> None:
    """Ours against the peer; ``no_lab`` (full runs: the AS and a token of its own) takes part
    in the same alternation."""
    sides = await c.as_introspection(auth, token, peer, peer_token, sizes, no_lab=no_lab)
    versus_peer, ours_no_lab = without_no_lab(sides, no_lab is not None)
    add_ours_and_ratio(
        report,
        versus_peer,
        ("as_introspect_cpu_ms", INTROSPECT_MEANING, 3),
        ("as_introspect_cpu_vs_peer", "our AS CPU per /introspect ÷ the peer AS's"),
        "See Profile §4b, §7, §8 and §13 below: ours reads revocation in the database on every "
        "call (RFC 7662 §2.2), sends six more response headers (no-store, security headers) and "
        "journals the introspection for the lab; the peer looks an opaque token up in a dict. "
        "`as_introspect_no_lab_cpu_vs_peer` (full runs) is the same comparison without the lab.",
    )
    if ours_no_lab is not None:
        no_lab_figure(
            report, "as_introspect_no_lab_cpu_vs_peer", "/introspect", ours_no_lab, versus_peer
        )
    detail_sides(report, "introspection", sides)


async def token_cache_figures(
    report: Report,
    rs: ServerProcess,
    as_database: Path,
    issuer: str,
    token: str,
    sizes: c.CostSizes,
) -> None:
    sides = await c.token_cache_scaling(rs, as_database, issuer, token, sizes)
    check_errors(report, sides)
    one, many = sides
    report.add(
        Figure(
            "token_cache_cpu_ratio",
            ratio(many.cpu_ms, one.cpu_ms),
            "×",
            f"RS CPU per whoami with {sizes.distinct_tokens} distinct valid tokens in turn ÷ "
            "with one token (verified-token cache), alternating rounds",
            3,
            goal="≤ 1.10",
            check=lambda value: value <= 1.10,
            why_missed="See Profile §8 below: the RS's lab journal is on, as in every RS figure, "
            "and it merges the repeats of one token (scoped_tools_server/lab_runs.py), so the "
            "one-token side reports almost nothing while each request of the other side is two "
            "events of its own (the request and its tool result); §8 has the same comparison "
            "with --no-lab-report.",
        )
    )
    detail_sides(report, "token cache", sides)


async def session_figures(
    report: Report, rs: ServerProcess, token: str, sizes: c.CostSizes
) -> None:
    memory = await c.session_memory(rs, token, sizes)
    report.add(
        Figure(
            "session_kib",
            memory.kib_per_session,
            "KiB",
            f"RS resident memory per held 2025-11-25 session ({memory.sessions} opened and held)",
            1,
        )
    )
    report.add(
        Figure(
            "session_bound_mib",
            memory.bound_mib,
            "MiB",
            f"the same × {c.MAX_SESSIONS} sessions, the most the RS holds at once (503 beyond; "
            "idle sessions expire after 30 min)",
            0,
            goal="< 1024",
            check=lambda value: value < 1024,
        )
    )
    report.detail(
        f"sessions: RSS {memory.rss_before_kib} → {memory.rss_after_kib} KiB for "
        f"{memory.sessions} held sessions"
    )


async def introspection_peer_figures(
    report: Report,
    rs: ServerProcess,
    auth: ServerProcess,
    token: str,
    peer: PeerStack | None,
    peer_token: str | None,
    sizes: c.CostSizes,
) -> None:
    value = None
    if peer is not None and peer_token is not None:
        sides = await c.introspection_vs_peer((rs, auth, token), peer, peer_token, sizes)
        check_errors(report, sides)
        value = ratio(sides[0].rps, sides[1].rps)
        detail_sides(report, "introspection RS vs peer", sides)
        report.detail(
            "introspection RS vs peer, CPU per request (RS + AS): "
            f"ours {sides[0].cpu_ms:.2f} ms, peer {sides[1].cpu_ms:.2f} ms"
        )
    report.add(
        Figure(
            "introspect_rs_vs_peer_ratio",
            value,
            "×",
            "whoami throughput of our RS with --token-check introspect (and our AS) ÷ the "
            f"peer's RS with pooled introspection (and its AS), 32 clients: {PEER}. The 32 "
            "clients share one token: ours shares one fresh introspection among concurrent "
            "requests with one token (introspection_sharing.py), the peer makes one per request",
            2,
            goal="≥ 1.00",
            check=lambda value: value >= 1.0,
        )
    )


async def sync_mode_figures(
    report: Report, auth: ServerProcess, workdir: Path, resource: str, sizes: c.CostSizes
) -> None:
    full = start_as(
        workdir,
        [resource],
        free_loopback_port(),
        name="demo_as_sync_full",
        extra=["--sqlite-synchronous", "full"],
    )
    try:
        wait_ready([full])
        sides = await c.refresh_by_sync_mode(auth, full, resource, sizes)
    finally:
        full.stop()
    check_errors(report, sides)
    normal, fsync = sides
    report.add(
        Figure(
            "sqlite_normal_vs_full_refresh_ratio",
            ratio(normal.rps, fsync.rps),
            "×",
            "refresh grants/s (32 workers) with SQLite synchronous=NORMAL (the default) ÷ "
            "FULL (fsync per commit), two ASes in alternating rounds",
            2,
        )
    )
    detail_sides(report, "SQLite synchronous", sides)


LAB_FIGURES = {
    "introspect": ("lab_introspect_cpu_ratio", "/introspect of a valid JWT, 8 callers"),
    "introspect-rs": (
        "lab_introspect_rs_cpu_ratio",
        "whoami through an RS with --token-check introspect, 32 clients (the introspection, and "
        "with the lab on the ingestion of the RS's events)",
    ),
    "refresh": ("lab_refresh_cpu_ratio", "refresh grant with rotation, 32 workers"),
    "first-token": (
        "lab_first_token_cpu_ratio",
        "new client's first token (DCR + /authorize auto-approve + code exchange), 4 at a time",
    ),
}


LAB_COST_WHY = (
    "See Profile §10, §11 and §13 below: the lab journals every step (its JSON, a SQLite INSERT "
    "with three indexes) and grades busy clients again and again, on two threads of the AS's "
    "process that share the GIL with its event loop, which pays for each handover."
)


async def lab_cost_figures(report: Report, workdir: Path, sizes: c.CostSizes) -> None:
    """What the lab costs the AS (bench/lab_cost.py): AS CPU per request with the lab on ÷ off,
    two ASes of this build (each with its own introspecting RS), alternating rounds."""
    stacks = [lab_cost.start_lab_stack(workdir, lab=True), lab_cost.start_lab_stack(workdir, False)]
    servers = [server for stack in stacks for server in (stack.auth, stack.rs)]
    try:
        wait_ready(servers)
        results = await lab_cost.compare(
            stacks, list(LAB_FIGURES), sizes.round_seconds, sizes.rounds
        )
    finally:
        for server in reversed(servers):
            server.stop()
    for comparison, sides in results.items():
        check_errors(report, sides)
        name, what = LAB_FIGURES[comparison]
        report.add(
            Figure(
                name,
                lab_cost.cpu_ratio(sides),
                "×",
                f"AS CPU per {what}: lab on ÷ --no-lab (same build, alternating rounds)",
                2,
                goal="≤ 1.20",
                check=lambda value: value <= 1.20,
                why_missed=LAB_COST_WHY,
            )
        )
        detail_sides(report, f"lab cost, {comparison}", sides)


async def measure_costs(
    report: Report,
    *,
    auth: ServerProcess,
    rs_jwt: ServerProcess,
    rs_introspect: ServerProcess,
    workdir: Path,
    peer: PeerStack | None,
    sizes: c.CostSizes,
) -> None:
    as_database = workdir / "demo_as.db"
    resource = f"{rs_jwt.base_url}/mcp"
    token = (await obtain_token(auth.base_url, resource)).access_token
    intro_token = (await obtain_token(auth.base_url, f"{rs_introspect.base_url}/mcp")).access_token
    peer_token = None
    if peer is not None:
        async with http_client(1) as client:
            peer_token = await peer_token_round_trip(
                client, peer.auth.base_url, f"{peer.rs.base_url}/mcp"
            )
    # Full runs: an AS of this build with --no-lab in the first-token and introspection
    # alternations (not in the smoke run, which must stay under a minute).
    no_lab = None
    if not report.quick:
        no_lab = start_as(
            workdir, [resource], free_loopback_port(), name="demo_as_no_lab", extra=["--no-lab"]
        )
    try:
        if no_lab is not None:
            wait_ready([no_lab])
        await first_token_figures(report, auth, resource, peer, sizes, no_lab)
        no_lab_introspection = None
        if no_lab is not None:
            its_token = (await obtain_token(no_lab.base_url, resource)).access_token
            no_lab_introspection = (no_lab, its_token)
        await introspection_figures(
            report, auth, token, peer, peer_token, sizes, no_lab_introspection
        )
    finally:
        if no_lab is not None:
            no_lab.stop()
    await token_cache_figures(report, rs_jwt, as_database, auth.base_url, token, sizes)
    await introspection_peer_figures(
        report, rs_introspect, auth, intro_token, peer, peer_token, sizes
    )
    await session_figures(report, rs_jwt, token, sizes)
    if not report.quick:
        # Full runs only (four more servers and 32 refresh chains each: half a minute the CI
        # smoke run does not have).
        await lab_cost_figures(report, workdir, sizes)
        # Full runs only: a refresh that times out on a loaded machine (FULL waits for the disk
        # on every commit) is rotated by the AS all the same, so that worker's next refresh
        # presents the old token and is refused as reuse; the smoke run must not fail on that.
        await sync_mode_figures(report, auth, workdir, resource, sizes)


FIRST_TOKEN_MEANING = (
    "our AS CPU per new client's first token (DCR + /authorize with auto-approve + code "
    "exchange), 4 clients at a time"
)
INTROSPECT_MEANING = "our AS CPU per /introspect of a valid JWT (8 callers)"
