"""/introspect remembers a token's checked signature (verified_tokens.py) and nothing else: an
active answer once given does not outlive the token's revocation (RFC 7662 §2.2), its expiry
(RFC 7519 §4.1.4), a change of the AS's keys, or a change of a single byte of the token."""

from __future__ import annotations

import time

import pytest
from authorization_server.as_toolbox import RESOURCE, AuthServer
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlmodel import select
from starlette.responses import JSONResponse

from demo_as.db import now
from demo_as.introspection import IntrospectionResponse
from demo_as.jwt_access_tokens import AccessTokenClaims, mint_access_token
from demo_as.models import SigningKey
from demo_as.verified_tokens import VerifiedTokens, active_answer, verified_token

SECRET = "rs-secret"


@pytest.fixture
def server(start_server) -> AuthServer:
    return start_server(introspection_secret=SECRET)


def introspect(server: AuthServer, token: str) -> dict:
    response = server.http.post(
        "/introspect", data={"token": token}, headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def issued(server: AuthServer) -> tuple[dict, dict]:
    client = server.register()
    return client, server.tokens_via_forms(client["client_id"])


def test_a_remembered_token_is_inactive_at_once_when_revoked(server: AuthServer) -> None:
    client, tokens = issued(server)
    assert introspect(server, tokens["access_token"])["active"] is True
    assert introspect(server, tokens["access_token"])["active"] is True  # from memory
    response = server.http.post(
        "/revoke", data={"token": tokens["access_token"], "client_id": client["client_id"]}
    )
    assert response.status_code == 200
    assert introspect(server, tokens["access_token"]) == {"active": False}


def test_a_revocation_by_another_process_shows_at_once(start_server) -> None:
    """Two servers on one database: the first remembers the token, the second revokes its grant
    (RFC 7009 §2.1, a refresh token's revocation), the first answers inactive on the next call."""
    first = start_server(introspection_secret=SECRET)
    second = start_server(introspection_secret=SECRET)
    client, tokens = issued(first)
    assert introspect(first, tokens["access_token"])["active"] is True
    response = second.http.post(
        "/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": client["client_id"],
        },
    )
    assert response.status_code == 200
    assert introspect(first, tokens["access_token"]) == {"active": False}


def test_a_remembered_token_is_inactive_once_expired(start_server) -> None:
    server = start_server(introspection_secret=SECRET, access_token_ttl=3)
    _client, tokens = issued(server)
    keys = KeySet.import_key_set(server.http.get("/jwks").json())
    expires = jwt.decode(tokens["access_token"], keys, algorithms=["ES256"]).claims["exp"]
    assert introspect(server, tokens["access_token"])["active"] is True
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    assert introspect(server, tokens["access_token"]) == {"active": False}


def test_only_the_same_bytes_are_remembered(server: AuthServer) -> None:
    """A remembered token with another signature (same header and claims) is checked in full."""
    _client, tokens = issued(server)
    token = tokens["access_token"]
    assert introspect(server, token)["active"] is True
    header, claims, signature = token.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert introspect(server, f"{header}.{claims}.{flipped}") == {"active": False}
    assert introspect(server, token + " ") == {"active": False}
    assert introspect(server, token)["active"] is True


def test_a_token_signed_by_an_unknown_key_is_inactive(server: AuthServer) -> None:
    client, tokens = issued(server)
    assert introspect(server, tokens["access_token"])["active"] is True
    stranger = ECKey.generate_key("P-256", auto_kid=True)
    claims = AccessTokenClaims(
        server.base_url, "alice", RESOURCE, client["client_id"], ["notes:read"], now(), 300
    )
    forged, _jti = mint_access_token(claims, stranger)
    assert introspect(server, forged) == {"active": False}


def test_new_keys_end_what_the_old_ones_verified(server: AuthServer) -> None:
    """The stored keys change (here: ours is deleted, another added) and a token names the new
    one: the process reloads its keys, and a token it remembered is checked again with them."""
    client, tokens = issued(server)
    assert introspect(server, tokens["access_token"])["active"] is True
    replacement = ECKey.generate_key("P-256", auto_kid=True)
    with server.db() as db:
        for row in db.exec(select(SigningKey)).all():
            db.delete(row)
        db.add(
            SigningKey(
                kid=replacement.kid,
                private_jwk=replacement.as_dict(private=True),
                created_at=now(),
            )
        )
        db.commit()
    time.sleep(1.1)  # key_cache.VerificationKeys reloads at most once a second
    claims = AccessTokenClaims(
        server.base_url, "alice", RESOURCE, client["client_id"], ["notes:read"], now(), 300
    )
    named, _jti = mint_access_token(claims, replacement)
    assert introspect(server, named) == {"active": False}  # never issued: no record of its jti
    assert introspect(server, tokens["access_token"]) == {"active": False}


def rendered(claims: dict) -> bytes:
    """What the route answered before: the response model through Starlette's JSONResponse."""
    model = IntrospectionResponse(
        active=True, username=claims["sub"], token_type="Bearer", **claims
    )
    return JSONResponse(model.model_dump(exclude_none=True)).body


def test_the_answer_is_what_the_response_model_renders() -> None:
    claims = {
        "iss": "http://as",
        "sub": "alice",
        "aud": RESOURCE,
        "client_id": "c1",
        "scope": "notes:read notes:write",
        "iat": 1700000000,
        "nbf": 1700000000,
        "exp": 1700000300,
        "jti": "abc",
    }
    assert active_answer(claims) == rendered(claims)
    del claims["nbf"], claims["scope"]
    assert active_answer(claims) == rendered(claims)


def _entry(keys: KeySet, expires_at: int, valid_from: int = 0):
    claims = {"iss": "i", "sub": "s", "exp": expires_at, "iat": valid_from, "jti": "j"}
    return verified_token(claims, keys, fingerprint="sha256:0123456789abcdef")


def test_the_time_window_is_checked_as_joserfc_does() -> None:
    entry = _entry(KeySet([]), expires_at=200, valid_from=100)
    assert [entry.active_at(t) for t in (99, 100, 199, 200)] == [False, True, True, False]


def test_memory_misses_for_other_keys_and_stays_within_its_bytes() -> None:
    keys, reloaded = KeySet([]), KeySet([])
    memory = VerifiedTokens(max_bytes=20_000)
    memory.put("t0", _entry(keys, expires_at=10**10), at=0)
    assert memory.get("t0", keys) is not None
    assert memory.get("t0", reloaded) is None
    assert memory.get("t0", keys) is None  # dropped, not kept for the old keys
    for i in range(500):
        memory.put(f"t{i}", _entry(keys, expires_at=10**10), at=0)
    assert 0 < len(memory) < 500 and memory.bytes_used <= memory.max_bytes
    assert memory.get("t499", keys) is not None and memory.get("t0", keys) is None


def test_expired_entries_leave_first() -> None:
    keys = KeySet([])
    memory = VerifiedTokens()
    memory.put("old", _entry(keys, expires_at=50), at=0)
    memory.put("new", _entry(keys, expires_at=500), at=100)
    assert memory.get("old", keys) is None and memory.get("new", keys) is not None
