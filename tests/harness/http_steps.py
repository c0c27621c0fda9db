"""A protocol flow written once, driven by a blocking or an asynchronous HTTP client.

The honest OAuth client (``oauth_flow``) and the raw MCP helpers (``mcp_raw``) are generators
that *yield* the next request (a ``Call``) and are *sent* its response; they return what the flow
produced. The tests drive them with an ``httpx2.Client`` (``drive``); the benchmarks, which need
many concurrent clients, with an ``httpx2.AsyncClient`` (``drive_async``). So the steps a client
takes, and the checks it makes on every answer, exist once for both.

A flow that gets an answer it did not expect raises ``UnexpectedAnswer``: an ``AssertionError``
to pytest, and to the load generator one failed request whose message says which step failed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2

Result = TypeVar("Result")


@dataclass(frozen=True)
class Call:
    """One HTTP request of a flow: ``method``, ``url`` and the keyword arguments of
    ``httpx2.Client.request`` (``json=``, ``data=``, ``params=``, ``headers=``, ``content=``)."""

    method: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)


Steps = Generator[Call, httpx2.Response, Result]


class UnexpectedAnswer(AssertionError):
    """A server answered a step of an honest flow with something the flow cannot go on from."""


def expect_status(response: httpx2.Response, status: int | tuple[int, ...], what: str) -> None:
    """Raise ``UnexpectedAnswer`` unless ``response`` has (one of) ``status``."""
    expected = status if isinstance(status, tuple) else (status,)
    if response.status_code not in expected:
        raise UnexpectedAnswer(f"{what}: HTTP {response.status_code}: {response.text[:2000]}")


def drive(http: httpx2.Client, steps: Steps[Result]) -> Result:
    """Run ``steps`` with a blocking client (its cookie jar and base URL apply)."""
    try:
        call = next(steps)
        while True:
            call = steps.send(http.request(call.method, call.url, **call.options))
    except StopIteration as done:
        return done.value


async def drive_async(http: httpx2.AsyncClient, steps: Steps[Result]) -> Result:
    """Run ``steps`` with an asynchronous client."""
    try:
        call = next(steps)
        while True:
            call = steps.send(await http.request(call.method, call.url, **call.options))
    except StopIteration as done:
        return done.value
