"""Events the OAuth core emits so the story (or anything else) can narrate what happened.

The core never prints; it calls an observer with `Event`s. Tokens never appear in events, only
short fingerprints (nothing logs a full token). `EventKind` is the one list of kinds: the core's,
and the story's own structure lines that `--json` prints (docs/client.md lists them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Every kind of line the client emits; the value is the JSON `event` field."""

    # what the OAuth core and the step-up auth observed or decided
    MCP_RESPONSE = "mcp_response"
    DISCOVERY = "discovery"
    REGISTRATION = "registration"
    REGISTRATION_REJECTED = "registration_rejected"
    SCOPE_UNION = "scope_union"
    AUTHORIZATION_REQUEST = "authorization_request"
    TOKENS = "tokens"
    TOKEN_EXPIRED = "token_expired"
    REFRESH_REFUSED = "refresh_refused"
    INSUFFICIENT_SCOPE_ERROR = "insufficient_scope_error"
    # the story's structure
    ROUND_START = "round_start"
    CALL = "call"
    NOTE = "note"
    ROUND_RESULT = "round_result"
    ROUND_SKIPPED = "round_skipped"
    SUMMARY = "summary"
    LAB_PAGE = "lab_page"  # where the AS's lab shows this run, graded (against running servers)


@dataclass
class Event:
    kind: EventKind
    data: dict[str, Any] = field(default_factory=dict)


Observer = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The default observer."""


def fingerprint(secret: str | None) -> str | None:
    """A short, non-reversible label for a token, for showing that it changed."""
    if secret is None:
        return None
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:10]
