"""Refresh rotation and reuse detection, scope narrowing, offline_access, RFC 7009 revocation and
RFC 7662 introspection."""

import pytest
from authorization_server.as_toolbox import RESOURCE, AuthServer
from joserfc import jwt
from joserfc.jwk import KeySet

SECRET = "rs-secret"


@pytest.fixture
def server(start_server) -> AuthServer:
    return start_server(introspection_secret=SECRET)


def refresh(server: AuthServer, client_id: str, token: str, **extra):
    return server.token(
        {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token, **extra}
    )


def introspect(server: AuthServer, token: str, secret: str = SECRET):
    return server.http.post(
        "/introspect", data={"token": token}, headers={"Authorization": f"Bearer {secret}"}
    )


def claims_of(server: AuthServer, token: str) -> dict:
    keys = KeySet.import_key_set(server.http.get("/jwks").json())
    return jwt.decode(token, keys, algorithms=["ES256"]).claims


def test_refresh_rotates_and_the_old_token_stops_working(server: AuthServer) -> None:
    client = server.register()
    first = server.tokens_via_forms(client["client_id"], scope="notes:read notes:write")
    second = refresh(server, client["client_id"], first["refresh_token"])
    assert second.status_code == 200
    assert second.headers["cache-control"] == "no-store"
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["scope"] == "notes:read notes:write"
    assert claims_of(server, body["access_token"])["aud"] == RESOURCE  # refresh keeps the aud


def test_reusing_a_rotated_refresh_token_revokes_the_whole_grant(server: AuthServer) -> None:
    client = server.register()
    first = server.tokens_via_forms(client["client_id"])
    second = refresh(server, client["client_id"], first["refresh_token"]).json()

    reuse = refresh(server, client["client_id"], first["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert "revoked" in reuse.json()["error_description"]

    # The legitimate holder's newer tokens die with the grant.
    assert refresh(server, client["client_id"], second["refresh_token"]).json()["error"] == (
        "invalid_grant"
    )
    assert introspect(server, second["access_token"]).json() == {"active": False}
    assert introspect(server, first["access_token"]).json() == {"active": False}


def test_scope_can_be_narrowed_but_not_widened(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"], scope="notes:read notes:write")
    narrowed = refresh(server, client["client_id"], tokens["refresh_token"], scope="notes:read")
    assert narrowed.status_code == 200
    body = narrowed.json()
    assert body["scope"] == "notes:read"
    assert claims_of(server, body["access_token"])["scope"] == "notes:read"
    # The new refresh token keeps the grant's full scope (OAuth 2.1 §4.3.1).
    back = refresh(server, client["client_id"], body["refresh_token"])
    assert back.json()["scope"] == "notes:read notes:write"

    widened = refresh(
        server, client["client_id"], back.json()["refresh_token"], scope="notes:read notes:delete"
    )
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_scope"
    assert "notes:delete" in widened.json()["error_description"]


def test_refresh_cannot_switch_resource(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"])
    response = refresh(
        server, client["client_id"], tokens["refresh_token"], resource="http://127.0.0.1:1/x"
    )
    assert response.json()["error"] == "invalid_target"
    # A refused refresh does not rotate: the same token still works afterwards.
    assert refresh(server, client["client_id"], tokens["refresh_token"]).status_code == 200


def test_refused_widening_does_not_burn_the_refresh_token(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"], scope="notes:read")
    widened = refresh(
        server, client["client_id"], tokens["refresh_token"], scope="notes:read notes:write"
    )
    assert widened.json()["error"] == "invalid_scope"
    assert refresh(server, client["client_id"], tokens["refresh_token"]).status_code == 200


def test_refresh_token_of_another_client_is_refused(server: AuthServer) -> None:
    owner = server.register()
    thief = server.register()
    tokens = server.tokens_via_forms(owner["client_id"])
    assert refresh(server, thief["client_id"], tokens["refresh_token"]).json()["error"] == (
        "invalid_grant"
    )
    # The owner's token still works: a foreign presentation is not a reuse of the owner's token.
    assert refresh(server, owner["client_id"], tokens["refresh_token"]).status_code == 200


def test_no_refresh_token_without_the_registered_grant(server: AuthServer) -> None:
    client = server.register(grant_types=["authorization_code"])
    tokens = server.tokens_via_forms(client["client_id"], scope="notes:read offline_access")
    assert "refresh_token" not in tokens
    assert tokens["scope"] == "notes:read offline_access"  # accepted as a scope, no effect


def test_offline_access_is_never_required_for_a_refresh_token(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"], scope="notes:read")
    assert tokens["refresh_token"]


def test_introspection_needs_the_bearer_secret(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"])
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
        response = server.http.post(
            "/introspect", data={"token": tokens["access_token"]}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Bearer")
    active = introspect(server, tokens["access_token"]).json()
    assert active["active"] is True
    assert active["aud"] == RESOURCE
    assert active["client_id"] == client["client_id"]
    assert active["sub"] == "alice"
    assert active["iss"] == server.base_url


def test_introspection_is_refused_when_no_secret_is_configured(start_server) -> None:
    server = start_server()
    response = server.http.post(
        "/introspect", data={"token": "x"}, headers={"Authorization": "Bearer anything"}
    )
    assert response.status_code == 401
    assert "none is configured" in response.json()["error_description"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_introspection_of_junk_is_inactive(server: AuthServer, token: str) -> None:
    assert introspect(server, token).json() == {"active": False}


def test_revoking_an_access_token(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"])
    response = server.http.post(
        "/revoke", data={"token": tokens["access_token"], "client_id": client["client_id"]}
    )
    assert response.status_code == 200
    assert introspect(server, tokens["access_token"]).json() == {"active": False}
    assert refresh(server, client["client_id"], tokens["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_revokes_its_grant(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"])
    response = server.http.post(
        "/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": client["client_id"],
        },
    )
    assert response.status_code == 200
    assert refresh(server, client["client_id"], tokens["refresh_token"]).json()["error"] == (
        "invalid_grant"
    )
    assert introspect(server, tokens["access_token"]).json() == {"active": False}


def test_revoke_unknown_token_is_200_and_other_clients_tokens_are_refused(
    server: AuthServer,
) -> None:
    owner = server.register()
    other = server.register()
    tokens = server.tokens_via_forms(owner["client_id"])
    unknown = server.http.post("/revoke", data={"token": "nope", "client_id": owner["client_id"]})
    assert unknown.status_code == 200
    foreign = server.http.post(
        "/revoke", data={"token": tokens["refresh_token"], "client_id": other["client_id"]}
    )
    assert foreign.status_code == 400
    assert refresh(server, owner["client_id"], tokens["refresh_token"]).status_code == 200


def test_revoke_requires_client_authentication(server: AuthServer) -> None:
    confidential = server.register(token_endpoint_auth_method="client_secret_post")
    response = server.http.post(
        "/revoke", data={"token": "x", "client_id": confidential["client_id"]}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
