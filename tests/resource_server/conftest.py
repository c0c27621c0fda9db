"""Fixtures for the resource server's tests (the rig lives in ``harness/rs_test_rig.py``).

``fake_as`` is a *test double of the authorization server* for gate unit/integration tests; the
end-to-end tests use the real ``demo_as``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from harness.rs_test_rig import FakeAuthorizationServer, RunningRS
from serving import serve_app
from starlette.applications import Starlette

from scoped_tools_server.app import create_app
from scoped_tools_server.settings import Settings


@pytest.fixture
def fake_as() -> Iterator[FakeAuthorizationServer]:
    authority = FakeAuthorizationServer()
    authority.published.append(authority.key)

    def build(base_url: str) -> Starlette:
        authority.issuer = base_url
        return authority.app()

    with serve_app(build):
        yield authority


@pytest.fixture
def start_rs(
    fake_as: FakeAuthorizationServer, tmp_path: Path
) -> Iterator[Callable[..., RunningRS]]:
    """Start a resource server pointed at ``fake_as``; keyword arguments override settings."""
    with contextlib.ExitStack() as stack:

        def start(**overrides: Any) -> RunningRS:
            holder: dict[str, Any] = {}

            def build(base_url: str) -> Any:
                values: dict[str, Any] = {
                    "resource_url": f"{base_url}/mcp",
                    "auth_server": fake_as.issuer,
                    "database_url": f"sqlite:///{tmp_path / uuid.uuid4().hex}.db",
                    "jwks_min_refetch_seconds": 0,
                }
                values.update(overrides)
                settings = Settings(**values)
                fake_as.resource = settings.resource_url
                holder["settings"] = settings
                holder["app"] = create_app(settings)
                return holder["app"]

            base_url = stack.enter_context(serve_app(build))
            return RunningRS(base_url, f"{base_url}/mcp", holder["settings"], holder["app"])

        yield start


@pytest.fixture
def rs(start_rs: Callable[..., RunningRS]) -> RunningRS:
    return start_rs()
