"""Parse `WWW-Authenticate` headers: RFC 9110 §11.6.1 / RFC 7235 §4.1 syntax, RFC 6750 §3
Bearer parameters, RFC 9728 §5.1 `resource_metadata`.

Teaching code: this parser is hand-written on purpose so the grammar is visible. MCP clients
"MUST be able to parse WWW-Authenticate headers" (MCP authorization, Protected Resource
Metadata Discovery), and real headers contain quoted strings with escapes, commas inside quotes
and several challenges in one field value, e.g.

    Bearer realm="mcp", error="insufficient_scope", scope="notes:read notes:write",
        resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp",
    Basic realm="legacy"

Grammar (RFC 9110 §11.2, §11.6.1, §5.6.4):

    WWW-Authenticate = #challenge
    challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-param       = token BWS "=" BWS ( token / quoted-string )
    quoted-string    = DQUOTE *( qdtext / quoted-pair ) DQUOTE
    quoted-pair      = "\\" ( HTAB / SP / VCHAR / obs-text )
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field

from demo_client.scopes import parse_scope

# RFC 9110 §5.6.2 tchar
TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
# RFC 9110 §11.2 token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
TOKEN68_CHARS = frozenset("-._~+/" + string.ascii_letters + string.digits)
WHITESPACE = " \t"


class MalformedChallengeError(ValueError):
    """The header does not follow RFC 9110 §11.6.1; the text says where it went wrong."""


@dataclass(frozen=True)
class Challenge:
    """One challenge: its scheme and either auth-params (names lower-cased) or a token68."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None

    def is_scheme(self, name: str) -> bool:
        """RFC 9110 §11.1: auth-scheme names are case-insensitive."""
        return self.scheme.lower() == name.lower()


@dataclass(frozen=True)
class BearerChallenge:
    """The RFC 6750 §3 / RFC 9728 §5.1 parameters an MCP client acts on."""

    error: str | None
    scope: list[str] | None
    resource_metadata: str | None
    error_description: str | None

    @property
    def is_insufficient_scope(self) -> bool:
        """RFC 6750 §3.1: `insufficient_scope` means "the request requires higher privileges"."""
        return self.error == "insufficient_scope"


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_whitespace(self) -> None:
        while self.peek() and self.peek() in WHITESPACE:
            self.pos += 1

    def read_while(self, allowed: frozenset[str]) -> str:
        start = self.pos
        while self.peek() and self.peek() in allowed:
            self.pos += 1
        return self.text[start : self.pos]

    def fail(self, what: str) -> MalformedChallengeError:
        return MalformedChallengeError(f"{what} at offset {self.pos} of {self.text!r}")

    def read_quoted_string(self) -> str:
        """RFC 9110 §5.6.4: a quoted-pair stands for the octet after the backslash."""
        assert self.peek() == '"'
        self.pos += 1
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == "":
                raise self.fail("unterminated quoted-string")
            self.pos += 1
            if ch == '"':
                return "".join(out)
            if ch == "\\":
                escaped = self.peek()
                if escaped == "":
                    raise self.fail("backslash at end of quoted-string")
                self.pos += 1
                out.append(escaped)
            else:
                out.append(ch)


def _looks_like_param(reader: _Reader) -> bool:
    """Is the next thing `token BWS "=" BWS (token / quoted-string)` (an auth-param)?

    A token68 such as `abc==` also contains "=", so look past the "=" signs: an auth-param
    has a value after them, a token68 is followed by a comma, whitespace or the end.
    """
    saved = reader.pos
    try:
        if not reader.read_while(TOKEN_CHARS):
            return False
        reader.skip_whitespace()
        if reader.peek() != "=":
            return False
        reader.pos += 1
        reader.skip_whitespace()
        return reader.peek() == '"' or (reader.peek() in TOKEN_CHARS and reader.peek() != "=")
    finally:
        reader.pos = saved


def _parse_params(reader: _Reader) -> dict[str, str]:
    params: dict[str, str] = {}
    while True:
        reader.skip_whitespace()
        if not _looks_like_param(reader):
            return params
        name = reader.read_while(TOKEN_CHARS).lower()
        reader.skip_whitespace()
        reader.pos += 1  # the "="
        reader.skip_whitespace()
        if reader.peek() == '"':
            value = reader.read_quoted_string()
        else:
            value = reader.read_while(TOKEN_CHARS)
        if name in params:
            # RFC 9110 §11.2: "Each parameter name MUST only occur once per challenge."
            raise reader.fail(f"parameter {name!r} repeated")
        params[name] = value
        reader.skip_whitespace()
        if reader.peek() != ",":
            if not reader.at_end():
                raise reader.fail("expected ',' after parameter")
            return params
        # A comma either separates this challenge's params or starts the next challenge.
        reader.pos += 1
        while reader.peek() and reader.peek() in WHITESPACE + ",":
            reader.pos += 1


def parse_www_authenticate(values: str | Iterable[str]) -> list[Challenge]:
    """Every challenge in one or several `WWW-Authenticate` field values, in order.

    RFC 9110 §5.3: several field lines with the same name are one comma-separated list, so
    a list of header values is parsed as if joined with ", ".
    """
    text = values if isinstance(values, str) else ", ".join(values)
    reader = _Reader(text)
    challenges: list[Challenge] = []
    while True:
        while reader.peek() and reader.peek() in WHITESPACE + ",":
            reader.pos += 1
        if reader.at_end():
            return challenges
        scheme = reader.read_while(TOKEN_CHARS)
        if not scheme:
            raise reader.fail("expected an auth-scheme token")
        if reader.peek() and reader.peek() not in WHITESPACE + ",":
            raise reader.fail("expected whitespace after the auth-scheme")
        reader.skip_whitespace()
        token68 = None
        params: dict[str, str] = {}
        if _looks_like_param(reader):
            params = _parse_params(reader)
        elif reader.peek() and reader.peek() in TOKEN68_CHARS:
            token68 = reader.read_while(TOKEN68_CHARS) + reader.read_while(frozenset("="))
            reader.skip_whitespace()
            if reader.peek() not in ("", ","):
                raise reader.fail("unexpected text after token68")
        challenges.append(Challenge(scheme=scheme, params=params, token68=token68))


def bearer_challenge(values: str | Iterable[str]) -> BearerChallenge | None:
    """The first `Bearer` challenge (RFC 6750 §3), or None when there is none.

    A malformed header is treated as "no usable challenge": the caller then falls back to the
    well-known PRM locations (MCP authorization, Protected Resource Metadata Discovery).
    """
    try:
        challenges = parse_www_authenticate(values)
    except MalformedChallengeError:
        return None
    for challenge in challenges:
        if challenge.is_scheme("Bearer"):
            params = challenge.params
            return BearerChallenge(
                error=params.get("error"),
                scope=None if "scope" not in params else parse_scope(params["scope"]),
                resource_metadata=params.get("resource_metadata"),
                error_description=params.get("error_description"),
            )
    return None
