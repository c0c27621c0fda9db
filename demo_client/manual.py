"""`demo-client call TOOL key=value ...`: one tool call for manual use.

The registration and tokens are kept in a file store between runs, so a second call reuses
the registration and (while valid) the token, refreshing or stepping up only when needed. The
same narration as the story shows what happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from demo_client.authorizer import Authorizer, ClientIdentity
from demo_client.errors import DemoClientError
from demo_client.mcp_session import http_client, session
from demo_client.narration import Narrator
from demo_client.step_up import InsufficientScopePolicy, StepUpAuth
from demo_client.store import FileStore
from demo_client.tokens import TokenSet
from demo_client.user_agents import BrowserUserAgent, ConsentChoice, HeadlessUserAgent, UserAgent


@dataclass
class CallOptions:
    server_url: str
    tool: str
    arguments: list[str]
    consent: ConsentChoice
    store: Path
    browser: bool
    browser_timeout: float
    max_step_up_retries: int
    on_insufficient_scope: InsufficientScopePolicy
    callback_port: int
    username: str
    password: str


def parse_arguments(pairs: list[str]) -> dict[str, object]:
    """`key=value` pairs; a value that parses as JSON (numbers, true, objects) is used as such."""
    arguments: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"argument {pair!r} is not key=value")
        try:
            arguments[key] = json.loads(raw)
        except ValueError:
            arguments[key] = raw
    return arguments


def stored_tokens(store: FileStore, authorizer: Authorizer, narrator: Narrator) -> TokenSet | None:
    """The stored tokens for this resource, only if the authorization server discovery just
    found issued them (MCP authorization, Token Handling); discovery must have run."""
    assert authorizer.as_metadata is not None
    issuer, resource = authorizer.as_metadata.issuer, authorizer.resource
    others = [i for i in store.issuers_holding_tokens(resource) if i != issuer]
    if others:
        narrator.note(
            f"stored tokens for {resource} were issued by {', '.join(others)}, but the server "
            f"now names {issuer} as its authorization server: they are not sent"
        )
    return store.tokens(resource, issuer)


async def call_tool(options: CallOptions) -> int:
    narrator = Narrator()
    store = FileStore(options.store)
    try:
        arguments = parse_arguments(options.arguments)
    except ValueError as exc:
        narrator.result(False, str(exc))
        return 2
    async with http_client(timeout=30.0) as http:
        agent: UserAgent = (
            BrowserUserAgent(timeout=options.browser_timeout, announce=narrator.note)
            if options.browser
            else HeadlessUserAgent(
                username=options.username,
                password=options.password,
                consent=options.consent,
                http=http,
            )
        )
        authorizer = Authorizer(
            options.server_url,
            http=http,
            user_agent=agent,
            identity=ClientIdentity(callback_port=options.callback_port),
            registration_lookup=store.registration,
            on_registration=store.save_registration,
            observer=narrator,
        )

        def keep(tokens: TokenSet | None) -> None:
            if authorizer.as_metadata is not None:
                store.save_tokens(authorizer.resource, authorizer.as_metadata.issuer, tokens)

        try:
            # Discovery first (unauthenticated): which AS this server trusts decides which stored
            # tokens, if any, may be sent to it.
            await authorizer.discover()
            auth = StepUpAuth(
                authorizer,
                tokens=stored_tokens(store, authorizer, narrator),
                on_tokens=keep,
                max_step_up_retries=options.max_step_up_retries,
                on_insufficient_scope=options.on_insufficient_scope,
                observer=narrator,
            )
            async with session(options.server_url, auth) as mcp:
                narrator.call(options.tool, arguments)
                result = await mcp.call_tool(options.tool, arguments)
        except DemoClientError as exc:
            narrator.result(False, f"{type(exc).__name__}: {exc}")
            return 1
    shown = result.structured_content or " ".join(getattr(b, "text", "") for b in result.content)
    narrator.result(not result.is_error, f"{options.tool}: {shown}")
    return 1 if result.is_error else 0
