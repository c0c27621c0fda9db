"""Fixtures of the attack battery. ``stack`` (a real AS + RS, one per module), ``make_stack``
(another stack with other AS settings, e.g. ``loopback_any_port``) and ``http`` (a fresh cookie
jar per test) are tests/conftest.py's; every test registers its own clients, so tests do not see
each other's state.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest
from harness.stack import INTROSPECTION_SECRET, Stack


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
