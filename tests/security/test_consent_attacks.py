"""Attacks on the login and consent forms (RFC 6749 §10.12 CSRF, OAuth 2.1 §7.10 clickjacking,
§7.12.2 authenticate before redirecting, MCP security best practices "Consent").

Each form carries a CSRF token bound to one pending authorization request, valid once. A forged,
missing, replayed or transplanted token gets an HTML error page (never a redirect) and issues no
code.
"""

from __future__ import annotations

import httpx2
from harness.db_rows import count, unchanged
from harness.html_forms import form_data, only_form
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    code_from,
    consent,
    login,
    query_of,
    redeem,
    register,
)


def consent_page(stack, http: httpx2.Client, scope: str = "notes:read"):
    """A signed-in user looking at the consent form of a fresh request."""
    client = register(http, stack.as_url, [REDIRECT_URI])
    request = AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource, scope=scope)
    page = http.get(f"{stack.as_url}/authorize", params=request.params())
    assert page.status_code == 200
    if only_form(page).asks_for_password():
        page = login(http, page)
    assert page.status_code == 200 and 'name="decision"' in page.text
    return request, page


def post_consent(stack, http: httpx2.Client, fields: list[tuple[str, str]]) -> httpx2.Response:
    return http.post(f"{stack.as_url}/consent", data=form_data(fields))


def assert_refused_page(response: httpx2.Response) -> None:
    """An HTML error page: no redirect, so no code and no error delivered anywhere."""
    assert response.status_code == 400, response.text[:500]
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


def test_consent_without_csrf_token_is_refused(stack, http) -> None:
    """RFC 6749 §10.12: the consent submission must prove it came from the AS's own form."""
    _request, page = consent_page(stack, http)
    form = only_form(page)
    fields = [(n, v) for n, v in form.hidden if n != "csrf_token"]
    with unchanged(stack.engine):
        response = post_consent(
            stack, http, [*fields, ("scope", "notes:read"), ("decision", "approve")]
        )
    assert_refused_page(response)


def test_consent_with_forged_csrf_token_is_refused(stack, http) -> None:
    """RFC 6749 §10.12: a token the attacker made up (cross-site form post) is refused."""
    _request, page = consent_page(stack, http)
    with unchanged(stack.engine):
        response = consent(http, page, hidden_overrides={"csrf_token": "forged-" + "x" * 36})
    assert_refused_page(response)


def test_consent_csrf_token_replay_is_refused(stack, http) -> None:
    """RFC 6749 §10.12 / OAuth 2.1 §4.1.2: a consent form is answered once; replaying the same
    submission (e.g. from browser history) issues no second code."""
    request, page = consent_page(stack, http)
    first = consent(http, page)
    assert first.status_code in (302, 303)
    code_from(first, request)
    with unchanged(stack.engine):
        again = consent(http, page)
    assert_refused_page(again)


def test_login_csrf_token_cannot_be_replayed_on_consent(stack, http) -> None:
    """OAuth 2.1 §7.12.2: the user is authenticated *before* consent. The login form's token is
    rotated when the consent form is rendered, so it cannot approve anything afterwards."""
    client = register(http, stack.as_url, [REDIRECT_URI])
    request = AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource)
    login_page = http.get(f"{stack.as_url}/authorize", params=request.params())
    login_form = only_form(login_page)
    login(http, login_page)
    with unchanged(stack.engine):
        response = post_consent(
            stack, http, [*login_form.hidden, ("scope", "notes:read"), ("decision", "approve")]
        )
    assert_refused_page(response)


def test_consent_before_login_is_refused(stack) -> None:
    """OAuth 2.1 §7.12.2: "The AS MUST always authenticate the user first". A token from the
    login form posted straight to /consent (skipping the password) approves nothing."""
    with httpx2.Client(timeout=15.0) as http:
        client = register(http, stack.as_url, [REDIRECT_URI])
        request = AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource)
        login_page = http.get(f"{stack.as_url}/authorize", params=request.params())
        hidden = only_form(login_page).hidden
        with unchanged(stack.engine):
            response = post_consent(
                stack, http, [*hidden, ("scope", "notes:read"), ("decision", "approve")]
            )
    assert_refused_page(response)


def test_consent_token_of_another_pending_request_is_refused(stack, http) -> None:
    """RFC 6749 §10.12: the CSRF token is bound to *one* pending request; the token of request A
    cannot approve request B (which might ask for more scopes or another redirect URI)."""
    _a, page_a = consent_page(stack, http, scope="notes:read")
    _b, page_b = consent_page(stack, http, scope="notes:read notes:delete")
    csrf_a = only_form(page_a).hidden_value("csrf_token")
    with unchanged(stack.engine):
        response = consent(http, page_b, hidden_overrides={"csrf_token": csrf_a})
    assert_refused_page(response)


def test_consent_cannot_grant_a_scope_that_was_not_requested(stack, http) -> None:
    """RFC 6749 §3.3 / MCP "Consent": the user approves what the client asked for. A tampered
    form that adds ``notes:delete`` to a ``notes:read`` request does not widen the grant."""
    request, page = consent_page(stack, http, scope="notes:read")
    form = only_form(page)
    fields = [
        *form.hidden,
        ("scope", "notes:read"),
        ("scope", "notes:delete"),
        ("decision", "approve"),
    ]
    response = post_consent(stack, http, fields)
    code = code_from(response, request)
    tokens = redeem(http, stack.as_url, request, code).json()
    assert tokens["scope"].split() == ["notes:read"]


def test_consent_unknown_decision_is_refused(stack, http) -> None:
    """RFC 6749 §4.1.2.1: the form answers approve or deny; anything else is not consent."""
    _request, page = consent_page(stack, http)
    with unchanged(stack.engine):
        response = consent(http, page, decision="yes-please")
    assert_refused_page(response)


def test_consent_deny_redirects_access_denied_without_a_code(stack, http) -> None:
    """RFC 6749 §4.1.2.1 ``access_denied`` with ``state`` and RFC 9207 ``iss``; no code row."""
    request, page = consent_page(stack, http)
    codes = count(stack.engine, "authorizationcode")
    response = consent(http, page, decision="deny")
    assert response.status_code == 303
    params = query_of(response.headers["location"])
    assert response.headers["location"].startswith(REDIRECT_URI)
    assert params["error"] == "access_denied" and "code" not in params
    assert params["state"] == request.state and params["iss"] == stack.as_url
    assert count(stack.engine, "authorizationcode") == codes


def test_login_with_wrong_password_is_refused(stack) -> None:
    """RFC 6749 §10.12 / OAuth 2.1 §7.12.2: a wrong password gives no cookie, no consent form and
    changes nothing but the form's (rotated) CSRF token."""
    with httpx2.Client(timeout=15.0) as http:
        client = register(http, stack.as_url, [REDIRECT_URI])
        request = AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource)
        page = http.get(f"{stack.as_url}/authorize", params=request.params())
        form = only_form(page)
        pending = count(stack.engine, "pendingauthorization", "username IS NOT NULL")
        response = http.post(
            f"{stack.as_url}/login",
            data=form_data([*form.hidden, ("username", "alice"), ("password", "not-her-password")]),
        )
        assert response.status_code == 400
        assert 'name="decision"' not in response.text
        assert "set-cookie" not in response.headers
        assert count(stack.engine, "pendingauthorization", "username IS NOT NULL") == pending


def test_consent_page_forbids_framing_and_caching(stack, http) -> None:
    """OAuth 2.1 §7.10: clickjacking on the consent page would let a hidden frame collect the
    user's "approve" click; ``X-Frame-Options: DENY`` + CSP ``frame-ancestors 'none'``; the page
    holds a CSRF token, so ``Cache-Control: no-store``."""
    _request, page = consent_page(stack, http)
    assert page.headers["x-frame-options"].upper() == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "no-store" in page.headers["cache-control"]


def test_browser_binding_cookie_is_httponly_and_samesite(stack) -> None:
    """RFC 6265 §4.1.2.6 / RFC 9700 §4.7 (CSRF): the browser binding cookie is unreadable by
    script and not sent on cross-site POSTs."""
    with httpx2.Client(timeout=15.0) as http:
        client = register(http, stack.as_url, [REDIRECT_URI])
        request = AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource)
        response = http.get(f"{stack.as_url}/authorize", params=request.params())
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie or "samesite=strict" in cookie
