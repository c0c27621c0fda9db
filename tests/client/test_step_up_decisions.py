"""StepUpAuth's decisions, one rule at a time. The resource server is a scripted
`httpx2.MockTransport` and the authorizer a recorder, so each case isolates one branch:
refresh versus full authorization (RFC 6749 §6), the retry cap, refresh before expiry."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import httpx2
import pytest

from demo_client.errors import InsufficientScopeError, TokenError, UnauthorizedError
from demo_client.step_up import StepUpAuth
from demo_client.tokens import TokenSet

RM = "http://rs/.well-known/oauth-protected-resource/mcp"


def tokens(
    scope: list[str], *, expires_at: float | None = None, rt: str | None = "rt1"
) -> TokenSet:
    return TokenSet(
        access_token=f"at-{'-'.join(scope)}-{rt}",
        token_type="Bearer",
        expires_at=expires_at,
        refresh_token=rt,
        scope=scope,
        requested_scope=scope,
    )


class RecordingAuthorizer:
    def __init__(
        self, *, refresh_fails: bool = False, grant: Callable[[list[str]], list[str]] = list
    ):
        self.calls: list[tuple[str, list[str]]] = []
        self.refresh_fails = refresh_fails
        self.grant = grant
        self.prm = None

    async def discover(self, resource_metadata: str | None = None) -> None:
        self.calls.append(("discover", []))

    async def ensure_registration(self) -> None:
        return None

    async def authorize(self, scopes: list[str]) -> TokenSet:
        self.calls.append(("authorize", scopes))
        return tokens(self.grant(scopes), expires_at=time.time() + 300, rt="rt-new")

    async def refresh(self, current: TokenSet, reason: str) -> TokenSet:
        self.calls.append(("refresh", current.scope))
        if self.refresh_fails:
            raise TokenError("invalid_grant", "revoked", 400)
        return tokens(current.scope, expires_at=time.time() + 300, rt=current.refresh_token + "'")


def forbidden(scope: str) -> httpx2.Response:
    return httpx2.Response(
        403,
        headers={
            "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}", '
            f'resource_metadata="{RM}"'
        },
    )


def run(auth: StepUpAuth, replies: list[httpx2.Response]) -> tuple[int, list[str | None]]:
    seen: list[str | None] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.headers.get("authorization"))
        return replies.pop(0)

    async def go() -> int:
        async with httpx2.AsyncClient(auth=auth, transport=httpx2.MockTransport(handler)) as http:
            response = await http.post(
                "http://rs/mcp", json={"method": "tools/call", "params": {"name": "t"}}
            )
            return response.status_code

    return anyio.run(go), seen


def test_a_challenge_for_already_granted_scope_tries_a_refresh_first() -> None:
    authorizer = RecordingAuthorizer()
    auth = StepUpAuth(authorizer, tokens=tokens(["notes:read"]))  # type: ignore[arg-type]
    status, seen = run(auth, [forbidden("notes:read"), httpx2.Response(200)])
    assert status == 200
    assert [c[0] for c in authorizer.calls] == ["discover", "refresh"]
    assert seen[0] != seen[1]  # the retry carried the refreshed token


def test_a_refused_refresh_falls_back_to_authorization() -> None:
    authorizer = RecordingAuthorizer(refresh_fails=True)
    auth = StepUpAuth(authorizer, tokens=tokens(["notes:read"]))  # type: ignore[arg-type]
    status, _ = run(auth, [forbidden("notes:read"), httpx2.Response(200)])
    assert status == 200
    assert [c[0] for c in authorizer.calls] == ["discover", "refresh", "authorize"]


def test_new_scope_goes_straight_to_authorization_with_the_union() -> None:
    authorizer = RecordingAuthorizer()
    auth = StepUpAuth(authorizer, tokens=tokens(["notes:read"]))  # type: ignore[arg-type]
    status, _ = run(auth, [forbidden("notes:write"), httpx2.Response(200)])
    assert status == 200
    assert authorizer.calls[1:] == [("authorize", ["notes:read", "notes:write"])]


def test_the_cap_counts_per_request_and_stops_the_loop() -> None:
    authorizer = RecordingAuthorizer(grant=lambda scopes: ["notes:read"])  # the user keeps refusing
    auth = StepUpAuth(authorizer, tokens=tokens(["notes:read"]), max_step_up_retries=2)  # type: ignore[arg-type]
    with pytest.raises(InsufficientScopeError) as caught:
        run(auth, [forbidden("notes:write")] * 3)
    assert caught.value.attempts == 2
    assert [c[0] for c in authorizer.calls].count("authorize") == 2
    assert caught.value.resource_metadata == RM


def test_expired_token_is_refreshed_before_the_request() -> None:
    authorizer = RecordingAuthorizer()
    expired = tokens(["notes:read"], expires_at=time.time() - 1)
    auth = StepUpAuth(authorizer, tokens=expired)  # type: ignore[arg-type]
    status, seen = run(auth, [httpx2.Response(200)])
    assert status == 200 and authorizer.calls == [("refresh", ["notes:read"])]
    assert (
        seen == [f"Bearer {auth.tokens.access_token}"]
        and auth.tokens.access_token != expired.access_token
    )


def test_a_second_401_after_authorizing_is_an_error_not_a_loop() -> None:
    authorizer = RecordingAuthorizer()
    auth = StepUpAuth(authorizer)  # type: ignore[arg-type]
    unauthorized = httpx2.Response(401, headers={"WWW-Authenticate": 'Bearer scope="notes:read"'})
    with pytest.raises(UnauthorizedError):
        run(auth, [unauthorized, unauthorized])
    assert [c[0] for c in authorizer.calls] == ["discover", "authorize"]
