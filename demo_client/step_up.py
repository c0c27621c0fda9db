"""Step-up authorization as an `httpx2.Auth`, plugged into the `mcp` SDK's Streamable HTTP
client transport (`streamable_http_client(url, http_client=httpx2.AsyncClient(auth=...))`).

Teaching code, hand-written on purpose (the SDK's `OAuthClientProvider` always re-authorizes;
this one shows each decision). Per request:

- 401 (RFC 6750 §3.1 `invalid_token`, or no token): discover, then refresh if a refresh token
  is held, else authorize `union(previously requested, challenged)`; retry once.
- 403 `insufficient_scope` (RFC 6750 §3.1, SEP-835): compute
  `union(previously requested, granted, challenged)` (SEP-2350). If it is a strict superset of
  the granted scope, only a new authorization can satisfy it (RFC 6749 §6: a refresh cannot
  widen scope); otherwise refresh first. At most `max_step_up_retries` step-ups per request
  (MCP: "Clients SHOULD implement retry limits"), then `InsufficientScopeError`, never a loop.
  `on_insufficient_scope="throw"` (or a cap of 0) raises at once, without authorizing.
- Before sending: an access token past its expiry is refreshed first (OAuth 2.1 §4.3).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Callable
from typing import Literal

import anyio
import httpx2

from demo_client.authorizer import Authorizer
from demo_client.errors import InsufficientScopeError, TokenError, UnauthorizedError
from demo_client.events import Event, EventKind, Observer, fingerprint, ignore
from demo_client.scopes import is_strict_superset, scope_union, select_initial_scopes
from demo_client.tokens import TokenSet
from demo_client.www_authenticate import BearerChallenge, bearer_challenge

InsufficientScopePolicy = Literal["reauthorize", "throw"]


def describe_request(request: httpx2.Request) -> dict[str, str | None]:
    """The JSON-RPC method and tool name of an MCP POST, for narration."""
    try:
        body = json.loads(request.content or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return {"method": request.method, "tool": None}
    params = body.get("params") if isinstance(body.get("params"), dict) else {}
    tool = params.get("name") if body.get("method") == "tools/call" else None
    return {"method": str(body.get("method")), "tool": tool}


class StepUpAuth(httpx2.Auth):
    requires_request_body = True

    def __init__(
        self,
        authorizer: Authorizer,
        *,
        max_step_up_retries: int = 1,
        on_insufficient_scope: InsufficientScopePolicy = "reauthorize",
        tokens: TokenSet | None = None,
        on_tokens: Callable[[TokenSet | None], None] | None = None,
        observer: Observer = ignore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_step_up_retries < 0:
            raise ValueError("max_step_up_retries must be >= 0")
        self.authorizer = authorizer
        self.max_step_up_retries = max_step_up_retries
        self.on_insufficient_scope = on_insufficient_scope
        self.tokens = tokens
        # What this client has asked for so far (SEP-2350 "previously requested scope set").
        self.requested: list[str] = list(tokens.requested_scope) if tokens else []
        self.on_tokens = on_tokens
        self.observer = observer
        self.clock = clock
        self._lock = anyio.Lock()
        self._generation = 0

    # -- token bookkeeping -------------------------------------------------------------
    def _store(self, tokens: TokenSet | None) -> None:
        self.tokens = tokens
        self._generation += 1
        if tokens is not None:
            self.requested = scope_union(self.requested, tokens.requested_scope)
        if self.on_tokens is not None:
            self.on_tokens(tokens)

    def _apply(self, request: httpx2.Request) -> None:
        """MCP authorization, Token Requirements: `Authorization: Bearer` on every request."""
        if self.tokens is not None:
            request.headers["Authorization"] = f"Bearer {self.tokens.access_token}"
        else:
            request.headers.pop("Authorization", None)

    async def _authorize(self, scopes: list[str]) -> None:
        self._store(await self.authorizer.authorize(scopes))

    async def _try_refresh(self, reason: str) -> bool:
        """Refresh if possible; on refusal (e.g. a revoked grant) drop the tokens."""
        if self.tokens is None or self.tokens.refresh_token is None:
            return False
        try:
            self._store(await self.authorizer.refresh(self.tokens, reason))
            return True
        except TokenError as exc:
            self.observer(
                Event(
                    EventKind.REFRESH_REFUSED,
                    {
                        "error": exc.error,
                        "description": exc.description,
                        "reason": f"{reason}; the tokens are dropped",
                        "refresh_token": fingerprint(self.tokens.refresh_token),
                    },
                )
            )
            self._store(None)
            return False

    async def refresh_now(self, reason: str) -> bool:
        """Refresh outside any request (the story uses it to show rotation)."""
        async with self._lock:
            await self.authorizer.discover()
            await self.authorizer.ensure_registration()
            return await self._try_refresh(reason)

    async def _refresh_if_expired(self) -> None:
        async with self._lock:
            if self.tokens is not None and self.tokens.expired(self.clock()):
                self.observer(
                    Event(EventKind.TOKEN_EXPIRED, {"expires_at": self.tokens.expires_at})
                )
                await self._try_refresh("access token expired")

    # -- the decisions -----------------------------------------------------------------
    async def _on_unauthorized(self, challenge: BearerChallenge | None, seen: int) -> None:
        async with self._lock:
            if self._generation != seen:
                return  # another request already obtained new tokens
            await self.authorizer.discover(challenge.resource_metadata if challenge else None)
            await self.authorizer.ensure_registration()
            if await self._try_refresh("401 with a held token"):
                return
            prm = self.authorizer.prm
            wanted = select_initial_scopes(
                challenge.scope if challenge else None, prm.scopes_supported if prm else None
            )
            await self._authorize(scope_union(self.requested, wanted))

    def _insufficient(
        self, challenge: BearerChallenge, attempts: int, reason: str
    ) -> InsufficientScopeError:
        error = InsufficientScopeError(
            required_scope=challenge.scope or [],
            resource_metadata=challenge.resource_metadata,
            error_description=challenge.error_description,
            attempts=attempts,
            reason=reason,
        )
        self.observer(
            Event(
                EventKind.INSUFFICIENT_SCOPE_ERROR,
                {"required": error.required_scope, "attempts": attempts, "message": str(error)},
            )
        )
        return error

    async def _on_insufficient_scope(
        self, challenge: BearerChallenge, step_ups: list[str], seen: int
    ) -> None:
        if self.on_insufficient_scope == "throw":
            raise self._insufficient(
                challenge, 0, "not re-authorizing because on_insufficient_scope is 'throw'"
            )
        if self.max_step_up_retries == 0:
            raise self._insufficient(
                challenge, 0, "not re-authorizing because max_step_up_retries is 0"
            )
        if len(step_ups) >= self.max_step_up_retries:
            raise self._insufficient(
                challenge,
                len(step_ups),
                f"still refused after {len(step_ups)} step-up attempt(s) for this request "
                f"({', '.join(step_ups)}); max_step_up_retries={self.max_step_up_retries} "
                "reached, giving up instead of looping",
            )
        async with self._lock:
            if self._generation != seen:
                step_ups.append("tokens replaced by a concurrent request")
                return
            await self.authorizer.discover(challenge.resource_metadata)
            granted = self.tokens.scope if self.tokens else []
            union = scope_union(self.requested, granted, challenge.scope)
            strict = is_strict_superset(union, granted)
            decision = "authorize" if strict or not self.tokens else "refresh"
            self.observer(
                Event(
                    EventKind.SCOPE_UNION,
                    {
                        "previously_requested": list(self.requested),
                        "granted": list(granted),
                        "challenged": challenge.scope or [],
                        "union": union,
                        "strict_superset": strict,
                        "decision": decision,
                    },
                )
            )
            if decision == "refresh" and await self._try_refresh("403 without new scopes"):
                step_ups.append("refresh")
                return
            step_ups.append("re-authorization")
            await self._authorize(union)

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        await request.aread()
        what = describe_request(request)
        await self._refresh_if_expired()
        seen = self._generation
        self._apply(request)
        response = yield request
        unauthorized_retried = False
        step_ups: list[str] = []
        while True:
            challenge = bearer_challenge(response.headers.get_list("www-authenticate"))
            self._emit_response(what, response, challenge)
            if response.status_code == 401:
                if unauthorized_retried:
                    raise UnauthorizedError(
                        "the resource server still answered 401 after a fresh authorization"
                    )
                unauthorized_retried = True
                await self._on_unauthorized(challenge, seen)
            elif response.status_code == 403 and challenge and challenge.is_insufficient_scope:
                await self._on_insufficient_scope(challenge, step_ups, seen)
            else:
                return
            seen = self._generation
            self._apply(request)
            response = yield request

    def _emit_response(
        self,
        what: dict[str, str | None],
        response: httpx2.Response,
        challenge: BearerChallenge | None,
    ) -> None:
        data: dict[str, object] = {**what, "status": response.status_code}
        if challenge is not None and response.status_code in (401, 403):
            data["challenge"] = {
                "error": challenge.error,
                "scope": challenge.scope or [],
                "resource_metadata": challenge.resource_metadata,
                "error_description": challenge.error_description,
            }
        self.observer(Event(EventKind.MCP_RESPONSE, data))
