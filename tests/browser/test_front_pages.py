"""The pages a person lands on first: demo_as's dashboard at ``/`` and scoped_tools_server's
``/``, in a real browser (Debian's chromium via Playwright).

The dashboard names its switches whole (a flag broken mid-word reads as two words) and links
the documents a browser can open; the resource server's root says what it is and where its MCP
endpoint, Protected Resource Metadata (RFC 9728) and authorization server are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser

SWITCHES = ["--auto-approve", "--loopback-any-port", "--iss-mode"]


@pytest.mark.parametrize("width", [960, 420])
def test_the_dashboard_keeps_flag_names_whole_and_links_its_documents(
    page: Page, as_url: str, screenshot_dir: Path, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{as_url}/")
    flags = page.locator("code.flag")
    names = flags.all_inner_texts()
    assert set(SWITCHES) <= set(names), names
    # One line box per flag: the name is never wrapped inside itself.
    assert flags.evaluate_all("els => els.map(e => e.getClientRects().length)") == [1] * len(names)
    if width == 960:
        page.screenshot(path=screenshot_dir / "dashboard.png", full_page=True)
    for name, path in [
        ("metadata (RFC 8414)", "/.well-known/oauth-authorization-server"),
        ("JWKS", "/jwks"),
        ("health", "/health"),
        ("OpenAPI", "/openapi.json"),
    ]:
        page.goto(f"{as_url}/")
        page.locator("tr", has_text=name).get_by_role("link").click()
        page.wait_for_url(f"{as_url}{path}")
        assert json.loads(page.locator("body").inner_text()), name


def test_the_resource_servers_root_says_what_it_is_and_where_to_go(
    page: Page, rs_url: str, as_url: str, screenshot_dir: Path
) -> None:
    response = page.goto(f"{rs_url}/")
    assert response is not None and response.status == 200
    text = page.locator("body").inner_text()
    assert "MCP resource server" in text
    assert f"{rs_url}/mcp" in text
    assert "create_note" in text and "notes:write" in text
    page.screenshot(path=screenshot_dir / "resource-server.png", full_page=True)
    page.get_by_role("link", name=f"{rs_url}/.well-known/oauth-protected-resource/mcp").click()
    prm = json.loads(page.locator("body").inner_text())
    assert prm["resource"] == f"{rs_url}/mcp"
    assert prm["authorization_servers"] == [as_url]
