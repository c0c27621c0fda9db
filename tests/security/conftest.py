"""Fixtures of the attack battery.

``stack`` (a real AS + RS, see ``harness.stack``) is shared by the tests of one module: servers
start once per file. Every test gets a fresh cookie jar (``http``) and registers its own clients,
so tests do not see each other's state. ``make_stack`` builds another stack with other AS
settings (e.g. ``loopback_any_port``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from harness.stack import INTROSPECTION_SECRET, Stack, running_stack, stack_builder


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build a stack with different AS settings (closed at the end of the test)."""
    with stack_builder(tmp_path) as build:
        yield build


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    """A fresh user agent: its own cookie jar, never follows redirects (we inspect them)."""
    with httpx2.Client(timeout=15.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def introspect() -> Callable[[Stack, str], dict]:
    """RFC 7662 §2: what the AS says about a token now (revocation is visible here)."""

    def ask(stack: Stack, token: str) -> dict:
        response = httpx2.post(
            f"{stack.as_url}/introspect",
            data={"token": token},
            headers={"Authorization": f"Bearer {INTROSPECTION_SECRET}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    return ask
