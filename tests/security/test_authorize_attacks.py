"""Attacks on the authorization endpoint (OAuth 2.1 §4.1.1/§4.1.2.1, RFC 9700 §4.1/§4.11,
RFC 7636, RFC 8707, RFC 9207).

Two kinds of refusal, and the difference is the security property:

* while the client or its redirect URI is not verified, the answer is an HTML error page and
  **never** a redirect (the AS must not become an open redirector);
* once both are verified, errors go to the registered redirect URI carrying ``error``, the
  client's ``state`` and the AS's ``iss`` (RFC 9207 §2), but only after the user has signed in
  (OAuth 2.1 §7.12.2: "The AS MUST always authenticate the user first"), and nothing is left
  stored.
"""

from __future__ import annotations

import httpx2
from harness.db_rows import unchanged
from harness.html_forms import only_form
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    login,
    query_of,
    register,
)

SCRIPT = "<script>alert(1)</script>"


def new_request(stack, http: httpx2.Client, **client_meta) -> AuthorizationRequest:
    client = register(http, stack.as_url, [REDIRECT_URI], **client_meta)
    return AuthorizationRequest(
        client_id=client["client_id"], redirect_uri=REDIRECT_URI, resource=stack.resource
    )


def assert_error_page(response: httpx2.Response) -> None:
    """OAuth 2.1 §4.1.2.1: "MUST NOT automatically redirect the user agent"."""
    assert response.status_code == 400, response.text[:500]
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


def refused_page(stack, http: httpx2.Client, params: dict[str, str]) -> httpx2.Response:
    with unchanged(stack.engine):
        response = http.get(f"{stack.as_url}/authorize", params=params)
    assert_error_page(response)
    return response


def answer_after_sign_in(stack, http: httpx2.Client, params) -> httpx2.Response:
    """OAuth 2.1 §7.12.2: the login form first (never a redirect), then the answer."""
    page = http.get(f"{stack.as_url}/authorize", params=params)
    assert page.status_code == 200 and "location" not in page.headers, page.text[:500]
    return login(http, page)


def refused_redirect(
    stack, http: httpx2.Client, request: AuthorizationRequest, error: str, **overrides
) -> dict[str, str]:
    """After sign-in the error goes to the verified redirect URI with error, state and iss;
    nothing is left stored."""
    with unchanged(stack.engine):
        response = answer_after_sign_in(stack, http, request.params(**overrides))
    assert response.status_code in (302, 303), response.text[:500]
    location = response.headers["location"]
    assert location.startswith(request.redirect_uri + "?"), location
    params = query_of(location)
    assert params["error"] == error, params
    assert "code" not in params
    assert params["state"] == request.state, "OAuth 2.1 §4.1.2.1: state is echoed on errors"
    assert params["iss"] == stack.as_url, "RFC 9207 §2: iss on error responses too"
    return params


def test_authorize_unknown_client_gets_a_page_not_a_redirect(stack, http) -> None:
    """OAuth 2.1 §4.1.2.1: an unknown client_id is reported to the user; the attacker's
    redirect_uri is never followed."""
    params = AuthorizationRequest("client-doesnotexist", "https://evil.example/cb", stack.resource)
    refused_page(stack, http, params.params())


def test_authorize_unregistered_redirect_uri_gets_a_page(stack, http) -> None:
    """OAuth 2.1 §4.1.2.1 / RFC 9700 §4.11 (open redirector): a redirect_uri the client never
    registered is refused on a page, never redirected to."""
    request = new_request(stack, http)
    response = refused_page(stack, http, request.params(redirect_uri="https://evil.example/cb"))
    assert "evil.example" in response.text or "redirect_uri" in response.text


def test_authorize_redirect_uri_differing_by_port_is_refused(stack, http) -> None:
    """OAuth 2.1 §4.1.1 / RFC 9700 §2.1: exact string comparison. RFC 8252 §7.3 port freedom is
    an opt-in switch here, off by default, and the page says so."""
    request = new_request(stack, http)
    response = refused_page(
        stack, http, request.params(redirect_uri="http://127.0.0.1:33419/callback")
    )
    assert "loopback" in response.text.lower() and "port" in response.text.lower()


def test_authorize_redirect_uri_differing_by_path_is_refused(stack, http) -> None:
    """RFC 9700 §4.1.1: a different path on the same host can be an attacker-controlled page."""
    request = new_request(stack, http)
    refused_page(stack, http, request.params(redirect_uri=f"{REDIRECT_URI}/x"))


def test_authorize_redirect_uri_with_extra_query_is_refused(stack, http) -> None:
    """RFC 9700 §2.1: exact match includes the query component."""
    request = new_request(stack, http)
    refused_page(
        stack, http, request.params(redirect_uri=REDIRECT_URI + "?next=https://evil.example")
    )


def test_authorize_redirect_uri_with_trailing_slash_is_refused(stack, http) -> None:
    """RFC 3986 §6.2.1 simple string comparison: ``/callback/`` is not ``/callback``."""
    request = new_request(stack, http)
    refused_page(stack, http, request.params(redirect_uri=REDIRECT_URI + "/"))


def test_authorize_redirect_uri_with_other_host_spelling_is_refused(stack, http) -> None:
    """RFC 8252 §8.3: ``localhost`` and ``127.0.0.1`` are different hosts to the comparison (and
    ``localhost`` may not even resolve to loopback)."""
    request = new_request(stack, http)
    refused_page(stack, http, request.params(redirect_uri="http://localhost:33418/callback"))


def test_authorize_port_flexibility_switch_still_compares_host_and_path(make_stack, http) -> None:
    """RFC 8252 §7.3 with ``--loopback-any-port``: only the port may vary; a different path or
    host is still refused with a page."""
    stack = make_stack(loopback_any_port=True)
    request = new_request(stack, http)
    refused_page(stack, http, request.params(redirect_uri="http://127.0.0.1:5000/other"))
    refused_page(stack, http, request.params(redirect_uri="http://localhost:5000/callback"))
    # and the switch does what it says for the port alone (control case)
    moved = request.params(redirect_uri="http://127.0.0.1:5000/callback")
    assert http.get(f"{stack.as_url}/authorize", params=moved).status_code == 200


def test_authorize_port_flexibility_does_not_accept_a_backslash_port(make_stack, http) -> None:
    """RFC 8252 §7.3 / RFC 3986 §3.2.3: with ``--loopback-any-port`` only a numeric port may
    vary. ``127.0.0.1:5000\\/callback`` is read by browsers as port 5000, path ``//callback``
    (WHATWG URL), a path that was never registered: error page, no redirect."""
    stack = make_stack(loopback_any_port=True)
    request = new_request(stack, http)
    refused_page(stack, http, request.params(redirect_uri="http://127.0.0.1:5000\\/callback"))


def test_authorize_repeated_redirect_uri_is_refused_without_redirect(stack, http) -> None:
    """OAuth 2.1 §3.1: parameters MUST NOT be repeated; with two redirect_uri values the AS cannot
    know which one was verified, so neither is redirected to."""
    request = new_request(stack, http)
    params = [*request.params().items(), ("redirect_uri", "https://evil.example/cb")]
    with unchanged(stack.engine):
        response = http.get(f"{stack.as_url}/authorize", params=params)
    assert_error_page(response)


def test_authorize_without_pkce_is_refused(stack, http) -> None:
    """OAuth 2.1 §4.1.2.1 / §7.5.2: "An AS MUST reject requests without a code_challenge"."""
    request = new_request(stack, http)
    refused_redirect(
        stack, http, request, "invalid_request", code_challenge=None, code_challenge_method=None
    )


def test_authorize_pkce_plain_is_refused(stack, http) -> None:
    """RFC 7636 §4.2 / RFC 9700 §2.1.1: ``plain`` exposes the verifier; only S256 is offered."""
    request = new_request(stack, http)
    refused_redirect(
        stack,
        http,
        request,
        "invalid_request",
        code_challenge=request.verifier[:43],
        code_challenge_method="plain",
    )


def test_authorize_pkce_without_method_is_refused(stack, http) -> None:
    """RFC 7636 §4.3: a missing method means ``plain``; refused like ``plain``."""
    request = new_request(stack, http)
    refused_redirect(stack, http, request, "invalid_request", code_challenge_method=None)


def test_authorize_unsupported_response_type_is_refused(stack, http) -> None:
    """OAuth 2.1 §4.1.2.1 / RFC 9700 §2.1.2: no implicit grant (``token``)."""
    request = new_request(stack, http)
    refused_redirect(stack, http, request, "unsupported_response_type", response_type="token")


def test_authorize_unknown_scope_is_refused(stack, http) -> None:
    """RFC 6749 §4.1.2.1 ``invalid_scope``: a scope this AS does not define."""
    request = new_request(stack, http)
    refused_redirect(stack, http, request, "invalid_scope", scope="notes:read admin")


def test_authorize_foreign_resource_is_refused(stack, http) -> None:
    """RFC 8707 §2 ``invalid_target``: tokens are only minted for resources this AS serves
    (MCP: audience binding prevents token passthrough to other servers)."""
    request = new_request(stack, http)
    refused_redirect(stack, http, request, "invalid_target", resource="https://evil.example/mcp")


def test_authorize_two_resources_are_refused(stack, http) -> None:
    """RFC 8707 §2 / RFC 9068 §3: one token, one audience; a request naming two resources would
    yield a token valid at both, so it is refused."""
    request = new_request(stack, http)
    params = [*request.params().items(), ("resource", stack.other_resource)]
    with unchanged(stack.engine):
        response = answer_after_sign_in(stack, http, params)
    assert response.status_code == 303
    assert query_of(response.headers["location"])["error"] == "invalid_target"


def test_authorize_state_is_not_reflected_as_html(stack, http) -> None:
    """OAuth 2.1 §7.12 / RFC 9700 §4.11: a ``state`` carrying markup must never come back as live
    HTML on the AS's origin, neither on the pages nor in an error redirect."""
    request = new_request(stack, http)
    request.state = '"><img src=x onerror=alert(1)>' + SCRIPT
    page = http.get(f"{stack.as_url}/authorize", params=request.params())
    assert page.status_code == 200
    assert SCRIPT not in page.text and "<img src=x" not in page.text
    consent_page = login(http, page)
    assert SCRIPT not in consent_page.text and "<img src=x" not in consent_page.text
    error = answer_after_sign_in(stack, http, request.params(scope="bogus:scope"))
    assert "<" not in error.headers["location"], "state must be URL-encoded in the redirect"
    assert query_of(error.headers["location"])["state"] == request.state


def test_authorize_client_name_is_escaped_on_login_and_consent(stack, http) -> None:
    """MCP security best practices (consent UI) / OWASP XSS: a client registers its own
    ``client_name``; the login and consent pages must show it as text, not markup."""
    request = new_request(stack, http, client_name=SCRIPT)
    page = http.get(f"{stack.as_url}/authorize", params=request.params())
    assert page.status_code == 200
    assert SCRIPT not in page.text
    assert "&lt;script&gt;" in page.text
    consent_page = login(http, page)
    assert consent_page.status_code == 200
    assert SCRIPT not in consent_page.text
    assert "&lt;script&gt;" in consent_page.text
    only_form(consent_page)  # still one well-formed form: the name did not break the markup


def test_authorize_error_pages_escape_attacker_input(stack, http) -> None:
    """OAuth 2.1 §4.1.2.1 error pages echo what was wrong; the echo must be inert text."""
    page = refused_page(stack, http, {"client_id": SCRIPT, "redirect_uri": REDIRECT_URI})
    assert SCRIPT not in page.text
    request = new_request(stack, http)
    page = refused_page(stack, http, request.params(redirect_uri="http://127.0.0.1/" + SCRIPT))
    assert SCRIPT not in page.text


def test_authorize_pages_forbid_framing(stack, http) -> None:
    """OAuth 2.1 §7.10 / RFC 6749 §10.13: "Authorization servers MUST prevent clickjacking":
    ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` on the login page."""
    request = new_request(stack, http)
    page = http.get(f"{stack.as_url}/authorize", params=request.params())
    assert page.status_code == 200
    assert page.headers["x-frame-options"].upper() == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "no-store" in page.headers["cache-control"]


def test_authorize_error_waits_for_the_user_to_sign_in(stack, http) -> None:
    """OAuth 2.1 §7.12.2 / RFC 9700 §4.11.2: an attacker can register a client and send an
    erroneous request on purpose so the AS redirects the user straight to the attacker's page.
    "The AS MUST always authenticate the user first ... before redirecting the user": the error
    is delivered only after the password, and nothing is left behind."""
    request = new_request(stack, http)
    with unchanged(stack.engine):
        page = http.get(f"{stack.as_url}/authorize", params=request.params(response_type="token"))
        assert page.status_code == 200 and "location" not in page.headers
        assert only_form(page).asks_for_password()
        answer = login(http, page)
    assert answer.status_code == 303
    params = query_of(answer.headers["location"])
    assert answer.headers["location"].startswith(REDIRECT_URI + "?")
    assert params["error"] == "unsupported_response_type" and "code" not in params
    assert params["state"] == request.state and params["iss"] == stack.as_url
