"""Fixtures of the attack battery. ``stack`` (a real AS + RS, one per module), ``make_stack``
(another stack with other AS settings, e.g. ``loopback_any_port``) and ``http`` (a fresh cookie
jar per test) are tests/conftest.py's; every test registers its own clients, so tests do not see
each other's state.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from harness.oauth_flow import introspect as ask_the_as
from harness.stack import INTROSPECTION_SECRET, Stack


@pytest.fixture
def introspect() -> Callable[[Stack, str], dict]:
    """RFC 7662 §2: what the AS says about a token now (revocation is visible here)."""

    def ask(stack: Stack, token: str) -> dict:
        return ask_the_as(stack.as_url, token, INTROSPECTION_SECRET)

    return ask
