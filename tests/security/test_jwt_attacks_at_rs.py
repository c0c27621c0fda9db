"""Forged and misused JWT access tokens presented to the resource server (RFC 9068 §4,
RFC 8725 JWT best current practices, RFC 6750 §2-§3, RFC 8707, MCP authorization §Token Handling).

The tokens are made with joserfc. Where an attack needs a *valid signature* (expired, wrong
audience, wrong issuer, wrong typ), it is signed with the AS's real private key, read from the AS's
database, so the only thing wrong is the thing under test. Each forged token tries to create a
note; the RS must answer ``401`` with ``WWW-Authenticate: Bearer error="invalid_token"`` and the
notes table must be untouched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx2
import pytest
import sqlalchemy
from harness.db_rows import unchanged
from harness.mcp_raw import call_tool, headers, open_session, tool_call, tool_result
from harness.oauth_flow import issue_tokens
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def as_signing_key(stack) -> ECKey:
    """The AS's real ES256 private key, straight from its database."""
    with stack.engine.connect() as conn:
        jwk = conn.execute(sqlalchemy.text("SELECT private_jwk FROM signingkey")).scalars().first()
    return ECKey.import_key(json.loads(jwk) if isinstance(jwk, str) else jwk)


def claims(stack, client_id: str, **overrides: object) -> dict:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": stack.as_url,
        "sub": "alice",
        "aud": stack.resource,
        "client_id": client_id,
        "scope": "notes:read notes:write notes:delete",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key, claim_set: dict, alg: str = "ES256", **header: object) -> str:
    protected = {"alg": alg, "typ": "at+jwt", "kid": key.kid, **header}
    return jwt.encode(protected, claim_set, key, algorithms=[alg])


def unsigned(header: dict, claim_set: dict, signature: bytes = b"") -> str:
    """Assemble a compact JWS by hand (libraries rightly refuse to make the broken ones)."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claim_set).encode())
    return f"{head}.{body}.{b64url(signature)}"


@pytest.fixture
def victim(stack, http):
    """An honest client with a real token (``notes:read notes:write``) and an open MCP session,
    so every attack below would have written a note had the RS accepted it."""
    client, _request, tokens = issue_tokens(
        http, stack.as_url, stack.resource, scope="notes:read notes:write"
    )
    session_id = open_session(http, stack.resource, tokens["access_token"])
    created = call_tool(
        http,
        stack.resource,
        tokens["access_token"],
        session_id,
        "create_note",
        {"title": "control", "body": "the honest token works"},
    )
    assert tool_result(created).get("isError") is not True
    return {
        "client_id": client["client_id"],
        "token": tokens["access_token"],
        "session": session_id,
    }


def refused_at_rs(stack, http: httpx2.Client, victim: dict, token: str) -> httpx2.Response:
    """The forged token tries to create a note in the victim's session: 401 invalid_token, and
    the notes database is unchanged."""
    with unchanged(stack.notes_engine):
        response = http.post(
            stack.resource,
            json=tool_call("create_note", {"title": "forged", "body": "should not exist"}),
            headers=headers(token, victim["session"]),
        )
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge, "RFC 9728 §5.1: point the client to the PRM"
    return response


def test_rs_refuses_alg_none(stack, http, victim) -> None:
    """RFC 8725 §2.1/§3.1, RFC 9068 §4: an unsigned token (``alg: none``) is never accepted."""
    key = as_signing_key(stack)
    token = unsigned(
        {"alg": "none", "typ": "at+jwt", "kid": key.kid}, claims(stack, victim["client_id"])
    )
    refused_at_rs(stack, http, victim, token)


def test_rs_refuses_hs256_signed_with_the_public_key(stack, http, victim) -> None:
    """RFC 8725 §2.1 / §3.1 (algorithm confusion): HMAC "signed" with the AS's *public* key,
    which anyone can fetch from /jwks; a verifier trusting the header's alg would accept it."""
    key = as_signing_key(stack)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
    body = claims(stack, victim["client_id"])
    for secret in (
        key.as_pem(private=False),
        json.dumps(key.as_dict(private=False)).encode(),
    ):
        head_b = b64url(json.dumps(header).encode())
        body_b = b64url(json.dumps(body).encode())
        mac = hmac.new(secret, f"{head_b}.{body_b}".encode(), hashlib.sha256).digest()
        refused_at_rs(stack, http, victim, f"{head_b}.{body_b}.{b64url(mac)}")


def test_rs_refuses_unknown_kid(stack, http, victim) -> None:
    """RFC 7515 §4.1.4 / RFC 8725 §3.10: a key id the AS never published (even after the RS
    refetches the JWKS) means the token is not the AS's."""
    attacker = ECKey.generate_key("P-256", parameters={"kid": "attacker-key-1"})
    refused_at_rs(stack, http, victim, sign(attacker, claims(stack, victim["client_id"])))


def test_rs_refuses_attacker_key_behind_the_real_kid(stack, http, victim) -> None:
    """RFC 7515 §10.3: the ``kid`` only selects a key; an attacker's signature under the AS's
    ``kid`` fails verification against the AS's key."""
    real = as_signing_key(stack)
    attacker = ECKey.generate_key("P-256", parameters={"kid": real.kid})
    refused_at_rs(stack, http, victim, sign(attacker, claims(stack, victim["client_id"])))


def test_rs_refuses_embedded_jwk_header(stack, http, victim) -> None:
    """RFC 8725 §3.10 / RFC 7515 §4.1.3: keys come from the AS's JWKS, never from the token's own
    ``jwk`` (or ``jku``) header, which the attacker controls."""
    attacker = ECKey.generate_key("P-256", parameters={"kid": "embedded"})
    token = sign(
        attacker,
        claims(stack, victim["client_id"]),
        jwk=attacker.as_dict(private=False),
        jku="http://127.0.0.1:1/attacker-jwks",
    )
    refused_at_rs(stack, http, victim, token)


def test_rs_refuses_rs256_with_an_attacker_rsa_key(stack, http, victim) -> None:
    """RFC 8725 §3.1: only the algorithm the AS uses (ES256) is accepted; an RS256 token made with
    the attacker's RSA key under the AS's kid is refused before any key lookup."""
    real = as_signing_key(stack)
    attacker = RSAKey.generate_key(2048, parameters={"kid": real.kid})
    refused_at_rs(stack, http, victim, sign(attacker, claims(stack, victim["client_id"]), "RS256"))


def test_rs_refuses_tampered_payload(stack, http, victim) -> None:
    """RFC 7515 §5.2: the signature covers the payload. A real AS token whose scope is widened to
    ``notes:delete`` (signature kept) is refused."""
    head, payload, signature = victim["token"].split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["scope"] = "notes:read notes:write notes:delete"
    forged = f"{head}.{b64url(json.dumps(decoded).encode())}.{signature}"
    refused_at_rs(stack, http, victim, forged)


def test_rs_refuses_expired_token(stack, http, victim) -> None:
    """RFC 7519 §4.1.4 / RFC 9068 §4: "on or after" ``exp`` (beyond a small clock leeway) the
    token is dead, even with a valid signature."""
    past = int(time.time()) - 3600
    body = claims(stack, victim["client_id"], iat=past - 300, nbf=past - 300, exp=past)
    refused_at_rs(stack, http, victim, sign(as_signing_key(stack), body))


def test_rs_refuses_not_yet_valid_token(stack, http, victim) -> None:
    """RFC 7519 §4.1.5: a token with ``nbf`` in the future (beyond leeway) is not yet valid."""
    future = int(time.time()) + 3600
    body = claims(stack, victim["client_id"], nbf=future, exp=future + 300)
    refused_at_rs(stack, http, victim, sign(as_signing_key(stack), body))


def test_rs_refuses_wrong_audience(stack, http, victim) -> None:
    """RFC 8707 §2 / RFC 9068 §4 / MCP "MUST validate that access tokens were issued specifically
    for them": a real-key token for another resource (same host, other path) is refused."""
    body = claims(stack, victim["client_id"], aud=stack.other_resource)
    refused_at_rs(stack, http, victim, sign(as_signing_key(stack), body))


def test_rs_refuses_a_real_token_issued_for_another_resource(stack, http, victim) -> None:
    """MCP security best practices "Token passthrough": a token the real AS issued, through the
    real flow, for another resource must not work here."""
    _client, _request, tokens = issue_tokens(
        http, stack.as_url, stack.other_resource, scope="notes:read notes:write"
    )
    refused_at_rs(stack, http, victim, tokens["access_token"])


def test_rs_refuses_wrong_issuer(stack, http, victim) -> None:
    """RFC 9068 §4: the ``iss`` claim must exactly match the AS's issuer; signed by the right key
    but claiming another issuer, the token is refused."""
    body = claims(stack, victim["client_id"], iss="http://127.0.0.1:9/evil-issuer")
    refused_at_rs(stack, http, victim, sign(as_signing_key(stack), body))


def test_rs_refuses_issuer_with_trailing_slash(stack, http, victim) -> None:
    """RFC 9068 §4 / RFC 8414 §3.3: issuers compare byte-for-byte; ``…/`` is another issuer."""
    body = claims(stack, victim["client_id"], iss=stack.as_url + "/")
    refused_at_rs(stack, http, victim, sign(as_signing_key(stack), body))


def test_rs_refuses_wrong_typ(stack, http, victim) -> None:
    """RFC 9068 §4 / RFC 8725 §3.11: ``typ`` must be ``at+jwt``; a plain ``JWT`` (say, an ID
    token signed by the same key) is not an access token."""
    body = claims(stack, victim["client_id"])
    refused_at_rs(stack, http, victim, sign(as_signing_key(stack), body, typ="JWT"))


def test_rs_refuses_token_without_exp(stack, http, victim) -> None:
    """RFC 9068 §2.2: ``exp`` is REQUIRED; a token that never expires is refused."""
    body = claims(stack, victim["client_id"], exp=None)
    refused_at_rs(stack, http, victim, sign(as_signing_key(stack), body))


def test_rs_refuses_token_in_query_string(stack, http, victim) -> None:
    """OAuth 2.1 §5.1 / RFC 6750 §2.3 / MCP "Access tokens MUST NOT be included in the URI query
    string" (they end up in logs and Referer headers): refused with 400 invalid_request even when
    the token itself is valid, and nothing is written."""
    with unchanged(stack.notes_engine):
        response = http.post(
            stack.resource,
            params={"access_token": victim["token"]},
            json=tool_call("create_note", {"title": "via query", "body": "x"}),
            headers=headers(None, victim["session"]),
        )
    assert response.status_code == 400, response.text
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def test_rs_refuses_missing_token_with_a_discovery_challenge(stack, http, victim) -> None:
    """RFC 6750 §3 / RFC 9728 §5.1 / MCP authorization: no token is 401 with a Bearer challenge
    naming the PRM URL, so a client can discover the AS; no error code (RFC 6750 §3.1)."""
    with unchanged(stack.notes_engine):
        response = http.post(
            stack.resource,
            json=tool_call("create_note", {"title": "anonymous", "body": "x"}),
            headers=headers(None, victim["session"]),
        )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and "resource_metadata=" in challenge
    assert "error=" not in challenge
