"""The step-up story: the rounds of DESIGN.md, narrated, and checked.

Each round (`Round`: title, rule, step, session) states the rule it demonstrates, runs real MCP
calls through the step-up auth, and then checks the events it produced against what the rule
says must happen. `run_story` returns True only if every round that ran behaved as expected, so
the story doubles as an end-to-end test.

Rounds: 1 list_notes (401 → authorize notes:read), 2 create_note (403 notes:write → union →
authorize), 3 delete_note (403 notes:delete → union → authorize), 4 the access token expires
(refresh before the call, rotation, reuse detection); these share one MCP session. Then the
"what if" rounds, each in a new session of its own: 5 the user grants only part of the request
(InsufficientScopeError at the retry cap, not a loop), 6 throw mode (InsufficientScopeError
without authorizing), 7 the user denies consent (access_denied, read only after the iss check).
Rounds 5 and 7 need the consent page; against an AS that approves automatically they are
skipped with the reason.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import httpx2

from demo_client import settings as defaults
from demo_client.authorizer import Authorizer, ClientIdentity
from demo_client.errors import AuthorizationDeniedError, InsufficientScopeError, TokenError
from demo_client.events import Event, EventKind, fingerprint
from demo_client.mcp_session import http_client, session
from demo_client.narration import Narrator
from demo_client.rounds import Expect, Round
from demo_client.step_up import InsufficientScopePolicy, StepUpAuth
from demo_client.tokens import refresh_tokens
from demo_client.user_agents import BrowserUserAgent, ConsentChoice, HeadlessUserAgent, UserAgent

READ, WRITE, DELETE = "notes:read", "notes:write", "notes:delete"
AUTO_APPROVE_HINT = (
    "is the authorization server approving automatically (DEMO_AS_AUTO_APPROVE=true, "
    "demo-as --auto-approve)? Then no consent page is shown and the user cannot choose"
)


class SimulatedClock:
    """The client's clock. Round 4 moves it past the token's expiry instead of waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


@dataclass
class StoryOptions:
    server_url: str
    browser: bool = False
    browser_timeout: float = defaults.DEFAULT_BROWSER_TIMEOUT
    callback_port: int = defaults.DEFAULT_CALLBACK_PORT
    username: str = defaults.DEFAULT_USERNAME
    password: str = defaults.DEFAULT_PASSWORD
    max_step_up_retries: int = defaults.DEFAULT_MAX_STEP_UP_RETRIES
    on_insufficient_scope: InsufficientScopePolicy = "reauthorize"
    client_metadata_url: str | None = None  # CIMD: offered when the AS advertises support


class Story:
    def __init__(self, options: StoryOptions, narrator: Narrator, oauth_http: httpx2.AsyncClient):
        self.o = options
        self.n = narrator
        self.clock = SimulatedClock()
        narrator.clock = self.clock.now
        self.http = oauth_http
        self.first_agent = self.user_agent(ConsentChoice())
        self.authorizer = Authorizer(
            options.server_url,
            http=oauth_http,
            user_agent=self.first_agent,
            identity=ClientIdentity(
                callback_port=options.callback_port,
                client_metadata_url=options.client_metadata_url,
            ),
            observer=narrator,
            clock=self.clock.now,
        )
        self.auth = self.new_auth()
        self.mcp: Any = None  # the session the main rounds share
        self.note_id: int | None = None
        self.partial_tokens = None

    def user_agent(self, consent: ConsentChoice) -> UserAgent:
        if self.o.browser:
            return BrowserUserAgent(timeout=self.o.browser_timeout, announce=self.n.note)
        # One cookie jar for all rounds (an AS may skip the login page on later rounds).
        return HeadlessUserAgent(
            username=self.o.username, password=self.o.password, consent=consent, http=self.http
        )

    def new_auth(self, **kwargs: Any) -> StepUpAuth:
        return StepUpAuth(self.authorizer, observer=self.n, clock=self.clock.now, **kwargs)

    def consent_skipped_reason(self) -> str | None:
        """Why rounds that need the consent page cannot run, if they cannot: the headless
        agent went through round 1's authorization without seeing a consent page."""
        agent = self.first_agent
        if isinstance(agent, HeadlessUserAgent) and "consent" not in agent.pages_seen:
            return (
                "the authorization server approved round 1 without showing a consent page "
                "(DEMO_AS_AUTO_APPROVE=true, demo-as --auto-approve), so the user cannot "
                "untick a scope or deny"
            )
        return None

    async def call(self, mcp: Any, tool: str, arguments: dict[str, Any]) -> Any:
        self.n.call(tool, arguments)
        result = await mcp.call_tool(tool, arguments)
        if result.is_error:
            text = " ".join(getattr(b, "text", "") for b in result.content)
            raise RuntimeError(f"{tool} returned a tool error: {text}")
        shown = result.structured_content or " ".join(
            getattr(b, "text", "") for b in result.content
        )
        self.n.note(f"result: {shown}")
        return result

    # -- the main rounds, in one MCP session ---------------------------------------------
    async def round_1(self, x: Expect) -> None:
        await self.call(self.mcp, "list_notes", {})
        challenges = x.challenges(401)
        x.that(bool(challenges), "no 401 challenge was seen")
        x.that(
            bool(challenges) and challenges[0]["scope"] == [READ],
            "the 401 challenge did not ask for notes:read",
        )
        x.that(len(x.requested()) == 1, f"expected one authorization, saw {len(x.requested())}")
        x.that(x.requested()[:1] and READ in x.requested()[0], "notes:read was not requested")
        x.that(x.statuses("list_notes")[-1:] == [200], "list_notes did not succeed")

    async def round_2(self, x: Expect) -> None:
        result = await self.call(
            self.mcp, "create_note", {"title": "hello", "body": "from round 2"}
        )
        self.note_id = (result.structured_content or {}).get("id")
        x.that(x.statuses("create_note")[:1] == [403], "create_note was not first refused with 403")
        unions = x.of(EventKind.SCOPE_UNION)
        # An RS in `--challenge-scope cumulative` mode names granted ∪ required (the 2025-11-25
        # advice); the default per-operation mode names just notes:write (SEP-2350). Both must work.
        x.that(
            len(unions) == 1 and WRITE in unions[0]["challenged"],
            "no union with a challenge naming notes:write",
        )
        x.that(bool(unions) and unions[0]["strict_superset"], "union was not a strict superset")
        x.that(
            x.requested()[-1:] and {READ, WRITE} <= set(x.requested()[-1]),
            "read+write not both requested",
        )
        x.that(x.statuses("create_note")[-1:] == [200], "create_note did not succeed after step-up")
        x.that(self.note_id is not None, "create_note returned no id")

    async def round_3(self, x: Expect) -> None:
        await self.call(self.mcp, "delete_note", {"note_id": self.note_id})
        x.that(x.statuses("delete_note")[:1] == [403], "delete_note was not first refused with 403")
        x.that(
            x.requested()[-1:] and {READ, WRITE, DELETE} <= set(x.requested()[-1]),
            "all three scopes were not requested",
        )
        x.that(x.statuses("delete_note")[-1:] == [200], "delete_note did not succeed after step-up")
        x.that(not x.of(EventKind.REGISTRATION), "the client registered again instead of reusing")

    async def round_4(self, x: Expect) -> None:
        tokens = self.auth.tokens
        assert tokens is not None and tokens.expires_at is not None
        old = tokens
        skip = tokens.expires_at - self.clock.now() + 1
        self.clock.offset += skip
        self.n.clock_label = "on the story's simulated clock"
        self.n.note(
            f"(simulated) the client's clock jumps {skip:.0f} s ahead, past the access token's "
            "expiry; times shown from here on are on that clock"
        )
        await self.call(self.mcp, "whoami", {})
        refreshes = [d for d in x.of(EventKind.TOKENS) if d["how"] == "refresh_token"]
        x.that(bool(x.of(EventKind.TOKEN_EXPIRED)), "the expired token was not noticed in time")
        x.that(len(refreshes) == 1, "no refresh happened before the call")
        x.that(bool(refreshes) and refreshes[0]["rotated"], "the refresh token was not rotated")
        x.that(not x.challenges(401), "the expired token was sent anyway (401 seen)")
        x.that(not x.requested(), "a full authorization happened instead of a refresh")
        # Proof of rotation: the AS now refuses the old refresh token (OAuth 2.1 §4.3.1) ...
        for label, presented in (("old", old), ("current", self.auth.tokens)):
            refused = await self.present_refresh_token_again(label, presented)
            # ... and, since a rotated token came back, revokes the whole grant (reuse detection).
            x.that(
                refused is not None and refused.error == "invalid_grant",
                f"{label} refresh token not refused",
            )

    async def present_refresh_token_again(self, label: str, presented: Any) -> TokenError | None:
        metadata, registration = self.authorizer.as_metadata, self.authorizer.registration
        assert metadata is not None and registration is not None
        reason = f"the {label} refresh token presented again"
        try:
            await refresh_tokens(
                self.http,
                metadata.token_endpoint,
                registration,
                presented,
                self.authorizer.resource,
            )
        except TokenError as refused:
            self.n(
                Event(
                    EventKind.REFRESH_REFUSED,
                    {
                        "error": refused.error,
                        "description": refused.description,
                        "reason": reason,
                        "refresh_token": fingerprint(presented.refresh_token),
                    },
                )
            )
            return refused
        self.n.note(f"{reason}: {fingerprint(presented.refresh_token)} ACCEPTED")
        return None

    # -- the what-if rounds, each in its own session --------------------------------------
    async def round_5(self, x: Expect) -> None:
        partial = ConsentChoice(mode="some", scopes=[READ, "offline_access"])
        self.authorizer.user_agent = self.user_agent(partial)
        self.n.note(
            "a new MCP session with no token, as if the application had just started: the "
            "server answers 401 again and the client authorizes from scratch"
        )
        if self.o.browser:
            self.n.note("In the browser: approve notes:read, but UNTICK notes:write.")
        else:
            self.n.note(
                "on the consent page the user leaves notes:read ticked and UNTICKS notes:write"
            )
        auth = self.new_auth(
            max_step_up_retries=self.o.max_step_up_retries,
            on_insufficient_scope=self.o.on_insufficient_scope,
        )
        error = await self.expect_error(auth, "create_note", {"title": "t", "body": "b"})
        self.partial_tokens = auth.tokens
        reauth = self.o.on_insufficient_scope == "reauthorize" and self.o.max_step_up_retries > 0
        attempts = self.o.max_step_up_retries if reauth else 0
        granted_write = any(WRITE in g for g in x.granted())
        x.that(
            not granted_write,
            f"notes:write was granted although the user unticked it: {AUTO_APPROVE_HINT}",
        )
        if granted_write:
            return
        x.that(
            isinstance(error, InsufficientScopeError),
            f"expected InsufficientScopeError, got {error!r}",
        )
        if isinstance(error, InsufficientScopeError):
            x.that(WRITE in error.required_scope, "the error does not name notes:write")
            x.that(error.resource_metadata is not None, "the error lacks the resource_metadata URL")
            x.that(error.attempts == attempts, f"{error.attempts} step-ups, expected {attempts}")
        x.that(
            len(x.requested()) == 1 + attempts,
            f"{len(x.requested())} authorizations, expected {1 + attempts}",
        )

    async def round_6(self, x: Expect) -> None:
        if self.partial_tokens is not None:
            self.n.note("a new MCP session that starts with round 5's token (no notes:write)")
        else:
            self.n.note("a new MCP session with no token: the client first authorizes notes:read")
        self.authorizer.user_agent = self.user_agent(ConsentChoice())
        auth = self.new_auth(on_insufficient_scope="throw", tokens=self.partial_tokens)
        error = await self.expect_error(auth, "create_note", {"title": "t", "body": "b"})
        x.that(
            isinstance(error, InsufficientScopeError),
            f"expected InsufficientScopeError, got {error!r}",
        )
        x.that(
            not any(WRITE in requested for requested in x.requested()),
            "throw mode authorized notes:write anyway",
        )
        x.that(
            isinstance(error, InsufficientScopeError) and error.attempts == 0,
            "attempts should be 0",
        )

    async def round_7(self, x: Expect) -> None:
        self.authorizer.user_agent = self.user_agent(ConsentChoice(mode="deny"))
        self.n.note(
            "a new MCP session with no token again, so the 401 starts a new authorization; "
            "this time the user refuses it"
        )
        if self.o.browser:
            self.n.note("In the browser: press Deny.")
        else:
            self.n.note("on the consent page the user presses Deny")
        error = await self.expect_error(self.new_auth(), "list_notes", {})
        x.that(
            isinstance(error, AuthorizationDeniedError),
            f"expected access_denied, got {error!r}"
            + ("" if error is not None else f": {AUTO_APPROVE_HINT}"),
        )
        x.that(
            getattr(error, "error", None) == "access_denied", "the AS did not answer access_denied"
        )

    async def expect_error(
        self, auth: StepUpAuth, tool: str, arguments: dict[str, Any]
    ) -> Exception | None:
        try:
            async with session(self.o.server_url, auth) as mcp:
                await self.call(mcp, tool, arguments)
        except Exception as exc:  # the round's checks decide whether it was the right one
            if not isinstance(exc, InsufficientScopeError):  # already narrated as an event
                self.n.note(f"raised {type(exc).__name__}: {exc}")
            return exc
        return None


ROUNDS: list[Round] = [
    Round(
        "list_notes with no token",
        "401 → discover (RFC 9728) → authorize the challenged scope (SEP-835)",
        Story.round_1,
        "shared",
    ),
    Round(
        "create_note needs more",
        "403 insufficient_scope → union(requested, granted, challenged) (SEP-2350) → authorize",
        Story.round_2,
        "shared",
    ),
    Round(
        "delete_note needs more",
        "same rule again: the union keeps read and write while adding delete",
        Story.round_3,
        "shared",
    ),
    Round(
        "the access token expires",
        "refresh before the call (OAuth 2.1 §4.3); rotation and reuse detection (§4.3.1)",
        Story.round_4,
        "shared",
    ),
    Round(
        "what if the user grants only part?",
        "retry cap (MCP: clients SHOULD implement retry limits) → InsufficientScopeError, no loop",
        Story.round_5,
        "own",
        needs_consent=True,
    ),
    Round(
        "what if the client is in throw mode?",
        "on_insufficient_scope=throw → InsufficientScopeError without authorizing",
        Story.round_6,
        "own",
    ),
    Round(
        "what if the user denies?",
        "error read only after state and iss checks (RFC 9207 §2.4) → access_denied",
        Story.round_7,
        "own",
        needs_consent=True,
    ),
]


async def run_story(options: StoryOptions, narrator: Narrator) -> bool:
    failed: list[str] = []
    skipped: list[str] = []
    async with http_client(timeout=30.0) as oauth_http, contextlib.AsyncExitStack() as shared:
        story = Story(options, narrator, oauth_http)
        for number, this in enumerate(ROUNDS, start=1):
            label = f"round {number}"
            narrator.start_round(number, this.title, this.rule)
            reason = story.consent_skipped_reason() if this.needs_consent else None
            if reason:
                narrator.skipped(f"{label} skipped: {reason}")
                skipped.append(label)
                continue
            expect = Expect(narrator.events)
            try:
                if this.session == "shared" and story.mcp is None:
                    narrator.note("connecting to the MCP server with no token")
                    story.mcp = await shared.enter_async_context(
                        session(options.server_url, story.auth)
                    )
                await this.step(story, expect)
            except Exception as exc:
                expect.problems.append(f"{type(exc).__name__}: {exc}")
                if this.session == "shared":
                    # The rounds after it build on this session's tokens: they cannot run.
                    narrator.result(False, f"{label} failed; the story stops here", expect.problems)
                    failed.append(label)
                    break
            following = ROUNDS[number] if number < len(ROUNDS) else None
            if this.session == "shared" and (following is None or following.session != "shared"):
                await shared.aclose()  # the last round of the shared session
                story.mcp = None
            ok = not expect.problems
            narrator.result(
                ok, f"{label} behaved as expected" if ok else f"{label} did not", expect.problems
            )
            if not ok:
                failed.append(label)
    narrator.summary(not failed, len(ROUNDS), failed, skipped)
    return not failed
