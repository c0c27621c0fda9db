"""Fixtures for driving demo_as's real login and consent pages in a real browser.

The browser is Debian's ``chromium`` (``.ci/install-browser.sh``) driven by Playwright for Python;
``playwright install`` is never used. Without chromium the tests skip on a developer machine and
FAIL when ``CI`` is set: a CI run must never silently skip the browser.

The AS is the real ``demo_as`` app served by uvicorn on an ephemeral 127.0.0.1 port. The client's
redirect URI is a loopback address where nothing listens: the browser's navigation to it is
intercepted (Playwright routing) and answered with a stub page, so the test reads exactly the URL
the AS redirected to, as a native client's loopback listener would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import Browser, Page, sync_playwright
from serving import serve_app

from demo_as.app import create_app
from demo_as.settings import Settings

RESOURCE = "http://127.0.0.1:8000/mcp"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# UPDATE_SCREENSHOTS=1 rewrites docs/screenshots/; the servers then listen on the default ports so
# the pictures show what a reader's own stack shows (http://127.0.0.1:9000), not a test port.
UPDATING_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"
AS_PORT = 9000 if UPDATING_SCREENSHOTS else 0
RS_PORT = 8000 if UPDATING_SCREENSHOTS else 0


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_chromium() -> None:
    """Skip on a developer machine without chromium; fail in CI, where the browser is required."""
    if os.access(CHROMIUM, os.X_OK):
        return
    reason = f"{CHROMIUM} not found: run .ci/install-browser.sh (installs Debian's chromium)"
    if _running_in_ci():
        pytest.fail(f"{reason}; CI is set, so this is a failure, not a skip")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main
    # thread while it is open, and every later test that calls anyio.run/asyncio.run would fail
    # with "Already running asyncio in this thread".
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test: no cookies (no login session) carried over."""
    context = browser.new_context(viewport={"width": 960, "height": 720}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def resource() -> str:
    """The one resource the AS under test serves tokens for (nothing listens there)."""
    return RESOURCE


@pytest.fixture(scope="module")
def as_url(tmp_path_factory: pytest.TempPathFactory, resource: str) -> Iterator[str]:
    """The real demo_as, its issuer being its own ephemeral base URL, on a fresh SQLite file."""
    data_dir = tmp_path_factory.mktemp("demo_as")

    def app_for(base_url: str):
        return create_app(Settings(issuer=base_url, data_dir=data_dir, resources=[resource]))

    with serve_app(app_for, port=AS_PORT) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def rs_url(tmp_path_factory: pytest.TempPathFactory, as_url: str) -> Iterator[str]:
    """The real scoped_tools_server, trusting ``as_url``, its resource its own ``/mcp``."""
    from scoped_tools_server.app import create_app as create_rs_app
    from scoped_tools_server.settings import Settings as RSSettings

    notes = tmp_path_factory.mktemp("scoped_tools") / "notes.db"

    def app_for(base_url: str):
        return create_rs_app(
            RSSettings(
                port=int(base_url.rsplit(":", 1)[1]),
                resource_url=f"{base_url}/mcp",
                auth_server=as_url,
                database_url=f"sqlite:///{notes}",
            )
        )

    with serve_app(app_for, port=RS_PORT) as base_url:
        yield base_url


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where page screenshots go: docs/screenshots/ with UPDATE_SCREENSHOTS=1 (what the README
    shows), otherwise the test's temporary directory so ordinary runs leave the tree untouched."""
    if UPDATING_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path
