"""THE tool → scope table, and the small pure rules built on it.

This table is the single source for: the scope gate (which tool needs what), the 403 challenges
(which scopes to name), ``tools/list`` (each tool's description and ``_meta`` state its scopes),
and the Protected Resource Metadata ``scopes_supported``. Add a tool here first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

ENTRY_SCOPE = "notes:read"
"""What a 401 challenge asks for: the scope of the first rung of the step-up ladder."""

OFFLINE_ACCESS = "offline_access"
"""Never named by this resource server (SEP-2207): refresh is between the client and the AS."""

REQUIRED_SCOPES_META_KEY = "scoped-tools-server/requiredScopes"
"""The ``_meta`` key under which ``tools/list`` states each tool's scopes (a JSON array)."""


@dataclass(frozen=True)
class ToolScopes:
    """What one tool needs: ``scopes`` all have to be granted (empty = any valid token)."""

    scopes: tuple[str, ...]
    summary: str


TOOL_SCOPES: Mapping[str, ToolScopes] = MappingProxyType(
    {
        "whoami": ToolScopes(
            (), "Who the presented access token says you are: subject, client, scopes, expiry."
        ),
        "list_notes": ToolScopes(("notes:read",), "List your notes."),
        "read_note": ToolScopes(("notes:read",), "Read one of your notes by id."),
        "create_note": ToolScopes(("notes:write",), "Store a new note for you."),
        "delete_note": ToolScopes(("notes:delete",), "Delete one of your notes by id."),
    }
)


def parse_scope(value: str | None) -> frozenset[str]:
    """RFC 6749 §3.3: ``scope`` is a space-delimited list of case-sensitive strings."""
    return frozenset(value.split()) if value else frozenset()


def format_scope(scopes: Iterable[str]) -> str:
    """Space-delimited, in a stable order (so challenges and tests are deterministic)."""
    return " ".join(sorted(set(scopes)))


def required_scopes(tool: str) -> tuple[str, ...] | None:
    """The scopes ``tool`` needs, or None for a tool this server does not have."""
    entry = TOOL_SCOPES.get(tool)
    return entry.scopes if entry is not None else None


def scopes_satisfied(granted: Iterable[str], required: Iterable[str]) -> bool:
    """MCP Authorization (2026-07-28) §Step-Up: "Servers MUST account for scope hierarchies ... when
    deciding whether a token is sufficient". Our scopes are flat on purpose (``notes:delete`` does
    not imply ``notes:write``), so sufficiency is plain inclusion."""
    return set(required) <= set(granted)


def challenge_scopes(mode: str, granted: Iterable[str], required: Iterable[str]) -> frozenset[str]:
    """The ``scope`` of a 403 ``insufficient_scope`` challenge.

    ``operation`` (default, SEP-2350 / MCP 2026-07-28 §Runtime Insufficient Scope Errors): "servers
    SHOULD include the scopes needed to satisfy the current operation ... servers are not required
    to include the client's previously granted scopes" — the client accumulates.
    ``cumulative`` (MCP 2025-11-25 "Recommended approach": "Include both existing relevant scopes
    and newly required scopes") for clients that replace rather than union their scopes.
    ``offline_access`` never appears (SEP-2207; MCP Authorization §Refresh Tokens).
    """
    scopes = set(required)
    if mode == "cumulative":
        scopes |= set(granted) & set(scopes_supported())
    scopes.discard(OFFLINE_ACCESS)
    return frozenset(scopes)


def scopes_supported() -> list[str]:
    """RFC 9728 §2 ``scopes_supported``: every scope a tool needs, never ``offline_access``
    (MCP Authorization (2026-07-28) §Refresh Tokens, SEP-2207)."""
    names = {scope for entry in TOOL_SCOPES.values() for scope in entry.scopes}
    names.discard(OFFLINE_ACCESS)
    return sorted(names)


def tool_description(tool: str) -> str:
    """The ``tools/list`` description: the tool's summary plus the scope it needs."""
    entry = TOOL_SCOPES[tool]
    needs = (
        f"Requires scope: {format_scope(entry.scopes)}."
        if entry.scopes
        else "Requires any valid access token for this server (no particular scope)."
    )
    return f"{entry.summary} {needs}"


def server_instructions() -> str:
    """The MCP ``instructions`` (lifecycle §Initialization): the ladder, written from this table."""
    by_scope: dict[str, list[str]] = {}
    for tool, entry in TOOL_SCOPES.items():
        by_scope.setdefault(format_scope(entry.scopes), []).append(tool)
    needs = "; ".join(
        f"{'/'.join(tools)} ({scope or 'any valid token'})" for scope, tools in by_scope.items()
    )
    return (
        f"A notes service whose tools each need an OAuth scope: {needs}. Calling a tool without "
        "its scope answers HTTP 403 insufficient_scope naming the scope."
    )


def tool_meta(tool: str) -> dict[str, list[str]]:
    """The ``tools/list`` ``_meta`` of a tool: its required scopes as a JSON array."""
    return {REQUIRED_SCOPES_META_KEY: list(TOOL_SCOPES[tool].scopes)}
