"""A real demo_as (lab on) on an ephemeral loopback port, for the lab pages' HTTP-level tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from serving import serve_app

from demo_as.app import create_app
from demo_as.settings import Settings

RESOURCE = "http://127.0.0.1:8000/mcp"


@pytest.fixture(scope="module")
def as_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("lab_pages_as")

    def app_for(base_url: str):
        return create_app(Settings(issuer=base_url, data_dir=data_dir, resources=[RESOURCE]))

    with serve_app(app_for) as base_url:
        yield base_url


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=10) as client:
        yield client
