"""The lab's pages in a real browser (Debian's chromium via Playwright): /lab lists the clients of
a workshop room, a client's page shows its steps live as a sequence diagram and a table, and a
probe fired from the page reaches the lab's probe list; a forged probe form is refused.

The AS is the real demo_as with the lab on, its issuer the default ``http://127.0.0.1:9000`` (what
the screenshots in docs/lab.md show) while it listens on an ephemeral port: every form and script
on the lab pages uses relative URLs, so nothing here needs port 9000.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest
from harness.oauth_flow import (
    AuthorizationRequest,
    authorize,
    code_from,
    query_of,
    redeem,
    refresh,
    register,
)
from playwright.sync_api import Page, Route, expect
from serving import serve_app

from demo_as.app import create_app
from demo_as.lab.catalog import RULES
from demo_as.settings import Settings

pytestmark = pytest.mark.browser

ISSUER = "http://127.0.0.1:9000"
# One redirect URI per registration: the lab warns (registers-once) about a client whose metadata
# was registered again from the same address, and these clients are all different.
CALLBACK_PORTS = itertools.count(33418)
# What a client controls, as it would try to smuggle markup into the instructor's page.
HOSTILE_NAME = 'Workshop <img src=x onerror="alert(1)"> client'


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory, resource: str) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("lab_as")
    settings = Settings(issuer=ISSUER, data_dir=data_dir, resources=[resource])
    with serve_app(lambda _base_url: create_app(settings)) as base_url:
        yield base_url


@pytest.fixture
def wide_page(page: Page) -> Page:
    page.set_viewport_size({"width": 1280, "height": 1400})
    return page


def registered_client(
    http: httpx2.Client, lab_url: str, resource: str, name: str = HOSTILE_NAME
) -> AuthorizationRequest:
    """A DCR-registered public client (RFC 7591) and its first authorization request."""
    redirect_uri = f"http://127.0.0.1:{next(CALLBACK_PORTS)}/callback"
    client = register(
        http,
        lab_url,
        [redirect_uri],
        client_name=name,
        software_id="example-mcp-client",
        software_version="1.4.2",
        scope="notes:read offline_access",
    )
    return AuthorizationRequest(
        client_id=client["client_id"],
        redirect_uri=redirect_uri,
        resource=resource,
        scope="notes:read offline_access",
    )


def sign_in_and_redeem(http: httpx2.Client, lab_url: str, request: AuthorizationRequest) -> dict:
    """Login, consent and code redemption (RFC 6749 §4.1): the client's first steps."""
    code = code_from(authorize(http, lab_url, request), request)
    response = redeem(http, lab_url, request, code)
    assert response.status_code == 200, response.text
    return response.json()


def page_of(lab_url: str, client_id: str) -> str:
    return f"{lab_url}/lab/clients/{quote(client_id, safe='')}"


def test_a_new_step_appears_live_on_the_diagram_and_in_the_table(
    wide_page: Page, lab_url: str, resource: str, http: httpx2.Client
) -> None:
    request = registered_client(http, lab_url, resource)
    tokens = sign_in_and_redeem(http, lab_url, request)
    wide_page.goto(page_of(lab_url, request.client_id))
    arrows = wide_page.locator(".seq .seq-row")
    shown = arrows.count()
    assert shown >= 3  # registration, authorization request/response, code redemption
    expect(wide_page.locator(".live")).to_have_class("live on")
    assert wide_page.locator("table.steps tr[id^=step-]").count() == shown

    # A step made while the page is open: the client refreshes its access token (RFC 6749 §6).
    refreshed = refresh(http, lab_url, request.client_id, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text

    expect(arrows).to_have_count(shown + 1, timeout=10_000)
    newest = wide_page.locator(".seq .seq-row.new")
    expect(newest).to_have_count(1)
    step_id = newest.get_attribute("href").removeprefix("#")
    expect(wide_page.locator(f"table.steps tr#{step_id}")).to_contain_text("refresh")
    # Each arrow is drawn between the client and the AS (the RS is not in this flow).
    assert set(arrows.evaluate_all("rows => rows.map(r => r.classList.contains('on-as'))")) == {
        True
    }


def test_a_probe_fired_from_the_page_is_active_and_can_be_cleared(
    page: Page, lab_url: str, resource: str, http: httpx2.Client
) -> None:
    request = registered_client(http, lab_url, resource)
    sign_in_and_redeem(http, lab_url, request)
    page.goto(page_of(lab_url, request.client_id))

    page.locator("#probe-iss-wrong").get_by_role("button", name="Fire once").click()
    page.wait_for_url(page_of(lab_url, request.client_id) + "#probes")
    expect(page.locator("#active-probes")).to_contain_text("iss-wrong")

    active = http.get(f"{lab_url}/lab/api/probes").json()
    mine = [p for p in active if p["client_id"] == request.client_id]
    assert [(p["probe"], p["once"]) for p in mine] == [("iss-wrong", True)]

    page.locator("#active-probes").get_by_role("button", name="Clear").click()
    page.wait_for_url(page_of(lab_url, request.client_id) + "#probes")
    expect(page.locator("#active-probes")).not_to_contain_text("iss-wrong")
    active = http.get(f"{lab_url}/lab/api/probes").json()
    assert [p for p in active if p["client_id"] == request.client_id] == []


def test_a_client_that_ignores_a_wrong_iss_fails_on_the_page_with_what_it_should_have_done(
    wide_page: Page, lab_url: str, resource: str, http: httpx2.Client, screenshot_dir: Path
) -> None:
    request = registered_client(http, lab_url, resource, name="Notes assistant")
    tokens = sign_in_and_redeem(http, lab_url, request)
    refreshed = refresh(
        http, lab_url, request.client_id, tokens["refresh_token"], resource=resource
    )
    assert refreshed.status_code == 200, refreshed.text
    wide_page.goto(page_of(lab_url, request.client_id))
    wide_page.locator("#probe-iss-wrong").get_by_role("button", name="Fire once").click()
    wide_page.wait_for_url(page_of(lab_url, request.client_id) + "#probes")

    # The client authorizes again and redeems the code although the response's iss is wrong
    # (RFC 9207 §2.4 says it must not), while the page is open.
    again = AuthorizationRequest(request.client_id, request.redirect_uri, resource, request.scope)
    response = authorize(http, lab_url, again)
    assert query_of(response.headers["location"])["iss"] != ISSUER
    assert redeem(http, lab_url, again, code_from(response, again)).status_code == 200

    expect(wide_page.locator("#rule-iss-checked")).to_contain_text("fail", timeout=10_000)
    # The evidence: the authorization response that carried the wrong iss, and the redemption.
    failed_arrows = wide_page.locator(".seq .seq-row.v-fail")
    expect(failed_arrows).to_have_count(2)
    expect(failed_arrows.first).to_have_class(re.compile(r"\bto-client\b"))
    step_id = failed_arrows.last.get_attribute("href").removeprefix("#")
    expect(wide_page.locator(f"tr#{step_id}")).to_contain_text("code-redemption")
    expect(wide_page.locator(f"tr#{step_id} p.correct")).to_contain_text(
        RULES["iss-checked"].correct
    )
    wide_page.wait_for_timeout(3200)  # the new steps' highlight fades before the screenshot
    # The top of the page: facts, the diagram and the report card's failures first.
    wide_page.evaluate("window.scrollTo(0, 0)")
    wide_page.screenshot(path=screenshot_dir / "lab-client.png")


def test_a_forged_probe_form_from_another_site_is_refused(
    page: Page, lab_url: str, http: httpx2.Client
) -> None:
    # The victim has the lab open (so its browser holds a lab_csrf cookie) ...
    page.goto(f"{lab_url}/lab")
    real_token = page.locator("form input[name=csrf_token]").first.input_value()
    # ... then visits a page elsewhere that posts a probe form to the AS.
    attacker = "http://attacker.invalid/"
    forged = (
        f'<form method="post" action="{lab_url}/lab/probes">'
        '<input type="hidden" name="action" value="fire">'
        '<input type="hidden" name="probe" value="revoke-grant">'
        f'<input type="hidden" name="csrf_token" value="{real_token[::-1]}">'
        "<button>win a prize</button></form>"
    )

    def serve_attacker(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=forged)

    page.route(attacker, serve_attacker)
    page.goto(attacker)
    with page.expect_navigation() as navigation:
        page.click("button")
    answer = navigation.value
    assert answer is not None and answer.status == 403
    expect(page.locator("h1")).to_have_text("This probe form cannot be used")
    active = http.get(f"{lab_url}/lab/api/probes").json()
    assert [p for p in active if p["probe"] == "revoke-grant"] == []


def test_lab_lists_a_new_client_live_with_escaped_metadata_and_links_its_page(
    wide_page: Page, lab_url: str, resource: str, http: httpx2.Client, screenshot_dir: Path
) -> None:
    dialogs: list[str] = []
    wide_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    wide_page.goto(f"{lab_url}/lab")
    expect(wide_page.locator(".live")).to_have_class("live on")

    # A client arrives while the instructor's page is open.
    request = registered_client(http, lab_url, resource)
    sign_in_and_redeem(http, lab_url, request)
    row = wide_page.locator("#clients tr", has_text=request.client_id)
    expect(row).to_have_count(1, timeout=10_000)
    expect(row.locator("td").nth(0)).to_have_text(HOSTILE_NAME)  # shown as text, not markup
    expect(row).to_contain_text("dcr")
    expect(row).to_contain_text("example-mcp-client")
    expect(row).to_contain_text("1.4.2")
    assert wide_page.locator("#clients img").count() == 0 and dialogs == []
    expect(wide_page.locator("header code")).to_have_text(ISSUER)
    wide_page.screenshot(path=screenshot_dir / "lab.png", full_page=True)

    row.get_by_role("link").click()
    wide_page.wait_for_url(page_of(lab_url, request.client_id))
    expect(wide_page.locator("h1")).to_have_text(HOSTILE_NAME)
