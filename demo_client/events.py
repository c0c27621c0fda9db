"""Events the OAuth core emits so the story (or anything else) can narrate what happened.

The core never prints; it calls an observer with `Event`s. Tokens never appear in events, only
short fingerprints (nothing logs a full token).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


Observer = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The default observer."""


def fingerprint(secret: str | None) -> str | None:
    """A short, non-reversible label for a token, for showing that it changed."""
    if secret is None:
        return None
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:10]
