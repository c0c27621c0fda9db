"""The lab reporter alone: bounded queue, batches, drops with a counter, heartbeat, secret file,
probe state from the answer. The AS end is a loopback double that records what it is sent (the
real AS's ingest is exercised in test_lab_journal_e2e.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from serving import bind_loopback_socket, serve_app, socket_base_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from demo_as.settings import Settings as ASSettings
from scoped_tools_server.lab_journal import Exchange, event
from scoped_tools_server.lab_probes import LabProbes
from scoped_tools_server.lab_reporter import MAX_BATCH_BYTES, RS_EVENTS_PATH, LabReporter
from scoped_tools_server.lab_runs import without_request_id
from scoped_tools_server.settings import ChallengeScope

SECRET = "lab-secret-for-tests"
RESOURCE = "http://127.0.0.1:1/mcp"


@dataclass
class LabDouble:
    """Records each report; ``delay`` makes it slow; ``rs_probes`` is what it answers."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    delay: float = 0.0
    rs_probes: dict[str, Any] = field(
        default_factory=lambda: {"invalid_token": [], "challenge_scope": None}
    )

    def app(self) -> Starlette:
        async def rs_events(request: Request) -> JSONResponse:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.authorizations.append(request.headers.get("authorization", ""))
            body = await request.json()
            self.reports.append(body)
            return JSONResponse({"accepted": len(body["events"]), "rs_probes": self.rs_probes})

        return Starlette(routes=[Route(RS_EVENTS_PATH, rs_events, methods=["POST"])])


@pytest.fixture
def lab_double() -> Iterator[tuple[LabDouble, str]]:
    double = LabDouble()
    with serve_app(lambda _base: double.app()) as base_url:
        yield double, base_url


def reporter(base_url: str, tmp_path: Path, **options: Any) -> LabReporter:
    values: dict[str, Any] = {
        "as_base_url": base_url,
        "resource": RESOURCE,
        "probes": LabProbes(ChallengeScope.operation),
        "secret": SECRET,
        "secret_file": tmp_path / "lab-secret",
    }
    values.update(options)
    return LabReporter(**values)


def numbered(n: int) -> dict[str, Any]:
    return event("mcp-request", f"request {n}", {"n": n})


async def flushed(lab: LabReporter) -> None:
    async with httpx2.AsyncClient(timeout=5) as client:
        await lab.flush(client)


def test_record_never_waits_and_counts_what_does_not_fit(tmp_path: Path) -> None:
    lab = reporter("http://127.0.0.1:9", tmp_path, max_queued=3)
    for n in range(5):
        lab.record(numbered(n))
    assert lab.dropped == 2
    assert lab.report_body([], [])["dropped"] == 2


def test_a_flush_sends_everything_in_batches_with_the_secret(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    double, base_url = lab_double
    lab = reporter(base_url, tmp_path, max_batch=2)
    for n in range(5):
        lab.record(numbered(n))
    anyio.run(flushed, lab)
    assert [[e["detail"]["n"] for e in r["events"]] for r in double.reports] == [
        [0, 1],
        [2, 3],
        [4],
    ]
    assert all(r["resource"] == RESOURCE and r["dropped"] == 0 for r in double.reports)
    assert set(double.authorizations) == {f"Bearer {SECRET}"}
    assert lab.sent == 5 and lab.dropped == 0


def test_a_report_stays_under_the_byte_bound_so_a_busy_rs_is_not_refused_413(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    """Hundreds of events queued in one tick go in several reports, each within
    ``max_batch_bytes``; the bound is below the AS's default body limit (413 beyond)."""
    double, base_url = lab_double
    lab = reporter(base_url, tmp_path, max_batch_bytes=2000)
    for n in range(40):
        lab.record(event("mcp-request", f"request {n}", {"n": n, "pad": "x" * 200}))
    anyio.run(flushed, lab)
    sent = [[e["detail"]["n"] for e in r["events"]] for r in double.reports]
    assert [n for report in sent for n in report] == list(range(40))
    assert len(sent) > 1
    assert all(len(json.dumps(r["events"], separators=(",", ":"))) <= 2000 for r in double.reports)
    default_as_limit = ASSettings.model_fields["max_body_bytes"].default
    assert MAX_BATCH_BYTES + 1024 < default_as_limit  # room for the envelope


def test_tool_results_are_read_from_the_body_by_the_task(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    double, base_url = lab_double
    lab = reporter(base_url, tmp_path)
    exchange = Exchange("POST", method="tools/call", tool="read_note", client_id="c1")
    lab.record_tool_result(exchange, b'{"jsonrpc":"2.0","id":2,"result":{"isError":true}}')
    lab.record_tool_result(exchange, b'{"jsonrpc":"2.0","id":3,"result":{"content":[]}}')
    anyio.run(flushed, lab)
    events = double.reports[0]["events"]
    assert [(e["kind"], e["client_id"], e["detail"]) for e in events] == [
        ("tool-result", "c1", {"tool": "read_note", "is_error": True}),
        ("tool-result", "c1", {"tool": "read_note", "is_error": False}),
    ]


def test_an_unreachable_lab_drops_the_batch_and_says_how_many_later(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    double, base_url = lab_double
    closed = bind_loopback_socket()  # bound, never listening: connection refused
    lab = reporter(socket_base_url(closed), tmp_path)
    for n in range(3):
        lab.record(numbered(n))
    anyio.run(flushed, lab)
    closed.close()
    assert lab.dropped == 3 and lab.sent == 0
    lab.endpoint = base_url + RS_EVENTS_PATH  # the AS is back
    lab.record(numbered(3))
    anyio.run(flushed, lab)
    assert double.reports[-1]["dropped"] == 3
    assert [e["detail"]["n"] for e in double.reports[-1]["events"]] == [3]


def test_a_slow_lab_times_out_and_the_batch_is_dropped(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    double, base_url = lab_double
    double.delay = 1.0
    lab = reporter(base_url, tmp_path)
    lab.record(numbered(0))

    async def flush_with_short_timeout() -> None:
        async with httpx2.AsyncClient(timeout=0.2) as client:
            await lab.flush(client)

    started = time.monotonic()
    anyio.run(flush_with_short_timeout)
    assert time.monotonic() - started < 0.9
    assert lab.dropped == 1 and lab.sent == 0


def test_the_task_flushes_promptly_and_sends_heartbeats_when_idle(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    double, base_url = lab_double
    lab = reporter(base_url, tmp_path, flush_interval=0.05, heartbeat_interval=0.1)

    async def run_for_a_while() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lab.run)
            await anyio.sleep(0.5)
            lab.record(numbered(1))
            await anyio.sleep(0.5)
            tasks.cancel_scope.cancel()

    anyio.run(run_for_a_while)
    heartbeats = [r for r in double.reports if not r["events"]]
    with_events = [r for r in double.reports if r["events"]]
    assert len(heartbeats) >= 3  # at ~0.1 s intervals over ~1 s idle
    assert [e["detail"]["n"] for r in with_events for e in r["events"]] == [1]


def test_the_secret_file_is_read_once_it_exists(
    lab_double: tuple[LabDouble, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    double, base_url = lab_double
    secret_file = tmp_path / "data" / "lab-secret"
    lab = reporter(base_url, tmp_path, secret=None, secret_file=secret_file)
    lab.record(numbered(0))
    anyio.run(flushed, lab)
    assert double.reports == []  # nothing to authenticate with yet; the event waits
    assert "waiting for the lab secret" in caplog.text
    secret_file.parent.mkdir()
    secret_file.write_text("from-the-file\n")
    anyio.run(flushed, lab)
    assert double.authorizations == ["Bearer from-the-file"]
    assert [e["detail"]["n"] for e in double.reports[0]["events"]] == [0]


def test_probe_state_comes_from_the_answer_and_a_once_probe_fires_once(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    double, base_url = lab_double
    lab = reporter(base_url, tmp_path)
    double.rs_probes = {
        "invalid_token": [{"id": "probe-1", "client_id": "c1", "once": True}],
        "challenge_scope": "cumulative",
    }
    anyio.run(flushed, lab)
    assert lab.probes.challenge_scope() == (ChallengeScope.cumulative, "rs-challenge-cumulative")
    assert lab.probes.invalid_token_probe("c2") is None  # another client's probe
    assert lab.probes.invalid_token_probe("c1").id == "probe-1"
    assert lab.probes.invalid_token_probe("c1") is None  # once: consumed
    anyio.run(flushed, lab)  # the AS has not seen the consumption yet and still lists it
    assert double.reports[-1]["consumed_probes"] == ["probe-1"]
    assert lab.probes.invalid_token_probe("c1") is None  # never fires twice
    double.rs_probes = {"invalid_token": [], "challenge_scope": None}
    anyio.run(flushed, lab)
    assert lab.probes.challenge_scope() == (ChallengeScope.operation, None)  # startup mode
    assert double.reports[-1]["consumed_probes"] == []


def test_a_lab_gone_at_shutdown_is_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Embedded mode stops AS and RS together: the RS's last flush may find the AS gone, which
    must not print a warning at the end of the story."""
    closed = bind_loopback_socket()
    lab = reporter(socket_base_url(closed), tmp_path, flush_interval=10)
    lab.record(numbered(0))

    async def start_and_stop() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lab.run)
            await anyio.sleep(0.1)
            tasks.cancel_scope.cancel()

    with caplog.at_level("INFO", logger="scoped_tools_server"):
        anyio.run(start_and_stop)
    closed.close()
    assert lab.dropped == 1  # the final flush was attempted
    assert "unreachable" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_result_bodies_waiting_for_the_task_are_bounded_in_bytes(tmp_path: Path) -> None:
    lab = reporter("http://127.0.0.1:9", tmp_path)
    exchange = Exchange("POST", method="tools/call", tool="read_note")
    big = b'{"result": {"content": [], "pad": "' + b"x" * (1024 * 1024) + b'"}}'
    for _ in range(6):
        lab.record_tool_result(exchange, big)
    assert lab.dropped == 3  # 4 MiB of bodies may wait; the rest is counted, not kept


def whoami_result(request_id: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"result":{"content":[],"isError":false}}' % request_id


def test_repeats_of_one_successful_call_are_one_event_with_a_count_and_refusals_keep_order(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    """200, 200, 200, 403, 200 with one token: the three repeats are one event (the first one's
    ``at``, ``repeats`` and ``last_at``), the 403 ends the run, and what follows is new."""
    double, base_url = lab_double
    lab = reporter(base_url, tmp_path)
    call = Exchange("POST", method="tools/call", tool="whoami", client_id="c1")
    call.token_fingerprint, call.token_in = "sha256:00000000000000aa", "header"
    for request_id in (1, 2, 3):
        lab.record_request(call, 200)
        lab.record_tool_result(call, whoami_result(request_id))
    lab.record_request(call, 403)
    lab.record(event("challenge", "403", {"status": 403}, token_fingerprint=call.token_fingerprint))
    lab.record_request(call, 200)
    anyio.run(flushed, lab)
    sent = [e for r in double.reports for e in r["events"]]
    shape = [(e["kind"], e["detail"].get("status"), e["detail"].get("repeats")) for e in sent]
    assert shape == [
        ("mcp-request", 200, 3),
        ("tool-result", None, 3),
        ("mcp-request", 403, None),
        ("challenge", 403, None),
        ("mcp-request", 200, None),
    ]
    first = sent[0]
    assert first["summary"].endswith("→ 200 (×3)")
    assert first["at"] < first["detail"]["last_at"] <= sent[2]["at"]
    assert sent[1]["detail"]["is_error"] is False
    assert lab.sent == 5


def test_a_run_needs_the_same_token_the_same_answer_and_the_same_report(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    """Another token, another result body (apart from the id), or a report in between: not a
    repeat."""
    double, base_url = lab_double
    lab = reporter(base_url, tmp_path)
    mine = Exchange("POST", method="tools/call", tool="read_note", client_id="c1")
    mine.token_fingerprint = "sha256:00000000000000aa"
    theirs = Exchange("POST", method="tools/call", tool="read_note", client_id="c1")
    theirs.token_fingerprint = "sha256:00000000000000bb"
    lab.record_request(mine, 200)
    lab.record_request(theirs, 200)
    lab.record_tool_result(mine, b'{"jsonrpc":"2.0","id":1,"result":{"isError":true}}')
    lab.record_tool_result(mine, b'{"jsonrpc":"2.0","id":2,"result":{"content":[]}}')
    anyio.run(flushed, lab)
    lab.record_request(mine, 200)
    anyio.run(flushed, lab)
    sent = [e for r in double.reports for e in r["events"]]
    assert [(e["token_fingerprint"][-2:], e["kind"]) for e in sent] == [
        ("aa", "mcp-request"),
        ("bb", "mcp-request"),
        ("aa", "tool-result"),
        ("aa", "tool-result"),
        ("aa", "mcp-request"),
    ]
    assert not any("repeats" in e["detail"] for e in sent)
    assert [e["detail"]["is_error"] for e in sent if e["kind"] == "tool-result"] == [True, False]


@pytest.mark.parametrize(
    ("body", "same_as_id_7"),
    [
        (b'{"jsonrpc":"2.0","id":8,"result":{"x":1}}', True),
        (b'{"jsonrpc":"2.0","id":"req-8","result":{"x":1}}', True),
        (b'{"jsonrpc":"2.0","id":8,"result":{"x":2}}', False),
        (b'{"jsonrpc":"2.0","id":{"a":7},"result":{"x":1}}', False),
        (b'{"jsonrpc":"2.0","id":8,"error":{"code":-32602,"message":"m"}}', False),
    ],
)
def test_results_are_compared_without_their_request_id(body: bytes, same_as_id_7: bool) -> None:
    reference = without_request_id(b'{"jsonrpc":"2.0","id":7,"result":{"x":1}}')
    assert (without_request_id(body) == reference) is same_as_id_7


def test_what_arrives_during_a_slow_report_waits_and_its_repeats_stay_one_event(
    lab_double: tuple[LabDouble, str], tmp_path: Path
) -> None:
    """A flush sends what was queued when it began; calls made while its POST waits on a slow
    AS go in the next report, merged, instead of one report per round trip."""
    double, base_url = lab_double
    double.delay = 0.3
    lab = reporter(base_url, tmp_path)
    call = Exchange("POST", method="tools/call", tool="whoami", client_id="c1")
    call.token_fingerprint = "sha256:00000000000000aa"
    lab.record(numbered(0))

    async def run() -> None:
        async with httpx2.AsyncClient(timeout=5) as client, anyio.create_task_group() as tasks:
            tasks.start_soon(lab.flush, client)
            for _ in range(3):
                await anyio.sleep(0.05)
                lab.record_request(call, 200)  # while the first report is on its way
        assert len(double.reports) == 1
        await flushed(lab)

    anyio.run(run)
    assert [len(r["events"]) for r in double.reports] == [1, 1]
    assert double.reports[1]["events"][0]["detail"]["repeats"] == 3
