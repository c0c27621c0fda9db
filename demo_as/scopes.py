"""Scope rules (RFC 6749 §3.3) and the sentences the consent page shows for each scope."""

from __future__ import annotations

import re

# RFC 6749 §3.3: scope-token = 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")

SCOPE_SENTENCES = {
    "notes:read": "Read your notes: list them and open any of them.",
    "notes:write": "Create new notes in your name.",
    "notes:delete": "Delete your notes. Deleted notes cannot be recovered.",
    "offline_access": (
        "Stay connected while you are away. Here it only labels the token: how the app "
        "registered decides whether it can renew access."
    ),
}


def parse_scope(value: str | None) -> list[str]:
    """Split a space-delimited scope string (RFC 6749 §3.3), keeping first-seen order and dropping
    duplicates. Raises ValueError on characters outside NQCHAR."""
    tokens: list[str] = []
    for token in (value or "").split(" "):
        if not token:
            continue
        if not SCOPE_TOKEN.fullmatch(token):
            raise ValueError(f"scope token {token[:50]!r} has characters outside RFC 6749 §3.3")
        if token not in tokens:
            tokens.append(token)
    return tokens


def unknown_scopes(requested: list[str], supported: list[str]) -> list[str]:
    """RFC 6749 §4.1.2.1 ``invalid_scope``: requested scopes this AS does not know."""
    return [scope for scope in requested if scope not in supported]


def scope_exceeds(requested: list[str], granted: list[str]) -> list[str]:
    """OAuth 2.1 draft-13 §4.3.1: a refresh request "MUST NOT include any scope not originally
    granted". Returns the scopes that would widen the grant (empty when it only narrows)."""
    return [scope for scope in requested if scope not in granted]


def scope_union(*scope_lists: list[str]) -> list[str]:
    """Union keeping first-seen order (used for the consent record)."""
    union: list[str] = []
    for scopes in scope_lists:
        union.extend(scope for scope in scopes if scope not in union)
    return union


def scope_sentence(scope: str) -> str:
    """What a scope allows, in one sentence a user can judge."""
    return SCOPE_SENTENCES.get(scope, f"Use the permission {scope!r} (configured on this server).")
