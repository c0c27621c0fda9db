"""The resource server's test rig (tests/resource_server/): ``FakeAuthorizationServer`` and
``RunningRS``.

``FakeAuthorizationServer`` is a *test double of the authorization server* for the gate and
token-verification tests: a real HTTP server on loopback that publishes AS metadata, a JWKS with
a test ES256 key, and an RFC 7662 introspection endpoint, and mints tokens with that key, so a
test can forge any claim. ``RunningRS`` is a real scoped_tools_server app served in-process and
pointed at it. End-to-end tests (``test_end_to_end.py``) use the real ``demo_as`` instead. The raw
MCP requests themselves are ``harness.mcp_raw``'s.
"""

from __future__ import annotations

import contextlib
import hmac
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scoped_tools_server.settings import Settings

from .db_rows import open_engine, unchanged

INTROSPECTION_SECRET = "test-introspection-secret"


def new_signing_key() -> ECKey:
    key = ECKey.generate_key("P-256", private=True)
    key.ensure_kid()
    return key


@dataclass
class FakeAuthorizationServer:
    """A loopback AS double. ``issuer`` is its base URL; ``resource`` is set by the RS fixture."""

    issuer: str = ""
    resource: str = "http://127.0.0.1:1/mcp"
    key: ECKey = field(default_factory=new_signing_key)
    published: list[ECKey] = field(default_factory=list)
    jwks_requests: int = 0
    metadata_requests: int = 0
    introspection_requests: list[dict[str, str]] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    minted: dict[str, dict[str, Any]] = field(default_factory=dict)
    introspection_path: str = "/introspect"  # what the metadata advertises (both paths answer)
    introspection_delay: float = 0.0  # seconds between judging a token and answering

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "alice",
            "aud": self.resource,
            "client_id": "client-1",
            "scope": "notes:read",
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(
        self,
        *,
        header: dict[str, Any] | None = None,
        key: ECKey | None = None,
        **claim_overrides: Any,
    ) -> str:
        """An access token signed with the test key (or ``key``); claims overridable, None drops."""
        signing_key = key or self.key
        claims = self.claims(**claim_overrides)
        protected = {"alg": "ES256", "typ": "at+jwt", "kid": signing_key.kid, **(header or {})}
        token = jwt.encode(protected, claims, signing_key, algorithms=["ES256"])
        self.minted[token] = claims
        return token

    def rotate(self) -> ECKey:
        """Publish a new key (keeping the old one) and sign with it from now on."""
        self.key = new_signing_key()
        self.published.append(self.key)
        return self.key

    def app(self) -> Starlette:
        async def metadata(request: Request) -> JSONResponse:
            self.metadata_requests += 1
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "jwks_uri": f"{self.issuer}/jwks",
                    "introspection_endpoint": f"{self.issuer}{self.introspection_path}",
                }
            )

        async def jwks(request: Request) -> JSONResponse:
            self.jwks_requests += 1
            return JSONResponse({"keys": [k.as_dict(private=False) for k in self.published]})

        async def introspect(request: Request) -> JSONResponse:
            form = await request.form()
            self.introspection_requests.append(
                {
                    "path": request.url.path,
                    "authorization": request.headers.get("authorization", ""),
                    **form,
                }
            )
            expected = f"Bearer {INTROSPECTION_SECRET}"
            if not hmac.compare_digest(request.headers.get("authorization", ""), expected):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            token = str(form.get("token", ""))
            claims = self.minted.get(token)
            active = bool(claims) and token not in self.revoked and claims["exp"] > time.time()
            if self.introspection_delay:
                await anyio.sleep(self.introspection_delay)
            if not active:
                return JSONResponse({"active": False})
            return JSONResponse({"active": True, "token_type": "Bearer", **claims})

        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", metadata),
                Route("/jwks", jwks),
                Route("/introspect", introspect, methods=["POST"]),
                Route("/oauth2/introspect", introspect, methods=["POST"]),
            ]
        )


@dataclass
class RunningRS:
    base_url: str
    resource_url: str
    settings: Settings
    app: Any

    @property
    def prm_url(self) -> str:
        return self.settings.resource_metadata_url

    def client(self, **kwargs: Any) -> httpx2.Client:
        return httpx2.Client(timeout=10.0, **kwargs)

    @contextlib.contextmanager
    def notes_unchanged(self) -> Iterator[None]:
        """Assert that the block writes nothing to the RS's notes database (a refused request
        has no side effect; ``harness.db_rows.unchanged``)."""
        engine = open_engine(self.settings.database_url)
        try:
            with unchanged(engine):
                yield
        finally:
            engine.dispose()
