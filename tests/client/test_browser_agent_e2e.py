"""The browser user agent's loopback listener, with a stand-in for the person at the browser:
it goes through the real AS pages (as the headless agent does) and then lets the "browser"
follow the final redirect to the listener on 127.0.0.1."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket

import anyio
import httpx2
import pytest

from demo_client.authorizer import Authorizer, ClientIdentity
from demo_client.embedded import EmbeddedStack
from demo_client.errors import UserAgentError
from demo_client.mcp_session import session
from demo_client.step_up import StepUpAuth
from demo_client.user_agents import BrowserUserAgent, HeadlessUserAgent


async def browser_session(stack: EmbeddedStack, port: int) -> tuple[str, list[str]]:
    opened: list[str] = []
    people: list[concurrent.futures.Future[None]] = []
    loop = asyncio.get_running_loop()

    async with httpx2.AsyncClient() as person_http, httpx2.AsyncClient() as http:

        async def person_at_the_browser(url: str) -> None:
            callback = await HeadlessUserAgent(http=person_http).authorize(
                url, f"http://127.0.0.1:{port}/callback"
            )
            landing = await person_http.get(callback)  # the browser arrives at the listener
            assert landing.status_code == 200 and "close this tab" in landing.text

        def opener(url: str) -> None:
            # Called in a worker thread, like a real browser launcher (which may block).
            opened.append(url)
            people.append(asyncio.run_coroutine_threadsafe(person_at_the_browser(url), loop))

        agent = BrowserUserAgent(timeout=20, announce=lambda _: None, opener=opener)
        authorizer = Authorizer(
            stack.server_url,
            http=http,
            user_agent=agent,
            identity=ClientIdentity(callback_port=port),
        )
        async with session(stack.server_url, StepUpAuth(authorizer)) as mcp:
            result = await mcp.call_tool("whoami", {})
        await asyncio.gather(*(asyncio.wrap_future(p) for p in people))
    return str(result.structured_content), opened


def test_browser_agent_receives_the_callback_on_loopback(stack: EmbeddedStack) -> None:
    with socket.socket() as probe:  # a free port for the listener (released just before use)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text, opened = anyio.run(browser_session, stack, port)
    assert "alice" in text
    assert len(opened) == 1 and opened[0].startswith(stack.issuer + "/authorize?")


def test_browser_agent_times_out_without_a_callback() -> None:
    agent = BrowserUserAgent(timeout=0.2, announce=lambda _: None, opener=lambda _: None)
    with pytest.raises(UserAgentError, match="no callback"):
        anyio.run(
            agent.authorize, "http://127.0.0.1:9/authorize", "http://127.0.0.1:18766/callback"
        )


def test_browser_agent_refuses_non_http_urls() -> None:
    agent = BrowserUserAgent(timeout=1, announce=lambda _: None, opener=lambda _: None)
    with pytest.raises(UserAgentError, match="only http"):
        anyio.run(agent.authorize, "javascript:alert(1)", "http://127.0.0.1:18767/callback")
