"""Metadata and JWKS, and a second app on the same database file still verifying earlier tokens."""

from authorization_server.as_toolbox import AuthServer
from joserfc import jwt
from joserfc.jwk import KeySet


def test_metadata_advertises_exactly_what_is_implemented(server: AuthServer) -> None:
    response = server.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    meta = response.json()
    base = server.base_url
    assert meta["issuer"] == base  # no trailing slash added or removed
    assert meta["authorization_endpoint"] == f"{base}/authorize"
    assert meta["token_endpoint"] == f"{base}/token"
    assert meta["registration_endpoint"] == f"{base}/register"
    assert meta["jwks_uri"] == f"{base}/jwks"
    assert meta["revocation_endpoint"] == f"{base}/revoke"
    assert meta["introspection_endpoint"] == f"{base}/introspect"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == [
        "none",
        "client_secret_basic",
        "client_secret_post",
    ]
    assert meta["scopes_supported"] == [
        "notes:read",
        "notes:write",
        "notes:delete",
        "offline_access",
    ]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["client_id_metadata_document_supported"] is True  # CIMD §5 (docs/cimd.md)


def test_jwks_publishes_public_keys_only(server: AuthServer) -> None:
    (key,) = server.http.get("/jwks").json()["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256"
    assert key["kid"]
    assert "d" not in key


def test_health(server: AuthServer) -> None:
    response = server.http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["issuer"] == server.base_url
    assert body["signing_key"] == server.http.get("/jwks").json()["keys"][0]["kid"]


def test_a_second_app_on_the_same_database_keeps_tokens_valid(start_server) -> None:
    first = start_server(introspection_secret="s")
    client = first.register()
    tokens = first.tokens_via_forms(client["client_id"])
    jwks_before = first.http.get("/jwks").json()

    # Same database file (same tmp data_dir); the issuer string is kept identical so that the
    # tokens' iss stays valid, as after a restart.
    second = start_server(introspection_secret="s", issuer=first.settings.issuer)
    assert second.http.get("/jwks").json() == jwks_before
    keys = KeySet.import_key_set(second.http.get("/jwks").json())
    assert jwt.decode(tokens["access_token"], keys, algorithms=["ES256"]).claims["sub"] == "alice"
    active = second.http.post(
        "/introspect", data={"token": tokens["access_token"]}, headers={"Authorization": "Bearer s"}
    ).json()
    assert active["active"] is True
    # The registration and the refresh grant survive too.
    refreshed = second.token(
        {
            "grant_type": "refresh_token",
            "client_id": client["client_id"],
            "refresh_token": tokens["refresh_token"],
        }
    )
    assert refreshed.status_code == 200, refreshed.text
