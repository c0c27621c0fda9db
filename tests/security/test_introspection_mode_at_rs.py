"""The RS in ``--token-check introspect`` mode against the real AS: what is a refused token and
what is an outage (RFC 6750 §3.1 invalid_token → 401; the AS unusable → 503).

Finding (security round 2, item 5): a bearer token over 8000 characters made the AS answer its
introspection request 400, which the RS took for "AS unavailable" and answered 503 — a client
would wait and retry a token that can never work, instead of getting a new one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from harness.mcp_raw import headers, initialize_message
from harness.oauth_flow import issue_tokens
from harness.stack import INTROSPECTION_SECRET, Stack, running_stack


@pytest.fixture
def introspecting_stack(tmp_path: Path) -> Iterator[Callable[[str], Stack]]:
    with contextlib.ExitStack() as exits:

        def start(secret: str) -> Stack:
            workdir = tmp_path / f"stack{len(exits._exit_callbacks)}"
            workdir.mkdir()
            rs = {"token_check": "introspect", "introspection_secret": secret}
            return exits.enter_context(running_stack(workdir, rs_overrides=rs))

        yield start


def test_an_oversized_token_is_refused_401_not_503(introspecting_stack, http) -> None:
    stack = introspecting_stack(INTROSPECTION_SECRET)
    oversized = "A" * 8001  # valid b64token syntax, longer than the AS introspects
    response = http.post(stack.resource, json=initialize_message(), headers=headers(oversized))
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


def test_a_good_token_still_works_and_an_unusable_as_is_still_503(
    introspecting_stack, http: httpx2.Client
) -> None:
    stack = introspecting_stack(INTROSPECTION_SECRET)
    _, _, tokens = issue_tokens(http, stack.as_url, stack.resource, scope="notes:read")
    token = tokens["access_token"]
    ok = http.post(stack.resource, json=initialize_message(), headers=headers(token))
    assert ok.status_code == 200, ok.text
    misconfigured = introspecting_stack("not-the-introspection-secret")  # the AS refuses *us*
    _, _, tokens = issue_tokens(http, misconfigured.as_url, misconfigured.resource)
    response = http.post(
        misconfigured.resource,
        json=initialize_message(),
        headers=headers(tokens["access_token"]),
    )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
