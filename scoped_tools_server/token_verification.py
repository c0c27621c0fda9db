"""Access-token validation: JWT access tokens (RFC 9068) checked locally with joserfc.

The rules are written out one function each, in the order they run, because teaching them is the
point of this server; joserfc does the cryptography (parsing the JWS, verifying the ES256
signature). Every function raises a ``TokenRejected`` subclass naming what was wrong.

Order: header rules first (alg, typ, kid), then the signature, then the claims. Nothing in the
payload is trusted before the signature verifies.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from joserfc import jws
from joserfc.errors import JoseError

from scoped_tools_server.jwks import ACCEPTED_ALGORITHM, JwksCache
from scoped_tools_server.scopes import parse_scope
from scoped_tools_server.token_errors import (
    BadSignature,
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

ACCEPTED_TOKEN_TYPES = ("at+jwt", "application/at+jwt")


@dataclass(frozen=True)
class VerifiedToken:
    """What a validated access token tells us about the caller."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    expires_at: int
    issuer: str
    audience: tuple[str, ...]
    token_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)


class TokenVerifier(Protocol):
    """Anything that turns a bearer string into a ``VerifiedToken`` or raises ``TokenRejected``
    (or ``AuthServerUnavailable``)."""

    async def verify(self, token: str) -> VerifiedToken: ...


def parse_compact_jws(token: str) -> Any:
    """RFC 7515 §7.1: three base64url parts; the protected header must be a JSON object."""
    if token.count(".") != 2:
        raise MalformedToken("The access token is not a JWT (expected three dot-separated parts)")
    try:
        return jws.extract_compact(token.encode("ascii"))
    except (JoseError, ValueError, TypeError, UnicodeError) as exc:
        raise MalformedToken() from exc


def check_algorithm(header: dict[str, Any]) -> None:
    """RFC 8725 §3.1 (use only algorithms you expect) and RFC 9068 §4: our AS signs ES256, so
    ``none``, every HMAC algorithm (the RSA/EC public key is no secret) and anything else is refused
    before a key is even looked up."""
    alg = header.get("alg")
    if alg != ACCEPTED_ALGORITHM:
        raise UnsupportedAlgorithm(
            f"The access token's alg {alg!r} is not accepted; only {ACCEPTED_ALGORITHM} is"
        )


def check_token_type(header: dict[str, Any]) -> None:
    """RFC 9068 §4: "Resource servers MUST verify that the typ header value is "at+jwt" or
    "application/at+jwt" and reject tokens carrying any other value" (an ID token is not an access
    token, RFC 8725 §3.11)."""
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TOKEN_TYPES:
        raise WrongTokenType(f"The access token's typ {typ!r} is not at+jwt (RFC 9068 section 4)")


def key_id(header: dict[str, Any]) -> str:
    """RFC 7515 §4.1.4: ``kid`` picks the verification key from the AS's JWKS."""
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedToken("The access token's header has no kid")
    return kid


def decode_claims(payload: bytes) -> dict[str, Any]:
    """RFC 7519 §7.2 step 10: the payload is a JSON object."""
    try:
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedToken("The access token's payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise MalformedToken("The access token's payload is not a JSON object")
    return claims


def require_claims(claims: dict[str, Any]) -> None:
    """RFC 9068 §2.2: ``iss``, ``exp``, ``aud``, ``sub``, ``client_id``, ``iat`` and ``jti`` are
    REQUIRED; the string ones must be strings, the dates numbers."""
    for name in ("iss", "sub", "client_id", "jti"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise MissingClaim(f"The access token lacks the {name} claim (RFC 9068 section 2.2)")
    for name in ("exp", "iat"):
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MissingClaim(
                f"The access token lacks a numeric {name} claim (RFC 9068 section 2.2)"
            )
    if "aud" not in claims:
        raise MissingClaim("The access token lacks the aud claim (RFC 9068 section 2.2)")
    if "scope" in claims and not isinstance(claims["scope"], str):
        raise MalformedToken(
            "The access token's scope claim is not a string (RFC 9068 section 2.2.3)"
        )


def check_issuer(claims: dict[str, Any], expected_issuer: str) -> None:
    """RFC 9068 §4: "The issuer identifier for the authorization server ... MUST exactly match the
    value of the iss claim." Byte-for-byte: ``http://h:9000`` and ``http://h:9000/`` differ."""
    if claims.get("iss") != expected_issuer:
        raise WrongIssuer(
            f"The access token was issued by {claims.get('iss')!r}, not by {expected_issuer!r}"
        )


def audiences(claims: dict[str, Any]) -> tuple[str, ...]:
    """RFC 7519 §4.1.3: ``aud`` is a string or an array of strings."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and all(isinstance(item, str) for item in aud):
        return tuple(aud)
    raise MalformedToken("The access token's aud claim is neither a string nor a list of strings")


def check_audience(claims: dict[str, Any], resource_url: str) -> None:
    """RFC 9068 §4 and RFC 8707 §2, MCP Authorization (2026-07-28) §Token Handling: "MCP servers
    MUST validate that access tokens were issued specifically for them as the intended audience".
    The comparison is exact against our canonical resource URL (MCP Authorization §Canonical Server
    URI): a token for another resource on the same host is not ours."""
    if resource_url not in audiences(claims):
        raise WrongAudience(
            f"The access token's audience {list(audiences(claims))!r} does not include "
            f"{resource_url!r}"
        )


def check_time_window(claims: dict[str, Any], now: float, leeway: int) -> None:
    """RFC 7519 §4.1.4: reject "on or after" ``exp``; §4.1.5: reject before ``nbf``. A small
    ``leeway`` absorbs clock skew between AS and RS (RFC 7519 §4.1.4 "some small leeway")."""
    if now >= float(claims["exp"]) + leeway:
        raise TokenExpired()
    nbf = claims.get("nbf")
    if nbf is not None:
        if isinstance(nbf, bool) or not isinstance(nbf, int | float):
            raise MalformedToken("The access token's nbf claim is not a number")
        if now + leeway < float(nbf):
            raise TokenNotYetValid()


def signed_client_id(claims: dict[str, Any]) -> str | None:
    """The ``client_id`` of a token whose signature verified although a later check failed: the
    AS really issued it to that client (the lab attributes the refusal; nothing is granted)."""
    client_id = claims.get("client_id")
    return client_id if isinstance(client_id, str) else None


def verified_token_from_claims(claims: dict[str, Any]) -> VerifiedToken:
    """Package validated claims; ``scope`` is RFC 9068 §2.2.3 / RFC 8693 §4.2 space-delimited."""
    return VerifiedToken(
        subject=claims["sub"],
        client_id=claims["client_id"],
        scopes=parse_scope(claims.get("scope")),
        expires_at=int(claims["exp"]),
        issuer=claims["iss"],
        audience=audiences(claims),
        token_id=claims.get("jti"),
        claims=claims,
    )


# Memory the verified-token cache may use. At ~2.5 KiB per entry (a token from our AS, measured
# in tests/resource_server/test_token_verification_cache.py) that is ~13,000 distinct live tokens:
# far more than a workshop holds at once, and a fixed ceiling however many tokens are presented.
DEFAULT_CACHE_BYTES = 32 * 1024 * 1024

# What an OrderedDict entry costs besides its key and value: the hash-table slot and the node of
# its doubly linked order list (CPython 3.11, 64-bit).
_ORDERED_DICT_ENTRY_BYTES = 104


def deep_size(value: Any) -> int:
    """Bytes of ``value`` and of everything it holds (str, numbers, containers, dataclasses):
    ``sys.getsizeof`` summed over the object graph of a decoded token's claims."""
    seen: set[int] = set()
    pending = [value]
    total = 0
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        elif hasattr(item, "__dict__"):
            pending.append(vars(item))
    return total


class VerifiedTokenCache:
    """A memory of tokens that already passed every check, so a client sending the same token on
    every request pays for one ES256 verification, not one per request (the signature check was
    ~15 % of the server's CPU per call; see bench/results.md).

    Bounded by bytes, not by a count: each entry is charged what it really holds (``deep_size``
    of the key and the ``VerifiedToken``), and the least recently used entries leave once the
    total passes ``max_bytes``. Entries whose token has expired are dropped as soon as they are
    seen (on a hit, or when they reach the old end of the order), so dead tokens do not crowd out
    live ones.

    Keyed by the token's SHA-256, so no bearer token is kept in memory. Only the signature and the
    static claim checks are skipped on a hit: the time window (RFC 7519 §4.1.4/§4.1.5) is checked
    again on every request, so an expired token is refused exactly as before. Trade-off: a cached
    token stays accepted until it expires even if the AS stops publishing its key; JWT validation
    never sees revocation anyway (use ``--token-check introspect`` for that). Only verified tokens
    are stored: a flood of forged tokens costs a full check each and cannot fill the cache.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes_used = 0
        self._entries: OrderedDict[bytes, tuple[VerifiedToken, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def get(self, token: str) -> VerifiedToken | None:
        key = self._key(token)
        hit = self._entries.get(key)
        if hit is None:
            return None
        self._entries.move_to_end(key)
        return hit[0]

    def put(self, token: str, verified: VerifiedToken, now: float | None = None) -> None:
        key = self._key(token)
        self.discard_key(key)
        size = deep_size(key) + deep_size(verified) + _ORDERED_DICT_ENTRY_BYTES
        if size > self.max_bytes:
            return
        self._entries[key] = (verified, size)
        self.bytes_used += size
        self._evict(time.time() if now is None else now)

    def discard(self, token: str) -> None:
        self.discard_key(self._key(token))

    def discard_key(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes_used -= entry[1]

    def _evict(self, now: float) -> None:
        """Oldest first: expired entries, then whatever brings the total under the budget."""
        while self._entries:
            oldest_key, (oldest, _size) = next(iter(self._entries.items()))
            if self.bytes_used <= self.max_bytes and oldest.expires_at > now:
                return
            self.discard_key(oldest_key)


class JwtTokenVerifier:
    """Validates RFC 9068 JWT access tokens with the AS's JWKS (``--token-check jwt``)."""

    def __init__(
        self,
        keys: JwksCache,
        *,
        issuer: str,
        resource_url: str,
        leeway: int = 30,
        clock: Callable[[], float] = time.time,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.resource_url = resource_url
        self.leeway = leeway
        self._clock = clock
        self._verified = VerifiedTokenCache(cache_bytes)

    async def verify(self, token: str) -> VerifiedToken:
        cached = self._verified.get(token)
        if cached is not None:
            try:
                check_time_window(cached.claims, self._clock(), self.leeway)
            except TokenRejected as reason:
                reason.client_id = cached.client_id
                if isinstance(reason, TokenExpired):
                    self._verified.discard(token)
                raise
            return cached
        verified = await self._verify_uncached(token)
        self._verified.put(token, verified, now=self._clock() - self.leeway)
        return verified

    async def _verify_uncached(self, token: str) -> VerifiedToken:
        compact = parse_compact_jws(token)
        header = compact.headers()
        check_algorithm(header)
        check_token_type(header)
        kid = key_id(header)
        key = await self.keys.key_for(kid)
        if key is None:
            raise UnknownSigningKey(
                f"The access token is signed with key {kid!r}, which the authorization server "
                "does not publish"
            )
        try:
            valid = jws.validate_compact(compact, key, algorithms=[ACCEPTED_ALGORITHM])
        except JoseError as exc:
            raise BadSignature() from exc
        if not valid:
            raise BadSignature()
        claims = decode_claims(compact.payload)
        try:
            require_claims(claims)
            check_issuer(claims, self.issuer)
            check_audience(claims, self.resource_url)
            check_time_window(claims, self._clock(), self.leeway)
        except TokenRejected as reason:
            reason.client_id = signed_client_id(claims)
            raise
        return verified_token_from_claims(claims)
