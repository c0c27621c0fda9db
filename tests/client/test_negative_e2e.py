"""Negative end-to-end runs against real servers: a misbehaving AS and a stingy user."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import anyio
import httpx2
import pytest

from demo_client.authorizer import Authorizer
from demo_client.embedded import EmbeddedStack, embedded_stack
from demo_client.errors import InsufficientScopeError, IssuerMismatchError
from demo_client.events import Event
from demo_client.mcp_session import session
from demo_client.step_up import StepUpAuth
from demo_client.user_agents import ConsentChoice, HeadlessUserAgent


@pytest.fixture(scope="module")
def wrong_iss_stack() -> Iterator[EmbeddedStack]:
    """demo_as with iss_mode=wrong: every authorization response names another issuer."""
    with embedded_stack(iss_mode="wrong") as running:
        yield running


async def call(
    server_url: str, tool: str, consent: ConsentChoice, events: list[Event], **auth_options: object
) -> None:
    async with httpx2.AsyncClient() as http:
        agent = HeadlessUserAgent(consent=consent, http=http)
        authorizer = Authorizer(server_url, http=http, user_agent=agent, observer=events.append)
        auth = StepUpAuth(authorizer, observer=events.append, **auth_options)
        async with session(server_url, auth) as mcp:
            await mcp.call_tool(tool, {"title": "t", "body": "b"} if tool == "create_note" else {})


def test_wrong_iss_is_rejected_before_the_code_is_used(wrong_iss_stack: EmbeddedStack) -> None:
    events: list[Event] = []
    with pytest.raises(IssuerMismatchError) as caught:
        anyio.run(call, wrong_iss_stack.server_url, "list_notes", ConsentChoice(), events)
    assert caught.value.received_iss == "https://wrong-issuer.invalid"
    assert caught.value.expected_issuer == wrong_iss_stack.issuer
    # The code was never exchanged: no tokens, and the MCP server was never called with one.
    assert not [e for e in events if e.kind == "tokens"]


def test_wrong_iss_error_response_fields_are_not_shown(wrong_iss_stack: EmbeddedStack) -> None:
    """The user denies; the AS answers error=access_denied with a wrong iss. SEP-2468: the
    client must not act on or display error / error_description / error_uri."""
    events: list[Event] = []
    with pytest.raises(IssuerMismatchError) as caught:
        anyio.run(
            call, wrong_iss_stack.server_url, "list_notes", ConsentChoice(mode="deny"), events
        )
    message = str(caught.value)
    assert "access_denied" not in message and "denied" not in message
    assert all("access_denied" not in str(e.data) for e in events)


def test_partial_consent_ends_at_the_retry_cap(stack: EmbeddedStack) -> None:
    events: list[Event] = []
    with pytest.raises(InsufficientScopeError) as caught:
        anyio.run(
            call,
            stack.server_url,
            "create_note",
            ConsentChoice(mode="some", scopes=["notes:read"]),
            events,
        )
    error = caught.value
    assert error.required_scope == ["notes:write"]
    assert error.resource_metadata == stack.server_url.replace(
        "/mcp", "/.well-known/oauth-protected-resource/mcp"
    )
    assert error.error_description and error.attempts == 1
    requests = [e.data["requested"] for e in events if e.kind == "authorization_request"]
    assert (
        len(requests) == 2 and "notes:write" in requests[1]
    )  # it asked, the user refused, it stopped
    statuses = [
        e.data["status"]
        for e in events
        if e.kind == "mcp_response" and e.data["tool"] == "create_note"
    ]
    assert statuses == [403, 403]


def test_throw_mode_raises_without_authorizing_again(stack: EmbeddedStack) -> None:
    events: list[Event] = []
    with pytest.raises(InsufficientScopeError) as caught:
        anyio.run(
            partial(call, on_insufficient_scope="throw"),
            stack.server_url,
            "create_note",
            ConsentChoice(),
            events,
        )
    assert caught.value.attempts == 0 and "on_insufficient_scope is 'throw'" in str(caught.value)
    assert len([e for e in events if e.kind == "authorization_request"]) == 1  # only the 401 one
