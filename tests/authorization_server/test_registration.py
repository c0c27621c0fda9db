"""Dynamic client registration (RFC 7591) over a real socket."""

import pytest
from authorization_server.as_toolbox import AuthServer
from harness.oauth_flow import REDIRECT_URI
from sqlmodel import select

from demo_as.db import secret_hash
from demo_as.models import Client


def client_rows(server: AuthServer) -> list[Client]:
    with server.db() as db:
        return list(db.exec(select(Client)).all())


def test_public_client_gets_201_with_id_and_accepted_metadata(server: AuthServer) -> None:
    response = server.http.post(
        "/register",
        json={
            "redirect_uris": [REDIRECT_URI, "http://[::1]:4000/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "My MCP client",
            "scope": "notes:read offline_access",
            "software_id": "ignored-unknown-field",
        },
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_id"].startswith("client-")
    assert isinstance(body["client_id_issued_at"], int)
    assert body["redirect_uris"] == [REDIRECT_URI, "http://[::1]:4000/cb"]
    assert body["token_endpoint_auth_method"] == "none"
    assert body["scope"] == "notes:read offline_access"
    assert "client_secret" not in body
    assert "software_id" not in body  # RFC 7591 §2: unknown metadata is ignored


def test_rfc7591_defaults_make_a_confidential_client_with_hashed_secret(
    server: AuthServer,
) -> None:
    response = server.http.post("/register", json={"redirect_uris": [REDIRECT_URI]})
    assert response.status_code == 201
    body = response.json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["grant_types"] == ["authorization_code"]
    assert body["client_secret_expires_at"] == 0
    (row,) = client_rows(server)
    assert row.client_secret_hash == secret_hash(body["client_secret"])
    assert body["client_secret"] not in (row.client_secret_hash or "")


REFUSED_REDIRECTS = [
    "https://evil.example/cb",
    "http://127.0.0.1.nip.io/cb",
    "http://user@127.0.0.1/cb",
    "http://127.0.0.1:8080/cb#x",
    "http://127.0.0.1:*/cb",
    "http://127.0.0.1:99999/cb",
    "cursor://anysphere.cursor-mcp/oauth/callback",
    "http://[::1/cb",
]


@pytest.mark.parametrize("bad", REFUSED_REDIRECTS)
def test_each_refused_redirect_form_refuses_the_whole_registration(
    server: AuthServer, bad: str
) -> None:
    response = server.http.post("/register", json={"redirect_uris": [REDIRECT_URI, bad]})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_redirect_uri"
    assert "127.0.0.1, localhost or [::1]" in body["error_description"]
    assert client_rows(server) == []  # nothing half-written


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"redirect_uris": []},
        {"redirect_uris": "http://127.0.0.1/cb"},
        {"redirect_uris": [1, 2]},
        {"redirect_uris": [f"http://127.0.0.1:{2000 + i}/cb" for i in range(11)]},
        {"redirect_uris": ["http://127.0.0.1/" + "x" * 3000]},
    ],
)
def test_missing_or_malformed_redirect_uris_are_invalid_redirect_uri(
    server: AuthServer, body: dict
) -> None:
    response = server.http.post("/register", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert client_rows(server) == []


@pytest.mark.parametrize(
    ("extra", "mentions"),
    [
        ({"token_endpoint_auth_method": "private_key_jwt"}, "token_endpoint_auth_method"),
        ({"grant_types": ["implicit"]}, "grant_types"),
        ({"grant_types": ["refresh_token"]}, "authorization_code"),
        ({"response_types": ["token"]}, "response_types"),
        ({"client_name": "x" * 201}, "client_name"),
        ({"client_name": ""}, "client_name"),
        ({"scope": "notes:read admin"}, "admin"),
        ({"client_name": 42}, "client_name"),
        ({"grant_types": "authorization_code"}, "grant_types"),
    ],
)
def test_other_bad_metadata_is_invalid_client_metadata(
    server: AuthServer, extra: dict, mentions: str
) -> None:
    response = server.http.post("/register", json={"redirect_uris": [REDIRECT_URI], **extra})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_client_metadata"
    assert mentions in body["error_description"]
    assert client_rows(server) == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"redirect_uris": [', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"null", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"redirect_uris=http://127.0.0.1/cb", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_are_400_in_rfc7591_format(
    server: AuthServer, content: bytes, content_type: str
) -> None:
    response = server.http.post(
        "/register", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")


def test_oversized_body_is_413_in_oauth_format(server: AuthServer) -> None:
    big = {"redirect_uris": [REDIRECT_URI], "client_name": "x", "padding": "p" * 100_000}
    response = server.http.post("/register", json=big)
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"
    assert client_rows(server) == []


def test_oversized_chunked_body_is_413_too(server: AuthServer) -> None:
    def chunks():
        yield b'{"redirect_uris": ["' + REDIRECT_URI.encode() + b'"], "x": "'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"}'

    response = server.http.post(
        "/register", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"
