"""GET /authorize: the no-redirect cases, error redirects with state and iss, and iss_mode."""

import pytest
from authorization_server.as_toolbox import AuthServer
from harness.html_forms import parse_forms
from harness.oauth_flow import REDIRECT_URI, query_of


def assert_error_page(response, *needles: str) -> None:
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    for needle in needles:
        assert needle in response.text, needle


def test_unknown_client_is_an_error_page_not_a_redirect(server: AuthServer) -> None:
    response = server.authorize("client-does-not-exist")
    assert_error_page(response, "Unknown client", "§4.1.2.1")


def test_missing_client_id_is_an_error_page_that_says_so(server: AuthServer) -> None:
    response = server.http.get("/authorize", params={"redirect_uri": REDIRECT_URI})
    assert_error_page(response, "No client_id", "This request sent no client_id", "§4.1.2.1")
    assert "no client with" not in response.text


def test_redirect_mismatch_page_names_rule_shows_registered_and_the_switch(
    server: AuthServer,
) -> None:
    client = server.register()
    response = server.authorize(client["client_id"], redirect_uri="http://127.0.0.1:1/callback")
    assert_error_page(
        response,
        "RFC 9700 §2.1",
        "RFC 8252 §7.3",
        REDIRECT_URI,
        "http://127.0.0.1:1/callback",
        "--loopback-any-port",
    )


@pytest.mark.parametrize(
    "presented",
    [
        "http://localhost:33418/callback",
        f"{REDIRECT_URI}/",
        f"{REDIRECT_URI}?x=1",
        "https://evil.example/callback",
    ],
)
def test_every_near_miss_is_refused_without_redirect(server: AuthServer, presented: str) -> None:
    client = server.register()
    assert_error_page(server.authorize(client["client_id"], redirect_uri=presented))


def test_repeated_redirect_uri_is_refused_without_redirect(server: AuthServer) -> None:
    client = server.register()
    params = list(server.authorize_params(client["client_id"]).items())
    params.append(("redirect_uri", "http://127.0.0.1:1/evil"))
    assert_error_page(server.http.get("/authorize", params=params))


def test_omitted_redirect_uri_uses_the_single_registered_one(server: AuthServer) -> None:
    client = server.register()
    page = server.authorize(client["client_id"], redirect_uri=None)
    assert page.status_code == 200
    assert parse_forms(page.text)


def test_omitted_redirect_uri_with_several_registered_is_an_error_page(
    server: AuthServer,
) -> None:
    client = server.register(redirect_uris=[REDIRECT_URI, "http://127.0.0.1:2/cb"])
    assert_error_page(server.authorize(client["client_id"], redirect_uri=None), "more than one")


def test_loopback_any_port_accepts_another_port_only_when_switched_on(start_server) -> None:
    strict = start_server()
    client = strict.register()
    other_port = "http://127.0.0.1:50999/callback"
    assert_error_page(strict.authorize(client["client_id"], redirect_uri=other_port))

    relaxed = start_server(loopback_any_port=True, auto_approve=True)
    client = relaxed.register()
    response = relaxed.authorize(client["client_id"], redirect_uri=other_port)
    assert response.status_code == 302
    assert response.headers["location"].startswith(other_port + "?")
    # The host is still compared exactly: localhost is not 127.0.0.1.
    response = relaxed.authorize(client["client_id"], redirect_uri="http://localhost:1/callback")
    assert_error_page(response, "is <strong>on</strong>")


ERROR_CASES = [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "invalid_request"),
    ({"scope": "notes:read admin:all"}, "invalid_scope"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"resource": "http://127.0.0.1:8000/other"}, "invalid_target"),
    ({"resource": "http://127.0.0.1:8000/mcp#frag"}, "invalid_target"),
    ({"resource": "not-a-uri"}, "invalid_target"),
]


@pytest.mark.parametrize(("overrides", "error"), ERROR_CASES)
def test_errors_after_redirect_check_redirect_with_state_and_iss(
    server: AuthServer, overrides: dict, error: str
) -> None:
    """OAuth 2.1 §7.12.2 / RFC 9700 §4.11.2: "The AS MUST always authenticate the user first
    [...] before redirecting the user". Once client and redirect URI are verified, the error
    waits behind the login form and then goes to the redirect URI with state and iss."""
    client = server.register()
    params = server.authorize_params(client["client_id"], state="xyz 123/+", **overrides)
    response = server.answer_after_login(params)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["error"] == error
    assert query["error_description"]
    assert query["state"] == "xyz 123/+"
    assert query["iss"] == server.base_url
    assert "code" not in query


def test_error_redirect_without_state_has_no_state(server: AuthServer) -> None:
    client = server.register()
    params = server.authorize_params(client["client_id"], state=None, response_type="token")
    response = server.answer_after_login(params)
    assert "state" not in query_of(response.headers["location"])


def test_repeated_parameter_is_invalid_request(server: AuthServer) -> None:
    client = server.register()
    params = list(server.authorize_params(client["client_id"]).items())
    params.append(("scope", "notes:write"))
    response = server.answer_after_login(params)
    query = query_of(response.headers["location"])
    assert query["error"] == "invalid_request"
    assert "scope" in query["error_description"]


def test_two_resources_are_invalid_target(server: AuthServer) -> None:
    client = server.register()
    params = list(server.authorize_params(client["client_id"]).items())
    params.append(("resource", "http://127.0.0.1:8000/mcp"))
    response = server.answer_after_login(params)
    assert query_of(response.headers["location"])["error"] == "invalid_target"


def test_redirect_uri_query_is_kept(start_server) -> None:
    server = start_server(auto_approve=True)
    uri = "http://127.0.0.1:4000/cb?tenant=7"
    client = server.register(redirect_uris=[uri])
    response = server.authorize(client["client_id"], redirect_uri=uri)
    query = query_of(response.headers["location"])
    assert query["tenant"] == "7"
    assert query["code"]


@pytest.mark.parametrize(("mode", "expected"), [("omit", None), ("wrong", "https://wrong")])
def test_iss_mode_misbehaves_on_purpose_but_metadata_still_advertises(
    start_server, mode: str, expected: str | None
) -> None:
    server = start_server(iss_mode=mode, auto_approve=True)
    metadata = server.http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["authorization_response_iss_parameter_supported"] is True
    client = server.register()
    for overrides in ({}, {"scope": "bogus"}):
        query = query_of(server.authorize(client["client_id"], **overrides).headers["location"])
        if expected is None:
            assert "iss" not in query
        else:
            assert query["iss"].startswith(expected)
            assert query["iss"] != server.base_url


def test_auto_approve_still_validates_everything(start_server) -> None:
    server = start_server(auto_approve=True)
    client = server.register()
    response = server.authorize(client["client_id"], code_challenge_method="plain")
    assert query_of(response.headers["location"])["error"] == "invalid_request"
    assert_error_page(server.authorize(client["client_id"], redirect_uri="http://127.0.0.1:9/x"))
    ok = query_of(server.authorize(client["client_id"]).headers["location"])
    assert ok["iss"] == server.base_url
    assert ok["code"]
