"""Fixtures for demo_client tests: real servers, started through the client's own embedded mode
(the same code path `demo-client story` uses): demo_as and scoped_tools_server on 127.0.0.1,
ephemeral ports, throwaway SQLite databases."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from demo_client.embedded import EmbeddedStack, embedded_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    with embedded_stack() as running:
        yield running
