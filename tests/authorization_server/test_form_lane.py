"""The form endpoints, ``POST /register`` and ``GET /authorize`` are served past FastAPI's own
layers (form_lane.py) and answer exactly as through the app's stack: the app's middleware
(security headers, body limit), its error handlers (OAuth JSON), a 500 for a real fault, and a
405 for another method on their paths."""

from __future__ import annotations

import pytest
from authorization_server.as_toolbox import AuthServer
from harness.oauth_flow import registration_metadata
from sqlalchemy import text

from demo_as.middleware import SECURITY_HEADERS

SECRET = "rs-secret"


@pytest.fixture
def server(start_server) -> AuthServer:
    return start_server(introspection_secret=SECRET)


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS:
        assert response.headers[name.decode()] == value.decode()


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_answers_and_refusals_carry_the_apps_headers(server: AuthServer, path: str) -> None:
    refused = server.http.post(path, data={"token": "t", "grant_type": "password"})
    assert refused.status_code in (400, 401)
    assert "error" in refused.json()
    assert_security_headers(refused)


def test_registration_and_authorization_carry_the_apps_headers(server: AuthServer) -> None:
    refused = server.http.post("/register", json={"redirect_uris": ["https://example.com/cb"]})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_redirect_uri"
    assert_security_headers(refused)
    registered = server.http.post("/register", json=registration_metadata())
    assert registered.status_code == 201
    assert_security_headers(registered)
    unknown = server.http.get("/authorize", params={"client_id": "nobody", "response_type": "code"})
    assert unknown.status_code == 400  # never a redirect to an unverified URI
    assert_security_headers(unknown)
    login = server.authorize(registered.json()["client_id"])
    assert login.status_code == 200 and "text/html" in login.headers["content-type"]
    assert_security_headers(login)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/register"), ("HEAD", "/authorize"), ("PUT", "/token")]
)
def test_another_method_on_a_lanes_path_is_a_405(server: AuthServer, method, path) -> None:
    response = server.http.request(method, path)
    assert response.status_code == 405
    assert_security_headers(response)


def test_an_answer_carries_the_apps_headers(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"])
    response = server.http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert response.json()["active"] is True
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"] == "application/json"
    assert_security_headers(response)


def test_a_real_fault_is_a_500(server: AuthServer) -> None:
    """Not a refusal and not a busy database (the revocation read finds no table): the app's 500,
    as from any route, in place of an answer."""
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"])
    with server.db() as db:
        db.execute(text('DROP TABLE "accesstokenrecord"'))
        db.commit()
    response = server.http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert response.status_code == 500
    assert "active" not in response.text


def test_a_form_sent_in_pieces_is_read_whole(server: AuthServer) -> None:
    """form_endpoints.whole_body: a chunked body (no Content-Length, several ASGI messages)."""
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"])
    form = f"token={tokens['access_token']}".encode()

    def pieces():
        yield from (form[i : i + 7] for i in range(0, len(form), 7))

    response = server.http.post(
        "/introspect",
        content=pieces(),
        headers={
            "Authorization": f"Bearer {SECRET}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True
