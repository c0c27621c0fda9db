"""Entry point for the official MCP conformance suite's client contract.

The suite (`@modelcontextprotocol/conformance client --command CMD`) runs `CMD <server URL>`
with `MCP_CONFORMANCE_SCENARIO` naming the scenario and, where a scenario has pre-registered
credentials, `MCP_CONFORMANCE_CONTEXT` as JSON (`client_id`, `client_secret`). For the auth
scenarios the client initializes, lists tools and calls `test-tool` (step-up only triggers
on the call). The suite's mock AS approves automatically: the headless user agent's first
request to the authorization endpoint already gets the 302 back to our redirect URI, which is
read without being fetched.

The same OAuth core as the story runs here, with no scenario-specific behaviour except the
context's credentials: the CIMD URL is always offered (and used only when the AS advertises
`client_id_metadata_document_supported`, MCP Client Registration Approaches).
"""

from __future__ import annotations

import json
import os
import sys

import anyio

from demo_client import settings as defaults
from demo_client.authorizer import Authorizer, ClientIdentity
from demo_client.errors import DemoClientError
from demo_client.mcp_session import http_client, session
from demo_client.step_up import StepUpAuth
from demo_client.user_agents import HeadlessUserAgent

# The suite's CIMD scenario expects this exact client_id (an HTTPS URL with a path, SEP-991).
CONFORMANCE_CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"


def identity_from_context(context_json: str | None, callback_port: int) -> ClientIdentity:
    context = json.loads(context_json) if context_json else {}
    if not isinstance(context, dict):
        context = {}
    return ClientIdentity(
        callback_port=callback_port,
        client_id=context.get("client_id"),
        client_secret=context.get("client_secret"),
        client_metadata_url=CONFORMANCE_CLIENT_METADATA_URL,
    )


async def run(server_url: str, identity: ClientIdentity, max_step_up_retries: int = 1) -> str:
    """initialize, tools/list, tools/call test-tool; returns the tool's text output."""
    async with http_client(timeout=30.0) as oauth_http:
        agent = HeadlessUserAgent(http=oauth_http)
        authorizer = Authorizer(server_url, http=oauth_http, user_agent=agent, identity=identity)
        auth = StepUpAuth(authorizer, max_step_up_retries=max_step_up_retries)
        async with session(server_url, auth) as mcp:
            tools = await mcp.list_tools()
            names = [tool.name for tool in tools.tools]
            if "test-tool" not in names:
                return f"tools: {names}"
            result = await mcp.call_tool("test-tool", {})
            return " ".join(getattr(block, "text", "") for block in result.content)


def main(server_url: str, callback_port: int = defaults.DEFAULT_CALLBACK_PORT) -> int:
    identity = identity_from_context(os.environ.get("MCP_CONFORMANCE_CONTEXT"), callback_port)
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "(none)")
    try:
        output = anyio.run(run, server_url, identity)
    except DemoClientError as exc:
        print(f"demo-client [{scenario}]: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"demo-client [{scenario}]: ok: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[-1]))
