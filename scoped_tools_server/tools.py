"""The MCP tools, registered on the official SDK's ``MCPServer``.

Each tool's description and ``_meta`` come from ``scopes.TOOL_SCOPES`` (so ``tools/list`` states the
scope every tool needs). The tools do not check scopes themselves: the scope gate has already
refused any call whose token lacks them. They only need *who* is calling, which they take from
the verified token the gate attached to the request (``caller.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from scoped_tools_server.caller import caller_from_request
from scoped_tools_server.scopes import (
    TOOL_SCOPES,
    format_scope,
    server_instructions,
    tool_description,
    tool_meta,
)
from scoped_tools_server.store import MAX_BODY_CHARS, MAX_TITLE_CHARS, Note, NoteStore, owner_key
from scoped_tools_server.token_verification import VerifiedToken

SERVER_NAME = "scoped-tools-server"


class NoteOut(BaseModel):
    """A note as the tools return it (structured content)."""

    id: int
    title: str
    body: str


class WhoAmI(BaseModel):
    """What the presented access token says about the caller."""

    subject: str
    client_id: str
    scopes: list[str]
    scope: str
    expires_at: int
    issuer: str


class Deleted(BaseModel):
    deleted: int


NoteId = Annotated[
    int, Field(ge=1, le=2**53, description="The note's id, as returned by create_note.")
]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS)]
Body = Annotated[str, Field(max_length=MAX_BODY_CHARS)]


def _note_out(note: Note) -> NoteOut:
    assert note.id is not None
    return NoteOut(id=note.id, title=note.title, body=note.body)


def _caller(ctx: Context[Any]) -> VerifiedToken:
    return caller_from_request(ctx.request_context.request)


def _owner(caller: VerifiedToken) -> str:
    return owner_key(caller.issuer, caller.subject)


def build_mcp_server(store: NoteStore) -> MCPServer[Any]:
    """The MCP server with the five tools of the step-up ladder, backed by ``store``."""
    # MCPServer configures the root logger; at its default INFO every introspection call would
    # render an httpx2 "HTTP Request" line (a third of the RS's CPU per request, bench/results.md).
    mcp: MCPServer[Any] = MCPServer(
        name=SERVER_NAME, instructions=server_instructions(), version="0.1.0", log_level="WARNING"
    )

    def register(fn: Any) -> None:
        name = fn.__name__
        mcp.add_tool(fn, name=name, description=tool_description(name), meta=tool_meta(name))

    async def whoami(ctx: Context[Any]) -> WhoAmI:
        caller = _caller(ctx)
        return WhoAmI(
            subject=caller.subject,
            client_id=caller.client_id,
            scopes=sorted(caller.scopes),
            scope=format_scope(caller.scopes),
            expires_at=caller.expires_at,
            issuer=caller.issuer,
        )

    async def list_notes(ctx: Context[Any]) -> list[NoteOut]:
        owner = _owner(_caller(ctx))
        notes = await anyio.to_thread.run_sync(store.list_notes, owner)
        return [_note_out(note) for note in notes]

    async def read_note(note_id: NoteId, ctx: Context[Any]) -> NoteOut:
        owner = _owner(_caller(ctx))
        note = await anyio.to_thread.run_sync(store.get_note, owner, note_id)
        if note is None:
            raise ToolError(f"You have no note {note_id}")
        return _note_out(note)

    async def create_note(title: Title, body: Body, ctx: Context[Any]) -> NoteOut:
        owner = _owner(_caller(ctx))
        note = await anyio.to_thread.run_sync(store.create_note, owner, title, body)
        return _note_out(note)

    async def delete_note(note_id: NoteId, ctx: Context[Any]) -> Deleted:
        owner = _owner(_caller(ctx))
        if not await anyio.to_thread.run_sync(store.delete_note, owner, note_id):
            raise ToolError(f"You have no note {note_id}")
        return Deleted(deleted=note_id)

    tools = (whoami, list_notes, read_note, create_note, delete_note)
    for tool in tools:
        register(tool)
    # One table drives the gate: a tool missing from it would be callable without a scope check.
    missing = set(TOOL_SCOPES) ^ {tool.__name__ for tool in tools}
    if missing:
        raise RuntimeError(f"tools and the scope table disagree about: {sorted(missing)}")
    return mcp
