"""demo_as's login and consent pages, driven in a real browser (Debian's chromium via Playwright).

What a person does at the AS decides what the client gets: the redirect after consent must carry
``code``, ``state`` and ``iss`` (RFC 6749 §4.1.2, RFC 9207 §2), the code must buy exactly the
scopes left ticked (OAuth 2.1 §3.2.3), "Deny" must answer ``error=access_denied`` (RFC 6749
§4.1.2.1), a form whose CSRF token is wrong or missing must be refused (RFC 6749 §10.12), and a
mismatched ``redirect_uri`` must get an error page instead of a redirect (OAuth 2.1 §4.1.2.1).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx2
import pytest
from harness.oauth_flow import ALL_SCOPES, USERS, AuthorizationRequest, query_of, redeem, register
from playwright.sync_api import Page, Route
from serving import bind_loopback_socket

pytestmark = pytest.mark.browser


def unused_loopback_redirect_uri() -> str:
    """A loopback callback URI on a port nobody listens on (the browser never reaches it);
    for the screenshots, demo-client's default callback port."""
    sock = bind_loopback_socket(8765 if os.environ.get("UPDATE_SCREENSHOTS") == "1" else 0)
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/callback"


@dataclass
class RegisteredClient:
    """A DCR-registered public client, the authorization request it makes, and every URL the
    browser was redirected to at its redirect URI."""

    client_id: str
    redirect_uri: str
    request: AuthorizationRequest
    callbacks: list[str] = field(default_factory=list)

    def authorize_url(self, as_url: str, **overrides: str | None) -> str:
        return f"{as_url}/authorize?{urlencode(self.request.params(**overrides))}"


@pytest.fixture
def client(as_url: str, resource: str, http: httpx2.Client, page: Page) -> RegisteredClient:
    """Register a client (RFC 7591) and make ``page`` catch navigations to its redirect URI."""
    redirect_uri = unused_loopback_redirect_uri()
    registered = register(http, as_url, [redirect_uri], client_name="My MCP client")
    request = AuthorizationRequest(
        client_id=registered["client_id"],
        redirect_uri=redirect_uri,
        resource=resource,
        scope=" ".join(ALL_SCOPES),
        state=secrets.token_urlsafe(16),
    )
    client = RegisteredClient(registered["client_id"], redirect_uri, request)

    def answer_callback(route: Route) -> None:
        client.callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>callback reached</p>")

    page.route(lambda url: url.startswith(redirect_uri), answer_callback)
    return client


def sign_in(page: Page, user: str = "alice") -> None:
    """Fill and submit the login page the way a person does."""
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", USERS[user])
    page.click("form button[type=submit]")
    page.wait_for_selector("input[type=checkbox][name=scope]")


def offered_scopes(page: Page) -> dict[str, bool]:
    """The consent page's scope checkboxes: ``{scope: ticked}``."""
    boxes = page.locator("input[type=checkbox][name=scope]")
    return {
        boxes.nth(i).get_attribute("value"): boxes.nth(i).is_checked() for i in range(boxes.count())
    }


def press(page: Page, decision: str, client: RegisteredClient) -> dict[str, str]:
    """Press a consent button; return the query of the redirect the browser followed."""
    page.click(f"button[name=decision][value={decision}]")
    page.wait_for_url(lambda url: url.startswith(client.redirect_uri))
    assert client.callbacks == [page.url]
    return query_of(page.url)


def to_consent_page(page: Page, as_url: str, client: RegisteredClient) -> None:
    page.goto(client.authorize_url(as_url))
    sign_in(page)


def test_full_grant_redirects_with_code_state_iss_and_the_code_buys_every_scope(
    page: Page, as_url: str, client: RegisteredClient, http: httpx2.Client, screenshot_dir: Path
) -> None:
    response = page.goto(client.authorize_url(as_url))
    assert response is not None and response.status == 200
    assert page.locator("input[name=password][type=password]").count() == 1
    for user in USERS:  # the login page lists the demo users
        assert user in page.content()
    page.screenshot(path=screenshot_dir / "login.png", full_page=True)

    sign_in(page)
    assert offered_scopes(page) == dict.fromkeys(ALL_SCOPES, True)
    assert client.redirect_uri in page.content()  # the consent page says where the answer goes
    page.screenshot(path=screenshot_dir / "consent.png", full_page=True)

    answer = press(page, "approve", client)
    assert answer["state"] == client.request.state
    assert answer["iss"] == as_url  # RFC 9207 §2: byte-identical to the issuer
    assert "error" not in answer

    token = redeem(http, as_url, client.request, answer["code"])
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split()) == set(ALL_SCOPES)


@pytest.mark.parametrize("unticked", ["notes:delete", "notes:write"])
def test_partial_grant_buys_only_the_scopes_left_ticked(
    page: Page, as_url: str, client: RegisteredClient, http: httpx2.Client, unticked: str
) -> None:
    to_consent_page(page, as_url, client)
    page.uncheck(f"input[name=scope][value='{unticked}']")

    answer = press(page, "approve", client)
    assert answer["state"] == client.request.state
    assert answer["iss"] == as_url

    token = redeem(http, as_url, client.request, answer["code"])
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split()) == set(ALL_SCOPES) - {unticked}


def test_deny_redirects_with_access_denied_and_iss_and_no_code(
    page: Page, as_url: str, client: RegisteredClient
) -> None:
    to_consent_page(page, as_url, client)

    answer = press(page, "deny", client)
    assert answer["error"] == "access_denied"
    assert answer["state"] == client.request.state
    assert answer["iss"] == as_url  # RFC 9207 §2: error responses carry iss too
    assert "code" not in answer


TAMPER = {
    # Always a different first character (a fixed 'x' left a token that began with 'x' intact).
    "tampered": "el => { el.value = (el.value[0] === 'x' ? 'y' : 'x') + el.value.slice(1); }",
    "missing": "el => el.remove()",
}


@pytest.mark.parametrize("form", ["login", "consent"])
@pytest.mark.parametrize("how", sorted(TAMPER))
def test_a_form_with_a_tampered_or_missing_csrf_token_is_refused(
    page: Page, as_url: str, client: RegisteredClient, form: str, how: str
) -> None:
    page.goto(client.authorize_url(as_url))
    if form == "consent":
        sign_in(page)
        submit = "button[name=decision][value=approve]"
    else:
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", USERS["alice"])
        submit = "form button[type=submit]"
    page.eval_on_selector("input[name=csrf_token]", TAMPER[how])

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click(submit)
    refused = posted.value
    assert refused.status == 400, refused.status  # an HTML error page, never a redirect
    assert refused.headers.get("location") is None
    page.wait_for_load_state()
    assert client.callbacks == []  # nothing reached the client
    assert page.url.startswith(as_url)
    assert page.locator("input[type=checkbox][name=scope]").count() == 0  # no consent page
    if how == "tampered":
        assert "CSRF" in page.content()


def test_a_redirect_uri_mismatch_gets_an_error_page_not_a_redirect(
    page: Page, as_url: str, client: RegisteredClient, screenshot_dir: Path
) -> None:
    registered_port = client.redirect_uri.split(":")[2].split("/")[0]
    other_port = str(int(registered_port) + 1 if int(registered_port) < 65535 else 1024)
    presented = client.redirect_uri.replace(f":{registered_port}/", f":{other_port}/")
    reached: list[str] = []
    page.route(
        lambda url: url.startswith(presented), lambda route: reached.append(route.request.url)
    )

    response = page.goto(client.authorize_url(as_url, redirect_uri=presented))
    assert response is not None and response.status == 400
    assert page.url.startswith(as_url)
    assert client.callbacks == [] and reached == []
    text = page.inner_text("body")
    assert presented in text  # what was asked for ...
    assert client.redirect_uri in text  # ... and what is registered
    assert "--loopback-any-port" in text  # the way out for clients whose port changes
    page.screenshot(path=screenshot_dir / "redirect-mismatch.png", full_page=True)


def test_a_step_up_consent_marks_what_was_granted_before(
    page: Page, as_url: str, client: RegisteredClient, http: httpx2.Client, screenshot_dir: Path
) -> None:
    first = client.request.params(scope="notes:read")
    page.goto(f"{as_url}/authorize?{urlencode(first)}")
    sign_in(page)
    assert offered_scopes(page) == {"notes:read": True}
    press(page, "approve", client)

    # The step-up request asks for the union; the user signs in again (no session cookie).
    client.callbacks.clear()
    page.goto(client.authorize_url(as_url))
    sign_in(page)
    page.wait_for_selector("input[type=checkbox][name=scope]")
    tags = {
        scope: page.locator(f"li:has(input[value='{scope}']) .tag").inner_text().strip()
        for scope in ALL_SCOPES
    }
    assert tags == {"notes:read": "already granted", "notes:write": "new", "notes:delete": "new"}
    page.screenshot(path=screenshot_dir / "consent-step-up.png", full_page=True)

    answer = press(page, "approve", client)
    token = redeem(http, as_url, client.request, answer["code"])
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split()) == set(ALL_SCOPES)
