"""Fixtures for demo_as tests: a real uvicorn server on an ephemeral loopback port
(tests/serving.py), a real SQLite file per test, and httpx2 as the HTTP client."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from authorization_server.as_toolbox import AuthServer
from serving import serve_app

from demo_as.app import create_app
from demo_as.settings import Settings


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., AuthServer]]:
    """Start demo_as with setting overrides; every server of a test shares one database file."""
    stack = contextlib.ExitStack()

    def start(**overrides: Any) -> AuthServer:
        holder: dict[str, Settings] = {}

        def build(base_url: str):
            options = {"issuer": base_url, "data_dir": tmp_path, **overrides}
            holder["settings"] = Settings(**options)
            return create_app(holder["settings"])

        base_url = stack.enter_context(serve_app(build))
        http = stack.enter_context(
            httpx2.Client(base_url=base_url, follow_redirects=False, timeout=20)
        )
        return AuthServer(base_url=base_url, settings=holder["settings"], http=http)

    with stack:
        yield start


@pytest.fixture
def server(start_server: Callable[..., AuthServer]) -> AuthServer:
    return start_server()
