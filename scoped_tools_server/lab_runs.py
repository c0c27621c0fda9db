"""Runs of repeats: identical successful requests with one token become one lab step with a count.

A client that polls (``tools/list`` every second) or a load test (a thousand ``whoami`` a second)
would otherwise send the lab two events per request: a timeline nobody can read, and a journal
that costs the AS more than serving the client. Within one report window (the reporter's flush
interval), a request that repeats an earlier one *exactly* is counted on that earlier event
instead of queued:

- an ``mcp-request`` answered below 400 with the same client, token fingerprint, session, HTTP
  method, JSON-RPC method, tool, protocol revision, token placement and status;
- a ``tool-result`` of the same tool, token and session whose body is byte for byte the same
  apart from the JSON-RPC ``id`` (so its verdict, ok or error, is the same). Bodies are
  compared by ``hash()`` (salted per process), so none is held twice.

The first event of the run keeps its ``at``; it gains ``detail.repeats`` (how many requests it
stands for, ≥ 2) and ``detail.last_at``, and its summary ends in ``(×N)``. Refusals (401/403/
4xx), challenges and probe events are never merged, and any of them *closes* every open run of
its token: what a token did is kept in order (200, 200, 403, 200 is reported as 200 ×2, 403,
200), which is what the lab's rules read (docs/lab.md). A run never spans two reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scoped_tools_server.lab_journal import Event, Exchange

RunKey = tuple[Any, ...]


def request_key(exchange: Exchange, status: int) -> RunKey | None:
    """The identity of a mergeable ``mcp-request``, or None (refusals are never merged)."""
    if status >= 400 or exchange.token_fingerprint is None:
        return None
    return (
        "mcp-request",
        exchange.token_fingerprint,
        exchange.client_id,
        exchange.session,
        exchange.http_method,
        exchange.method,
        exchange.tool,
        exchange.protocol_version,
        exchange.token_in,
        status,
    )


def result_key(exchange: Exchange) -> RunKey | None:
    """The identity of a mergeable ``tool-result`` (its body is compared separately)."""
    if exchange.token_fingerprint is None:
        return None
    return ("tool-result", exchange.token_fingerprint, exchange.client_id, exchange.session,
            exchange.tool)  # fmt: skip


MAX_ID_BYTES = 100


def without_request_id(body: bytes) -> bytes:
    """A JSON-RPC response with its ``id`` value cut out, for comparing two results.

    The SDK writes ``{"jsonrpc":"2.0","id":<id>,"result":…}``; a client numbers its requests, so
    the same answer to the same call differs only there. The cut is made only where it is
    certainly the id: a scalar (no brace, bracket, colon or quote-comma; JSON escapes every
    quote inside a string) of at most ``MAX_ID_BYTES``. Any other body is compared whole.
    """
    head, marker, rest = body.partition(b'"id":')
    value, found, result = rest.partition(b',"result":')
    if not (marker and found) or len(value) > MAX_ID_BYTES:
        return body
    if any(c in value for c in b"{}[]:,"):
        return body
    return head + b'"id":,"result":' + result


@dataclass
class Run:
    """A queued event (or the deferred tool result it will become) and how many requests it
    stands for. The reporter queues the ``Run`` itself, so a repeat only increments it."""

    item: Any
    last_at: float
    body: int | None = None  # hash of a tool result's body without its id: a repeat matches it
    repeats: int = 1


@dataclass
class OpenRuns:
    """The runs that may still grow, by key and by token fingerprint (to close a token's runs)."""

    by_key: dict[RunKey, Run] = field(default_factory=dict)
    by_token: dict[str, list[RunKey]] = field(default_factory=dict)

    def repeat(self, key: RunKey | None, at: float, body: int | None = None) -> bool:
        """Count a repeat on the open run for ``key``; False when there is none to count on."""
        run = self.by_key.get(key) if key is not None else None
        if run is None or run.body != body:
            return False
        run.repeats += 1
        run.last_at = at
        return True

    def open(self, key: RunKey, item: Any, at: float, body: int | None = None) -> Run:
        """A run for ``item``, about to be queued: later repeats of ``key`` count on it (a tool
        result with another body replaces the run that later ones are compared with)."""
        run = Run(item=item, last_at=at, body=body)
        if key not in self.by_key:
            self.by_token.setdefault(key[1], []).append(key)
        self.by_key[key] = run
        return run

    def close_token(self, fingerprint: str | None) -> None:
        """Something other than a repeat happened with this token: its runs end here."""
        if fingerprint is None:
            return
        for key in self.by_token.pop(fingerprint, ()):
            self.by_key.pop(key, None)

    def clear(self) -> None:
        """A report is being built: no queued event may change any more."""
        self.by_key.clear()
        self.by_token.clear()


def with_repeats(event: Event, run: Run) -> Event:
    """The event as reported: unchanged, or carrying its run's count and last time."""
    if run.repeats == 1:
        return event
    detail = {**event["detail"], "repeats": run.repeats, "last_at": run.last_at}
    return {**event, "summary": f"{event['summary']} (×{run.repeats})", "detail": detail}
