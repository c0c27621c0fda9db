"""``GET /``: what this server is, for a person who opens its base URL in a browser.

Not part of any protocol: it names the MCP endpoint, the Protected Resource Metadata (RFC 9728)
and the authorization server, and lists the tools with the scope each needs, all from the
settings and the one tool→scope table (``scopes.TOOL_SCOPES``). No authentication, no state.
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from scoped_tools_server.scopes import TOOL_SCOPES
from scoped_tools_server.settings import Settings

STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;color:#1f2933;max-width:46rem;margin:2rem auto;"
    "padding:0 1rem}code{font-family:ui-monospace,monospace;font-size:.9em;background:#f0f4f8;"
    "padding:.05rem .3rem;border-radius:4px}table{border-collapse:collapse}"
    "td,th{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #d9e2ec}"
)


def front_page_html(settings: Settings) -> str:
    mcp, prm, issuer = settings.resource_url, settings.resource_metadata_url, settings.auth_server
    rows = "".join(
        f"<tr><td><code>{escape(tool)}</code></td>"
        f"<td>{escape(' '.join(entry.scopes)) or 'any valid token'}</td>"
        f"<td>{escape(entry.summary)}</td></tr>"
        for tool, entry in TOOL_SCOPES.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scoped-tools-server</title>
<style>{STYLE}</style></head><body>
<h1>scoped-tools-server</h1>
<p>An MCP resource server of the MCP step-up demo (not for production). Its tools each need an
OAuth scope; a call without it is answered <code>403 insufficient_scope</code> naming that scope.
This page is for people; MCP clients use the URLs below.</p>
<table>
<tr><th>MCP endpoint</th><td><code>{escape(mcp)}</code> (Streamable HTTP; every request needs
<code>Authorization: Bearer</code>: point your MCP client here)</td></tr>
<tr><th>Protected Resource Metadata</th><td><a href="{escape(prm)}">{escape(prm)}</a>
(RFC 9728)</td></tr>
<tr><th>Authorization server</th><td><a href="{escape(issuer)}">{escape(issuer)}</a></td></tr>
<tr><th>Health</th><td><a href="/health">/health</a></td></tr>
</table>
<h2>Tools and the scope each needs</h2>
<table><tr><th>tool</th><th>scope</th><th>does</th></tr>{rows}</table>
</body></html>
"""


def front_page_route(settings: Settings) -> Route:
    page = front_page_html(settings)

    async def front_page(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return Route("/", front_page, methods=["GET"])
