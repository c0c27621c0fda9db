"""Fixtures for grading real clients in the lab: the real AS (login and consent pages, no
auto-approve) and the real RS reporting to the AS's lab (tests/harness/stack.py), one stack per
test module; and reading a client's report card once both servers' events have arrived."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx2
import pytest
from harness.stack import Stack, running_stack

# Unchanged counts for 2 s: the RS flushes every 0.5 s and beats every 1 s (later under load).
SETTLE_POLLS = 5
POLL_SECONDS = 0.5
SETTLE_TIMEOUT = 20.0


@dataclass(frozen=True)
class Lab:
    """The stack and its lab's JSON API."""

    stack: Stack
    http: httpx2.Client

    @property
    def issuer(self) -> str:
        return self.stack.as_url

    def events(self, client_id: str) -> list[dict]:
        response = self.http.get(f"/lab/api/clients/{quote(client_id, safe='')}/events")
        assert response.status_code == 200, response.text
        return response.json()

    def settled_verdicts(self, client_id: str) -> dict[str, dict]:
        """The report's rules by id, read once the client's events stop arriving (the RS's
        reporter is asynchronous)."""
        counts: list[int] = []
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            counts.append(len(self.events(client_id)))
            if len(counts) >= SETTLE_POLLS and len(set(counts[-SETTLE_POLLS:])) == 1:
                break
            time.sleep(POLL_SECONDS)
        response = self.http.get(f"/lab/api/clients/{quote(client_id, safe='')}/report")
        assert response.status_code == 200, response.text
        return {rule["id"]: rule for rule in response.json()["rules"]}

    def fire_probe(self, probe: str, client_id: str | None = None, once: bool = True) -> dict:
        response = self.http.post(
            "/lab/api/probes", json={"probe": probe, "client_id": client_id, "once": once}
        )
        assert response.status_code in (200, 201), response.text
        return response.json()


def with_verdict(rules: dict[str, dict], verdict: str) -> set[str]:
    return {rule_id for rule_id, rule in rules.items() if rule["verdict"] == verdict}


def explain(rules: dict[str, dict]) -> str:
    """The report as lines for an assertion message."""
    return "\n".join(f"{r['id']}: {r['verdict']}: {r['detail']}" for r in rules.values())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with (
        running_stack(tmp_path_factory.mktemp("lab-clients")) as stack,
        httpx2.Client(base_url=stack.as_url, timeout=20) as http,
    ):
        yield Lab(stack, http)
