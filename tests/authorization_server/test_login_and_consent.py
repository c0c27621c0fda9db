"""Login and consent pages: the form contract of docs/architecture.md, partial grants, deny,
CSRF binding, the login session cookie, anti-framing headers and escaping."""

from authorization_server.as_toolbox import AuthServer
from harness.html_forms import parse_forms
from harness.oauth_flow import REDIRECT_URI, query_of


def start_flow(server: AuthServer, **overrides):
    client = server.register(**overrides.pop("client", {}))
    params = server.authorize_params(client["client_id"], **overrides)
    page = server.http.get("/authorize", params=params)
    return client, params, page


def test_login_page_has_the_contracted_form_and_lists_demo_users(server: AuthServer) -> None:
    _client, _params, page = start_flow(server)
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    (form,) = parse_forms(page.text)
    assert form.method == "post" and form.action
    assert form.input_types["username"] == "text" and form.input_types["password"] == "password"
    assert form.hidden_value("csrf_token") and form.hidden_value("request_id")
    for user, password in [("alice", "wonderland"), ("bob", "builder")]:
        assert user in page.text and password in page.text


def test_consent_page_shows_client_scopes_sentences_and_buttons(server: AuthServer) -> None:
    client, _params, page = start_flow(server, scope="notes:read notes:delete")
    consent = server.login(page)
    assert consent.status_code == 200
    assert consent.headers["x-frame-options"] == "DENY"
    (form,) = parse_forms(consent.text)
    assert form.checkboxes == [("scope", "notes:read", True), ("scope", "notes:delete", True)]
    assert set(form.buttons) == {
        ("submit", "decision", "approve"),
        ("submit", "decision", "deny"),
    }
    assert client["client_id"] in consent.text
    assert "Test app" in consent.text
    assert "127.0.0.1:33418" in consent.text  # the redirect host (MCP: MUST display it)
    assert "Delete your notes" in consent.text and "Read your notes" in consent.text


def test_approve_redirects_303_with_code_state_and_iss(server: AuthServer) -> None:
    _client, params, page = start_flow(server)
    done = server.consent(server.login(page))
    assert done.status_code == 303
    location = done.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["code"] and query["state"] == params["state"]
    assert query["iss"] == server.base_url


def test_partial_grant_gives_only_the_ticked_scopes(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(
        client["client_id"], scope="notes:read notes:write notes:delete", keep=["notes:read"]
    )
    assert tokens["scope"] == "notes:read"


def test_deny_is_access_denied_with_state_and_iss(server: AuthServer) -> None:
    _client, params, page = start_flow(server)
    done = server.consent(server.login(page), decision="deny")
    assert done.status_code == 303
    query = query_of(done.headers["location"])
    assert query == {
        "error": "access_denied",
        "error_description": query["error_description"],
        "state": params["state"],
        "iss": server.base_url,
    }


def test_unticking_everything_is_access_denied(server: AuthServer) -> None:
    _client, _params, page = start_flow(server)
    done = server.consent(server.login(page), keep=[])
    assert query_of(done.headers["location"])["error"] == "access_denied"


def test_wrong_password_shows_the_login_form_again(server: AuthServer) -> None:
    _client, _params, page = start_flow(server)
    again = server.login(page, password="nope")
    assert again.status_code == 400
    assert "Wrong username or password" in again.text
    assert server.login(again).status_code == 200  # the new form works


def test_csrf_token_must_match_the_pending_request(server: AuthServer) -> None:
    _client, _params, page = start_flow(server)
    consent = server.login(page)
    (form,) = parse_forms(consent.text)
    forged = {
        **dict(form.hidden),
        "csrf_token": "forged",
        "decision": "approve",
        "scope": ["notes:read"],
    }
    response = server.http.post("/consent", data=forged)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "CSRF" in response.text


def test_csrf_token_of_another_request_is_refused(server: AuthServer) -> None:
    _c1, _p1, page_one = start_flow(server)
    consent_one = server.login(page_one)
    _c2, _p2, consent_two = start_flow(server)  # logged in already: straight to consent
    (form_one,) = parse_forms(consent_one.text)
    (form_two,) = parse_forms(consent_two.text)
    mixed = {
        "request_id": form_two.hidden_value("request_id"),
        "csrf_token": form_one.hidden_value("csrf_token"),
        "decision": "approve",
        "scope": ["notes:read"],
    }
    assert server.http.post("/consent", data=mixed).status_code == 400


def test_consent_form_works_once(server: AuthServer) -> None:
    _client, _params, page = start_flow(server)
    consent = server.login(page)
    assert server.consent(consent).status_code == 303
    replay = server.consent(consent)
    assert replay.status_code == 400
    assert "location" not in replay.headers


def test_step_up_signs_in_again_and_shows_already_granted(server: AuthServer) -> None:
    """OAuth 2.1 §7.3.1/§7.12.2: each request authenticates the user (no session cookie skips the
    password); the consent page still marks what this user granted this client before."""
    client = server.register()
    server.tokens_via_forms(client["client_id"], scope="notes:read")
    cookie = server.http.cookies.jar
    (binding,) = [c for c in cookie if c.name == "demo_as_browser"]
    assert binding.has_nonstandard_attr("HttpOnly")
    assert binding.get_nonstandard_attr("SameSite", "").lower() == "lax"

    page = server.authorize(client["client_id"], scope="notes:read notes:write")
    assert page.status_code == 200
    assert 'name="password"' in page.text  # the login form again
    page = server.login(page)
    items = page.text.split('name="scope"')[1:]
    assert "already granted" in items[0] and "notes:read" in items[0]
    assert "new" in items[1] and "notes:write" in items[1]


def test_client_name_cannot_inject_html(server: AuthServer) -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    _client, _params, page = start_flow(server, client={"client_name": evil})
    for html in (page.text, server.login(page).text):
        assert "<script>alert(1)</script>" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_login_with_an_unknown_request_is_an_error_page(server: AuthServer) -> None:
    response = server.http.post(
        "/login",
        data={
            "request_id": "nope",
            "csrf_token": "nope",
            "username": "alice",
            "password": "wonderland",
        },
    )
    assert response.status_code == 400
    assert "location" not in response.headers


def test_malformed_form_posts_are_400_pages_not_500(server: AuthServer) -> None:
    for path in ("/login", "/consent"):
        for content in (b"", b"%%%", b"request_id=1", b"\xff" * 10):
            response = server.http.post(
                path,
                content=content,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 400, (path, content, response.text)


def test_dashboard_shows_issuer_switches_and_client_count(start_server) -> None:
    server = start_server(
        loopback_any_port=True, iss_mode="omit", cimd_allowed_hosts=["workshop.lan"]
    )
    server.register()
    page = server.http.get("/")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert server.base_url in page.text
    assert "--loopback-any-port" in page.text and "omit" in page.text
    assert "--cimd-allowed-host" in page.text and "<code>workshop.lan</code>" in page.text
    assert "--cimd-ca-bundle" in page.text
    assert "registered clients</th><td>1<" in page.text.replace("\n", "")


def test_each_consent_sentence_is_short_enough_to_judge_at_a_glance() -> None:
    """The consent page is read in seconds: one or two short sentences per scope (a long,
    hedged offline_access paragraph once confused more than it explained)."""
    from demo_as.scopes import SCOPE_SENTENCES

    for scope, sentence in SCOPE_SENTENCES.items():
        assert len(sentence) <= 140, scope
        assert sentence.count(". ") <= 1, scope
