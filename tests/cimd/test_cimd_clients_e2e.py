"""Real clients that identify themselves with a client ID metadata document, against the real AS
and RS: the official MCP Python SDK (``OAuthClientProvider(client_metadata_url=...)``) climbing
the step-up ladder, and ``demo-client story --client-metadata-url`` (the real CLI, as a
subprocess). Neither registers: the AS fetches their documents over HTTPS. A DCR client keeps
working next to them on the same AS."""

from __future__ import annotations

import json
import subprocess
import sys

import anyio
import httpx2
from harness.db_rows import count
from harness.document_host import DocumentHost, client_document
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    authorize,
    code_from,
    issue_tokens,
    redeem,
)
from harness.sdk_agent import ConsentFormAgent
from harness.stack import Stack
from joserfc import jwt
from joserfc.jwk import KeySet
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sdk_client import sdk_provider
from sdk_token_storage import MemoryStorage

SDK_REDIRECT_URI = "http://127.0.0.1:47913/callback"
STORY_CALLBACK_PORT = 47914


def public_key_set(stack: Stack) -> KeySet:
    return KeySet.import_key_set(httpx2.get(f"{stack.as_url}/jwks").json())


async def sdk_ladder(stack: Stack, url: str, agent: ConsentFormAgent) -> tuple[MemoryStorage, dict]:
    """list_notes (401), create_note (403 notes:write), delete_note (403 notes:delete)."""
    storage = MemoryStorage()
    provider = sdk_provider(
        stack.resource,
        redirect_uri=SDK_REDIRECT_URI,
        client_name="mcp Python SDK (CIMD)",
        storage=storage,
        redirect_handler=agent.redirect_handler,
        callback_handler=agent.callback_handler,
        client_metadata_url=url,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(stack.resource, http_client=http)) as client,
    ):
        for tool, arguments in (("list_notes", {}), ("create_note", {"title": "t", "body": "b"})):
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result
        note_id = result.structured_content["id"]
        deleted = await client.call_tool("delete_note", {"note_id": note_id})
        assert not deleted.is_error, deleted
        whoami = await client.call_tool("whoami", {})
    return storage, whoami.structured_content


def test_the_official_sdk_steps_up_as_a_cimd_client(stack: Stack, documents: DocumentHost) -> None:
    url = documents.url("mcp-python-sdk")
    documents.publish(
        url,
        client_document(url, SDK_REDIRECT_URI, client_name="mcp Python SDK (CIMD)"),
        headers={"cache-control": "max-age=600"},
    )
    clients_before = count(stack.engine, "client")
    agent = ConsentFormAgent(SDK_REDIRECT_URI)

    storage, whoami = anyio.run(sdk_ladder, stack, url, agent)

    assert storage.client_info is not None and storage.client_info.client_id == url
    ladder = [scopes - {"offline_access"} for scopes in agent.requested_scopes]
    assert ladder == [
        {"notes:read"},
        {"notes:read", "notes:write"},
        {"notes:read", "notes:write", "notes:delete"},
    ]
    assert whoami["client_id"] == url
    # No registration happened: the one new client row is the document's.
    assert count(stack.engine, "client") == clients_before + 1
    assert count(stack.engine, "clientmetadatadocument", "client_id = :u", u=url) == 1


def test_demo_client_story_runs_on_a_cimd_identity(stack: Stack, documents: DocumentHost) -> None:
    url = documents.url("demo-client")
    redirect_uri = f"http://127.0.0.1:{STORY_CALLBACK_PORT}/callback"
    documents.publish(url, client_document(url, redirect_uri, client_name="demo-client (CIMD)"))
    story = subprocess.run(
        [
            sys.executable,
            "-m",
            "demo_client.cli",
            "story",
            "--json",
            "--server-url",
            stack.resource,
            "--callback-port",
            str(STORY_CALLBACK_PORT),
            "--client-metadata-url",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert story.returncode == 0, story.stdout[-3000:] + story.stderr[-3000:]
    events = [json.loads(line) for line in story.stdout.splitlines()]
    registrations = [e for e in events if e["event"] == "registration"]
    assert [(e["kind"], e["client_id"]) for e in registrations] == [("cimd", url)]
    [summary] = [e for e in events if e["event"] == "summary"]
    assert summary["ok"] is True


def test_dcr_and_cimd_clients_work_side_by_side(
    stack: Stack, documents: DocumentHost, http: httpx2.Client
) -> None:
    """One AS, one user: a registered client and a document client both get tokens, each
    bound to its own client_id."""
    redirect_uri = REDIRECT_URI
    dcr_client, _request, dcr_tokens = issue_tokens(http, stack.as_url, stack.resource)
    url = documents.url()
    documents.publish(url, client_document(url, redirect_uri))
    request = AuthorizationRequest(
        client_id=url, redirect_uri=redirect_uri, resource=stack.resource
    )
    code = code_from(authorize(http, stack.as_url, request), request)
    cimd_tokens = redeem(http, stack.as_url, request, code).json()

    claims = [
        jwt.decode(tokens["access_token"], public_key_set(stack), algorithms=["ES256"]).claims
        for tokens in (dcr_tokens, cimd_tokens)
    ]
    assert [c["client_id"] for c in claims] == [dcr_client["client_id"], url]
    assert not dcr_client["client_id"].startswith("https://")
