"""OAuth 2.0 Protected Resource Metadata (RFC 9728), served without authentication.

Served at the path-inserted well-known URL (RFC 9728 §3.1: ``/.well-known/oauth-protected-resource``
inserted between host and path, so ``http://h/mcp`` → ``http://h/.well-known/oauth-protected-resource/mcp``)
and at the root well-known URL, which MCP clients fall back to (MCP Authorization Server
Discovery, 2026-07-28, §Protected Resource Metadata Discovery Requirements). Both serve the same
document whose ``resource`` is the MCP endpoint URL (a strict RFC 9728 §3.3 client may reject the
root copy, which is why the challenges point at the path-inserted one).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scoped_tools_server.lab_journal import prm_fetch_event
from scoped_tools_server.lab_reporter import LabReporter
from scoped_tools_server.scopes import scopes_supported
from scoped_tools_server.settings import Settings

WELL_KNOWN = "/.well-known/oauth-protected-resource"
RESOURCE_NAME = "Scoped tools notes (MCP step-up demo)"


def protected_resource_metadata(settings: Settings) -> dict[str, Any]:
    """The RFC 9728 §2 document.

    - ``resource``: exactly the canonical MCP URL (RFC 9728 §3.3 identity; MCP Authorization
      §Canonical Server URI);
    - ``authorization_servers``: the issuer, byte-identical to the AS metadata ``issuer``
      (MCP Authorization §Overview makes this field mandatory);
    - ``scopes_supported``: the tool scopes, never ``offline_access`` (SEP-2207; MCP
      Authorization §Refresh Tokens);
    - ``bearer_methods_supported``: header only (OAuth 2.1 §5.1; MCP Authorization §Token
      Requirements forbids the query string).
    """
    return {
        "resource": settings.resource_url,
        "authorization_servers": [settings.auth_server],
        "scopes_supported": scopes_supported(),
        "bearer_methods_supported": ["header"],
        "resource_name": RESOURCE_NAME,
    }


def prm_routes(settings: Settings, lab: LabReporter | None = None) -> list[Route]:
    """Routes for the path-inserted and the root well-known URLs (GET only; CORS-readable so
    browser-based clients such as the MCP Inspector can fetch it, RFC 9728 §3). Each fetch is a
    lab event (unattributed: discovery carries no token)."""
    document = protected_resource_metadata(settings)

    async def metadata(request: Request) -> Response:
        if lab is not None:
            lab.record(prm_fetch_event(request.url.path, request.headers.get("user-agent")))
        return JSONResponse(
            document,
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"},
        )

    path_inserted = urlsplit(settings.resource_metadata_url).path
    paths = [path_inserted] if path_inserted == WELL_KNOWN else [path_inserted, WELL_KNOWN]
    return [Route(path, metadata, methods=["GET"]) for path in paths]
