"""``WWW-Authenticate: Bearer ...`` challenges, written out by hand because they are the lesson.

RFC 6750 §3: ``Bearer`` followed by comma-separated ``name="value"`` auth-params; each of
``realm``, ``scope``, ``error``, ``error_description``, ``error_uri`` at most once. RFC 9728 §5.1
adds ``resource_metadata`` (the PRM URL). Quoting: values are RFC 9110 §5.6.4 quoted-strings, and
RFC 6750 §3 narrows what may appear in them:

- ``scope``: ``scope-token`` characters %x21 / %x23-5B / %x5D-7E, separated by single spaces
  (so never ``"`` or ``\\``);
- ``error`` / ``error_description``: %x20-21 / %x23-5B / %x5D-7E (printable ASCII without ``"``
  and ``\\``).

So instead of escaping, characters outside those sets are *replaced*: a description may echo
a tool name a client chose, and a client must not be able to break the header's syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from scoped_tools_server.scopes import ENTRY_SCOPE, OFFLINE_ACCESS, format_scope

_NOT_DESCRIPTION_CHAR = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
_URL_UNSAFE = re.compile(r'["\\]')
MAX_DESCRIPTION_CHARS = 300


def description_value(text: str) -> str:
    """RFC 6750 §3: ``error_description`` uses only %x20-21 / %x23-5B / %x5D-7E.

    Anything else becomes ``?``."""
    cleaned = _NOT_DESCRIPTION_CHAR.sub("?", text)
    return cleaned[:MAX_DESCRIPTION_CHARS]


def scope_value(scopes: Iterable[str]) -> str:
    """RFC 6750 §3 ``scope``: space-delimited scope-tokens; ``offline_access`` is never challenged
    (SEP-2207; MCP Authorization §Refresh Tokens); a token with characters outside the scope-token
    set is dropped."""
    usable = [s for s in scopes if s != OFFLINE_ACCESS and _SCOPE_TOKEN.match(s)]
    return format_scope(usable)


def url_value(url: str) -> str:
    """RFC 9728 §5.1 ``resource_metadata`` is a URL in a quoted-string; escape ``"``/``\\``
    (RFC 9110 §5.6.4 quoted-pair) in case an operator configured something odd."""
    return _URL_UNSAFE.sub(lambda m: "\\" + m.group(0), url)


def bearer_challenge(params: list[tuple[str, str]]) -> str:
    """``Bearer name="value", ...`` in the given order; each name at most once (RFC 6750 §3)."""
    names = [name for name, _ in params]
    if len(names) != len(set(names)):
        raise ValueError("an auth-param may appear only once in a challenge (RFC 6750 §3)")
    return "Bearer " + ", ".join(f'{name}="{value}"' for name, value in params)


def missing_token_challenge(resource_metadata_url: str) -> str:
    """401 without credentials. RFC 6750 §3.1: "If the request lacks any authentication information
    ... the resource server SHOULD NOT include an error code". MCP Authorization (2026-07-28) §Scope
    Selection Strategy: SHOULD include ``scope``; we name the entry scope of the step-up ladder.

    ``Bearer resource_metadata="<PRM URL>", scope="notes:read"``
    """
    return bearer_challenge(
        [("resource_metadata", url_value(resource_metadata_url)), ("scope", ENTRY_SCOPE)]
    )


def invalid_token_challenge(resource_metadata_url: str, description: str) -> str:
    """401 for an expired, forged, foreign or otherwise unusable token (RFC 6750 §3.1
    ``invalid_token``; OAuth 2.1 §5.3.2). Keeps ``resource_metadata`` and ``scope`` so the client
    can start over.

    ``Bearer error="invalid_token", error_description="...", resource_metadata="...",
    scope="notes:read"``
    """
    return bearer_challenge(
        [
            ("error", "invalid_token"),
            ("error_description", description_value(description)),
            ("resource_metadata", url_value(resource_metadata_url)),
            ("scope", ENTRY_SCOPE),
        ]
    )


def invalid_request_challenge(resource_metadata_url: str, description: str) -> str:
    """400 ``invalid_request`` (RFC 6750 §3.1): e.g. a token in the query string or two
    Authorization headers (OAuth 2.1 §5.1: more than one method is refused)."""
    return bearer_challenge(
        [
            ("error", "invalid_request"),
            ("error_description", description_value(description)),
            ("resource_metadata", url_value(resource_metadata_url)),
        ]
    )


def insufficient_scope_challenge(
    resource_metadata_url: str, scopes: Iterable[str], description: str
) -> str:
    """403 for a valid token that lacks the called tool's scope (RFC 6750 §3.1
    ``insufficient_scope``; MCP Authorization (2026-07-28) §Runtime Insufficient Scope Errors,
    SEP-835/SEP-2350).

    ``Bearer error="insufficient_scope", scope="notes:write", resource_metadata="...",
    error_description="create_note requires notes:write"``
    """
    return bearer_challenge(
        [
            ("error", "insufficient_scope"),
            ("scope", scope_value(scopes)),
            ("resource_metadata", url_value(resource_metadata_url)),
            ("error_description", description_value(description)),
        ]
    )
