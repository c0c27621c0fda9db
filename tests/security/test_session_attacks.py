"""Attacks on what ties the login and consent forms to one browser (issue #12.1-3).

* RFC 6265 §8.5: cookies ignore ports, so every cookie the AS sets on ``127.0.0.1`` also reaches
  whatever program listens on a loopback callback port. Holding them must not let that program
  obtain a code without the user's password (OAuth 2.1 §7.12.2, "Impersonation of Native Apps").
* RFC 6749 §10.12: the consent form's CSRF token is bound to the browser that opened the request;
  another browser (no cookies, or its own) cannot post it.
* OWASP pre-session tokens (login CSRF): a login form fetched by one browser cannot sign another
  browser in.
"""

from __future__ import annotations

import httpx2
from harness.db_rows import unchanged
from harness.html_forms import form_data, only_form
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    authorize,
    code_from,
    login,
    register,
)


def new_request(stack, http: httpx2.Client, scope: str = "notes:read") -> AuthorizationRequest:
    client = register(http, stack.as_url, [REDIRECT_URI])
    return AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource, scope=scope)


def assert_refused_page(response: httpx2.Response) -> None:
    assert response.status_code == 400, response.text[:500]
    assert "location" not in response.headers
    assert 'name="decision"' not in response.text


def test_cookies_a_loopback_callback_receives_authorize_nobody(stack, http) -> None:
    """RFC 6265 §8.5 + OAuth 2.1 §7.12.2: after a real sign-in, a program on the callback port
    holds every cookie the browser has for 127.0.0.1. With them it registers its own client and
    opens /authorize for every scope: it must meet the password form, not a consent form."""
    request = new_request(stack, http)
    code_from(authorize(http, stack.as_url, request), request)
    stolen = httpx2.Cookies()
    for cookie in http.cookies.jar:
        stolen.set(cookie.name, cookie.value, domain=cookie.domain, path=cookie.path)
    with httpx2.Client(timeout=15.0, cookies=stolen) as thief:
        own = new_request(stack, thief, scope="notes:read notes:write notes:delete")
        page = thief.get(f"{stack.as_url}/authorize", params=own.params())
    assert page.status_code == 200
    assert only_form(page).asks_for_password(), page.text[:500]
    assert 'name="decision"' not in page.text


def test_consent_form_posted_from_another_browser_is_refused(stack, http) -> None:
    """RFC 6749 §10.12: the victim's consent form (request id and CSRF token) posted by a browser
    without the victim's cookies approves nothing."""
    request = new_request(stack, http)
    page = login(http, http.get(f"{stack.as_url}/authorize", params=request.params()))
    form = only_form(page)
    fields = [*form.hidden, ("scope", "notes:read"), ("decision", "approve")]
    with httpx2.Client(timeout=15.0) as other_browser, unchanged(stack.engine):
        response = other_browser.post(f"{stack.as_url}/consent", data=form_data(fields))
    assert_refused_page(response)


def test_login_form_of_one_browser_cannot_sign_in_another(stack, http) -> None:
    """OWASP login CSRF: the attacker fetches a login form in their own browser and makes the
    victim's browser post it with the attacker's credentials. The form is bound to the browser
    that fetched it, so the victim's browser gets an error page, not a session as the attacker."""
    request = new_request(stack, http)
    attacker_form = only_form(http.get(f"{stack.as_url}/authorize", params=request.params()))
    fields = [*attacker_form.hidden, ("username", "bob"), ("password", "builder")]
    with httpx2.Client(timeout=15.0) as victim, unchanged(stack.engine):
        response = victim.post(f"{stack.as_url}/login", data=form_data(fields))
        assert "set-cookie" not in response.headers
    assert_refused_page(response)
