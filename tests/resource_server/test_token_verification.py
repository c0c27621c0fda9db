"""Token verification against a loopback AS double serving a real JWKS (test ES256 key)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time

import anyio
import pytest
from harness.rs_test_rig import INTROSPECTION_SECRET, FakeAuthorizationServer, new_signing_key
from joserfc import jwt
from joserfc.jwk import RSAKey
from serving import bind_loopback_socket, serve_on_socket, socket_base_url

from scoped_tools_server.as_metadata import internal_url
from scoped_tools_server.introspection import IntrospectionTokenVerifier
from scoped_tools_server.jwks import JwksCache
from scoped_tools_server.token_errors import (
    AuthServerUnavailable,
    BadSignature,
    InactiveToken,
    MalformedToken,
    MissingClaim,
    TokenExpired,
    TokenNotYetValid,
    TokenRejected,
    UnknownSigningKey,
    UnsupportedAlgorithm,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from scoped_tools_server.token_verification import JwtTokenVerifier, VerifiedToken

RESOURCE = "http://127.0.0.1:8000/mcp"


@pytest.fixture(autouse=True)
def _resource_is_ours(fake_as: FakeAuthorizationServer) -> None:
    """Tokens are minted for RESOURCE unless a test says otherwise."""
    fake_as.resource = RESOURCE


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verifier_for(fake_as: FakeAuthorizationServer, **kwargs: float) -> JwtTokenVerifier:
    keys = JwksCache(
        fake_as.issuer, fake_as.issuer, min_refetch_seconds=kwargs.pop("min_refetch", 0)
    )
    return JwtTokenVerifier(keys, issuer=fake_as.issuer, resource_url=RESOURCE, leeway=30)


def verify(verifier: JwtTokenVerifier, token: str) -> VerifiedToken:
    return anyio.run(verifier.verify, token)


def rejected(verifier: JwtTokenVerifier, token: str) -> TokenRejected:
    with pytest.raises(TokenRejected) as caught:
        verify(verifier, token)
    return caught.value


def test_a_good_token_is_accepted(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    token = fake_as.mint(scope="notes:read notes:write", sub="alice", client_id="c-9")
    verified = verify(verifier, token)
    assert verified.subject == "alice"
    assert verified.client_id == "c-9"
    assert verified.scopes == {"notes:read", "notes:write"}
    assert verified.issuer == fake_as.issuer
    assert verified.expires_at == fake_as.minted[token]["exp"]


def test_aud_may_be_a_list_containing_us(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    assert verify(verifier, fake_as.mint(aud=["http://other/mcp", RESOURCE])).subject == "alice"


def test_expired_token(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    error = rejected(verifier, fake_as.mint(exp=int(time.time()) - 31))
    assert isinstance(error, TokenExpired)
    assert error.description == "The access token expired"


def test_expiry_within_the_leeway_is_tolerated(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    assert verify(verifier, fake_as.mint(exp=int(time.time()) - 5)).subject == "alice"


def test_not_yet_valid(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    error = rejected(verifier, fake_as.mint(nbf=int(time.time()) + 120))
    assert isinstance(error, TokenNotYetValid)


def test_wrong_audience(fake_as: FakeAuthorizationServer) -> None:
    """RFC 8707 §2 / RFC 9068 §4: the token must name this resource (byte for byte)."""
    verifier = verifier_for(fake_as)
    for aud in ("http://127.0.0.1:8000", "http://127.0.0.1:8000/mcp/", "http://127.0.0.1:9/mcp"):
        error = rejected(verifier, fake_as.mint(aud=aud))
        assert isinstance(error, WrongAudience)
        assert error.description == (
            f"The access token's audience ['{aud}'] does not include '{RESOURCE}'"
        )


def test_other_issuer(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    for iss in ("http://evil.example", fake_as.issuer + "/"):
        error = rejected(verifier, fake_as.mint(iss=iss))
        assert isinstance(error, WrongIssuer)
        assert error.description == (
            f"The access token was issued by '{iss}', not by '{fake_as.issuer}'"
        )


def test_alg_none_is_refused(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    header = {"alg": "none", "typ": "at+jwt", "kid": fake_as.key.kid}
    claims = fake_as.claims()
    token = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."
    error = rejected(verifier, token)
    assert isinstance(error, UnsupportedAlgorithm)
    assert error.description == "The access token's alg 'none' is not accepted; only ES256 is"


@pytest.mark.parametrize("secret_form", ["pem", "jwk"])
def test_hs256_signed_with_the_public_key_is_refused(
    fake_as: FakeAuthorizationServer, secret_form: str
) -> None:
    """RFC 8725 §2.1/§3.1, the classic key-confusion attack: HMAC keyed with the AS's *public*
    key (as PEM, or as its published JWK), which anyone can fetch from /jwks."""
    verifier = verifier_for(fake_as)
    public = fake_as.key
    secret = (
        public.as_pem(private=False)
        if secret_form == "pem"
        else json.dumps(public.as_dict(private=False)).encode()
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": fake_as.key.kid}
    signing_input = (
        f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(fake_as.claims()).encode())}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    error = rejected(verifier, f"{signing_input}.{b64url(signature)}")
    assert isinstance(error, UnsupportedAlgorithm)
    assert error.description == "The access token's alg 'HS256' is not accepted; only ES256 is"


def test_rs256_with_an_attacker_rsa_key_behind_the_real_kid_is_refused(
    fake_as: FakeAuthorizationServer,
) -> None:
    """RFC 8725 §3.1: only the algorithm the AS uses (ES256) is accepted, before any key lookup."""
    verifier = verifier_for(fake_as)
    attacker = RSAKey.generate_key(2048, parameters={"kid": fake_as.key.kid})
    header = {"alg": "RS256", "typ": "at+jwt", "kid": fake_as.key.kid}
    token = jwt.encode(header, fake_as.claims(), attacker, algorithms=["RS256"])
    assert isinstance(rejected(verifier, token), UnsupportedAlgorithm)


def test_a_key_embedded_in_the_token_is_not_trusted(fake_as: FakeAuthorizationServer) -> None:
    """RFC 8725 §3.10 / RFC 7515 §4.1.2-3: keys come from the AS's JWKS, never from the token's
    own ``jwk`` or ``jku`` header, which the attacker controls."""
    verifier = verifier_for(fake_as)
    attacker = new_signing_key()
    token = fake_as.mint(
        key=attacker,
        header={"jwk": attacker.as_dict(private=False), "jku": "http://127.0.0.1:1/jwks"},
    )
    error = rejected(verifier, token)
    assert isinstance(error, UnknownSigningKey)
    assert error.description == (
        f"The access token is signed with key '{attacker.kid}', which the authorization "
        "server does not publish"
    )


def test_tampered_payload(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    header, _, signature = fake_as.mint(scope="notes:read").split(".")
    forged_claims = fake_as.claims(scope="notes:read notes:write notes:delete")
    forged = f"{header}.{b64url(json.dumps(forged_claims).encode())}.{signature}"
    error = rejected(verifier, forged)
    assert isinstance(error, BadSignature)
    assert error.description == "The access token's signature does not verify"


def test_signature_by_an_unpublished_key_with_a_published_kid(
    fake_as: FakeAuthorizationServer,
) -> None:
    verifier = verifier_for(fake_as)
    impostor = new_signing_key()
    token = fake_as.mint(key=impostor, header={"kid": fake_as.key.kid})
    assert isinstance(rejected(verifier, token), BadSignature)


@pytest.mark.parametrize("typ", ["JWT", "jwt", None, "id_token+jwt"])
def test_wrong_typ(fake_as: FakeAuthorizationServer, typ: str | None) -> None:
    verifier = verifier_for(fake_as)
    token = fake_as.mint(header={"typ": typ} if typ else {"typ": "JWT"})
    error = rejected(verifier, token)
    assert isinstance(error, WrongTokenType)
    assert error.description == (
        f"The access token's typ '{typ or 'JWT'}' is not at+jwt (RFC 9068 section 4)"
    )


def test_application_at_jwt_typ_is_accepted(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as)
    assert verify(verifier, fake_as.mint(header={"typ": "application/at+jwt"})).subject == "alice"


@pytest.mark.parametrize("claim", ["sub", "client_id", "exp", "iat", "jti", "aud", "iss"])
def test_required_claims(fake_as: FakeAuthorizationServer, claim: str) -> None:
    verifier = verifier_for(fake_as)
    assert isinstance(rejected(verifier, fake_as.mint(**{claim: None})), MissingClaim)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "eyJhbGciOiJFUzI1NiJ9.e30"])
def test_garbage_is_malformed(fake_as: FakeAuthorizationServer, garbage: str) -> None:
    verifier = verifier_for(fake_as)
    assert isinstance(rejected(verifier, garbage), MalformedToken | UnsupportedAlgorithm)


def test_unknown_kid_triggers_one_refetch_then_rotated_keys_work(
    fake_as: FakeAuthorizationServer,
) -> None:
    verifier = verifier_for(fake_as)
    verify(verifier, fake_as.mint())
    assert fake_as.jwks_requests == 1
    verify(verifier, fake_as.mint())
    assert fake_as.jwks_requests == 1  # cached
    fake_as.rotate()
    verify(verifier, fake_as.mint())
    assert fake_as.jwks_requests == 2  # refetched for the new kid


def test_refetching_for_unknown_kids_is_rate_limited(fake_as: FakeAuthorizationServer) -> None:
    verifier = verifier_for(fake_as, min_refetch=3600)
    verify(verifier, fake_as.mint())
    stranger = new_signing_key()
    for _ in range(5):
        assert isinstance(rejected(verifier, fake_as.mint(key=stranger)), UnknownSigningKey)
    assert fake_as.jwks_requests == 1


def test_unreachable_as_is_unavailable_not_invalid() -> None:
    keys = JwksCache("http://127.0.0.1:9", "http://127.0.0.1:9", min_refetch_seconds=0)
    verifier = JwtTokenVerifier(keys, issuer="http://127.0.0.1:9", resource_url=RESOURCE)
    token = FakeAuthorizationServer(issuer="http://127.0.0.1:9", resource=RESOURCE).mint()
    with pytest.raises(AuthServerUnavailable):
        verify(verifier, token)


def test_metadata_with_another_issuer_is_not_trusted(fake_as: FakeAuthorizationServer) -> None:
    keys = JwksCache(fake_as.issuer + "/", fake_as.issuer, min_refetch_seconds=0)
    verifier = JwtTokenVerifier(keys, issuer=fake_as.issuer + "/", resource_url=RESOURCE)
    with pytest.raises(AuthServerUnavailable, match="RFC 8414"):
        verify(verifier, fake_as.mint(iss=fake_as.issuer + "/"))


def test_internal_url_rewrites_only_urls_under_the_issuer() -> None:
    issuer = "http://127.0.0.1:9000"
    assert internal_url(f"{issuer}/jwks", issuer, "http://as:9000") == "http://as:9000/jwks"
    assert internal_url("http://keys.example/jwks", issuer, "http://as:9000") == (
        "http://keys.example/jwks"
    )
    assert internal_url(f"{issuer}/jwks", issuer, None) == f"{issuer}/jwks"


def introspect(
    fake_as: FakeAuthorizationServer, token: str, secret: str = INTROSPECTION_SECRET
) -> VerifiedToken:
    verifier = IntrospectionTokenVerifier(
        issuer=fake_as.issuer, as_base_url=fake_as.issuer, secret=secret, resource_url=RESOURCE
    )

    async def run() -> VerifiedToken:
        try:
            return await verifier.verify(token)
        finally:
            await verifier.aclose()

    return anyio.run(run)


def test_introspection_accepts_an_active_token(fake_as: FakeAuthorizationServer) -> None:
    token = fake_as.mint(scope="notes:read notes:write")
    verified = introspect(fake_as, token)
    assert verified.scopes == {"notes:read", "notes:write"}
    assert fake_as.introspection_requests[-1]["authorization"] == f"Bearer {INTROSPECTION_SECRET}"
    assert fake_as.introspection_requests[-1]["token"] == token


def test_the_introspection_endpoint_comes_from_the_as_metadata(
    fake_as: FakeAuthorizationServer,
) -> None:
    """RFC 8414 §2 ``introspection_endpoint``, discovered like ``jwks_uri`` (not a fixed path)."""
    fake_as.introspection_path = "/oauth2/introspect"
    assert introspect(fake_as, fake_as.mint()).subject == "alice"
    assert [r["path"] for r in fake_as.introspection_requests] == ["/oauth2/introspect"]


def test_introspection_treats_inactive_as_invalid(fake_as: FakeAuthorizationServer) -> None:
    token = fake_as.mint()
    fake_as.revoked.add(token)
    with pytest.raises(InactiveToken):
        introspect(fake_as, token)


def test_introspection_still_checks_audience_and_issuer(fake_as: FakeAuthorizationServer) -> None:
    with pytest.raises(WrongAudience):
        introspect(fake_as, fake_as.mint(aud="http://other/mcp"))
    with pytest.raises(WrongIssuer):
        introspect(fake_as, fake_as.mint(iss="http://evil.example"))


def test_introspection_with_a_wrong_secret_is_unavailable(fake_as: FakeAuthorizationServer) -> None:
    with pytest.raises(AuthServerUnavailable):
        introspect(fake_as, fake_as.mint(), secret="wrong")


def test_the_rs_may_start_before_the_as() -> None:
    """Keys are fetched lazily; a failed first fetch does not wait out the refetch rate limit."""
    sock = bind_loopback_socket()  # bound, not yet listening: connections are refused
    issuer = socket_base_url(sock)
    authority = FakeAuthorizationServer(issuer=issuer, resource=RESOURCE)
    authority.published.append(authority.key)
    keys = JwksCache(issuer, issuer, min_refetch_seconds=3600)
    verifier = JwtTokenVerifier(keys, issuer=issuer, resource_url=RESOURCE)
    token = authority.mint()
    with pytest.raises(AuthServerUnavailable):
        verify(verifier, token)
    with serve_on_socket(authority.app(), sock):
        assert verify(verifier, token).subject == "alice"


def test_concurrent_checks_of_one_token_share_a_call_that_started_after_each_arrived(
    fake_as: FakeAuthorizationServer,
) -> None:
    """introspection_sharing: a burst of requests with one token costs two calls, not ten; one
    that arrives while a call is in flight waits for the next, so a revocation in between
    refuses it (the answer it gets is never older than the request)."""
    fake_as.introspection_delay = 0.3
    token = fake_as.mint()
    verifier = IntrospectionTokenVerifier(
        issuer=fake_as.issuer, as_base_url=fake_as.issuer, secret=INTROSPECTION_SECRET,
        resource_url=RESOURCE,
    )  # fmt: skip
    outcomes: list[str] = []

    async def check() -> None:
        try:
            await verifier.verify(token)
            outcomes.append("accepted")
        except InactiveToken:
            outcomes.append("refused")

    async def run() -> None:
        try:
            async with anyio.create_task_group() as tasks:
                for _ in range(5):
                    tasks.start_soon(check)  # the first call: the AS judges it active
                while not fake_as.introspection_requests:
                    await anyio.sleep(0.01)
                fake_as.revoked.add(token)  # while that call is in flight
                for _ in range(5):
                    tasks.start_soon(check)  # these wait for the next call
        finally:
            await verifier.aclose()

    anyio.run(run)
    assert sorted(outcomes) == ["accepted"] * 5 + ["refused"] * 5
    assert len(fake_as.introspection_requests) == 2
    assert len(verifier._shared) == 0  # nothing kept once nobody waits


def test_an_introspection_cut_off_by_a_closing_keep_alive_connection_is_sent_again_once() -> None:
    """introspection.RETRIED_ONCE: an AS closing a pooled connection just as the request went
    out (its keep-alive timeout) is not an outage; the RS sends the request again, once, on a
    new connection. The AS here is a raw loopback server that does exactly that once."""
    posts: list[bytes] = []
    issuer = ""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            if head.startswith(b"GET "):
                reply: dict[str, object] = {
                    "issuer": issuer,
                    "introspection_endpoint": f"{issuer}/introspect",
                }
            else:
                posts.append(head)
                if len(posts) == 1:
                    break  # closed with the request read and no answer sent
                reply = {"active": True, "sub": "alice", "client_id": "c1", "aud": RESOURCE,
                         "iss": issuer, "exp": int(time.time()) + 300}  # fmt: skip
            body = json.dumps(reply).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                % len(body)
                + body
            )
            await writer.drain()
        writer.close()

    async def run() -> VerifiedToken:
        nonlocal issuer
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        issuer = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        verifier = IntrospectionTokenVerifier(
            issuer=issuer, as_base_url=issuer, secret=INTROSPECTION_SECRET, resource_url=RESOURCE
        )
        try:
            return await verifier.verify("a-token")
        finally:
            await verifier.aclose()
            server.close()

    assert anyio.run(run).client_id == "c1"
    assert len(posts) == 2
