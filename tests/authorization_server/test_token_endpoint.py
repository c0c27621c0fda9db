"""The token endpoint: code redemption rules, PKCE, replay revocation, client authentication."""

import base64

import pytest
from authorization_server.as_toolbox import RESOURCE, AuthServer
from harness.oauth_flow import REDIRECT_URI
from harness.oauth_flow import introspect as ask_the_as
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import update

from demo_as.db import secret_hash
from demo_as.models import AuthorizationCode


def redeem(server: AuthServer, client_id: str, the_code: str, verifier: str, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": the_code,
        "code_verifier": verifier,
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "resource": RESOURCE,
    }
    data.update(extra)
    return server.token({k: v for k, v in data.items() if v is not None})


def introspect(server: AuthServer, token: str) -> dict:
    return ask_the_as(server.base_url, token, "rs-secret")


@pytest.fixture
def rs_server(start_server) -> AuthServer:
    return start_server(introspection_secret="rs-secret")


def test_access_token_is_an_rfc9068_jwt_verifiable_with_jwks(server: AuthServer) -> None:
    client = server.register()
    code, verifier = server.code_via_forms(client["client_id"], scope="notes:read notes:write")
    response = redeem(server, client["client_id"], code, verifier)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    keys = KeySet.import_key_set(server.http.get("/jwks").json())
    token = jwt.decode(body["access_token"], keys, algorithms=["ES256"])
    assert token.header["typ"] == "at+jwt"
    assert token.header["alg"] == "ES256"
    assert token.header["kid"] == keys.keys[0].kid
    claims = token.claims
    assert claims["iss"] == server.base_url  # byte-identical to the metadata issuer
    assert (
        claims["iss"] == server.http.get("/.well-known/oauth-authorization-server").json()["issuer"]
    )
    assert claims["aud"] == RESOURCE
    assert claims["sub"] == "alice"
    assert claims["client_id"] == client["client_id"]
    assert claims["scope"] == "notes:read notes:write"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]


def test_redirect_uri_and_resource_may_be_omitted_at_the_token_endpoint(
    server: AuthServer,
) -> None:
    client = server.register()
    code, verifier = server.code_via_forms(client["client_id"])
    response = redeem(server, client["client_id"], code, verifier, redirect_uri=None, resource=None)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"code_verifier": None}, "invalid_request"),
        ({"redirect_uri": "http://127.0.0.1:33418/other"}, "invalid_grant"),
        ({"resource": "http://127.0.0.1:8000/other"}, "invalid_target"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"code": None}, "invalid_request"),
    ],
)
def test_code_bindings_are_checked(server: AuthServer, change: dict, error: str) -> None:
    client = server.register()
    code, verifier = server.code_via_forms(client["client_id"])
    response = redeem(server, client["client_id"], code, verifier, **change)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    # A refused attempt does not burn the code for its rightful owner.
    assert redeem(server, client["client_id"], code, verifier).status_code == 200


def test_code_is_bound_to_its_client(server: AuthServer) -> None:
    victim = server.register()
    attacker = server.register()
    code, verifier = server.code_via_forms(victim["client_id"])
    response = redeem(server, attacker["client_id"], code, verifier)
    assert response.json()["error"] == "invalid_grant"


def test_expired_code_is_refused(server: AuthServer) -> None:
    client = server.register()
    code, verifier = server.code_via_forms(client["client_id"])
    with server.db() as db:
        db.exec(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == secret_hash(code))
            .values(expires_at=0)
        )
        db.commit()
    response = redeem(server, client["client_id"], code, verifier)
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "authorization code expired",
    }


def test_codes_are_stored_hashed(server: AuthServer) -> None:
    client = server.register()
    code, _verifier = server.code_via_forms(client["client_id"])
    with server.db() as db:
        assert db.get(AuthorizationCode, secret_hash(code)) is not None
        assert db.get(AuthorizationCode, code) is None


def test_code_replay_is_refused_and_revokes_what_it_issued(rs_server: AuthServer) -> None:
    server = rs_server
    client = server.register()
    code, verifier = server.code_via_forms(client["client_id"])
    first = redeem(server, client["client_id"], code, verifier).json()
    assert introspect(server, first["access_token"])["active"] is True

    replay = redeem(server, client["client_id"], code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"

    assert introspect(server, first["access_token"]) == {"active": False}
    refresh = server.token(
        {
            "grant_type": "refresh_token",
            "client_id": client["client_id"],
            "refresh_token": first["refresh_token"],
        }
    )
    assert refresh.json()["error"] == "invalid_grant"


def test_replay_with_a_wrong_verifier_does_not_revoke(rs_server: AuthServer) -> None:
    """OAuth 2.1 §7.5.3: only a replay that would otherwise be valid revokes (no DoS lever)."""
    server = rs_server
    client = server.register()
    code, verifier = server.code_via_forms(client["client_id"])
    first = redeem(server, client["client_id"], code, verifier).json()
    assert redeem(server, client["client_id"], code, "y" * 43).json()["error"] == "invalid_grant"
    assert introspect(server, first["access_token"])["active"] is True


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_confidential_clients_authenticate_by_their_registered_method(
    server: AuthServer, method: str
) -> None:
    client = server.register(token_endpoint_auth_method=method)
    secret = client["client_secret"]
    code, verifier = server.code_via_forms(client["client_id"])
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    if method == "client_secret_basic":
        ok = server.token(data, headers={"Authorization": basic(client["client_id"], secret)})
    else:
        ok = server.token({**data, "client_id": client["client_id"], "client_secret": secret})
    assert ok.status_code == 200, ok.text


def test_wrong_secret_with_basic_is_401_with_www_authenticate(server: AuthServer) -> None:
    client = server.register(token_endpoint_auth_method="client_secret_basic")
    code, verifier = server.code_via_forms(client["client_id"])
    response = server.token(
        {"grant_type": "authorization_code", "code": code, "code_verifier": verifier},
        headers={"Authorization": basic(client["client_id"], "wrong")},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("registered", "presented"),
    [
        ("client_secret_basic", "none"),
        ("client_secret_basic", "client_secret_post"),
        ("client_secret_post", "client_secret_basic"),
        ("none", "client_secret_post"),
    ],
)
def test_a_different_auth_method_than_registered_is_invalid_client(
    server: AuthServer, registered: str, presented: str
) -> None:
    client = server.register(token_endpoint_auth_method=registered)
    secret = client.get("client_secret", "made-up")
    code, verifier = server.code_via_forms(client["client_id"])
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    headers = {}
    if presented == "client_secret_basic":
        headers["Authorization"] = basic(client["client_id"], secret)
    elif presented == "client_secret_post":
        data |= {"client_id": client["client_id"], "client_secret": secret}
    else:
        data["client_id"] = client["client_id"]
    response = server.token(data, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_two_auth_methods_at_once_are_refused(server: AuthServer) -> None:
    client = server.register(token_endpoint_auth_method="client_secret_basic")
    response = server.token(
        {
            "grant_type": "authorization_code",
            "code": "c",
            "code_verifier": "v" * 43,
            "client_secret": client["client_secret"],
        },
        headers={"Authorization": basic(client["client_id"], client["client_secret"])},
    )
    assert response.json()["error"] == "invalid_request"


def test_unknown_client_is_invalid_client(server: AuthServer) -> None:
    response = server.token(
        {
            "grant_type": "authorization_code",
            "client_id": "nobody",
            "code": "c",
            "code_verifier": "v" * 43,
        }
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ],
)
def test_grant_type_problems(server: AuthServer, data: dict, error: str) -> None:
    response = server.token(data)
    assert response.status_code == 400
    assert response.json()["error"] == error
