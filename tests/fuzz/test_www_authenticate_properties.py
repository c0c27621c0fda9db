"""Property tests of demo_client's ``WWW-Authenticate`` parser (RFC 9110 §11.6.1, RFC 6750 §3,
RFC 9728 §5.1).

The parser reads headers that an untrusted resource server writes, so two things must hold for
*any* input: it either returns challenges or raises its own ``MalformedChallengeError`` (never an
``IndexError`` or similar that would crash the client), and ``bearer_challenge`` never raises at
all (a malformed header means "fall back to well-known PRM discovery", MCP authorization §Protected
Resource Metadata Discovery). For well-formed headers it must recover exactly what was written,
however the server chose to space, quote and escape it.
"""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from demo_client.www_authenticate import (
    MalformedChallengeError,
    bearer_challenge,
    parse_www_authenticate,
)

TCHAR = "!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits
tokens = st.text(alphabet=TCHAR, min_size=1, max_size=12)
# quoted-string content: any visible ASCII, space and tab (RFC 9110 §5.6.4 qdtext / quoted-pair).
quoted_content = st.text(
    alphabet=string.printable.replace("\r", "")
    .replace("\n", "")
    .replace("\x0b", "")
    .replace("\x0c", ""),
    max_size=40,
)
bws = st.sampled_from(["", " ", "  ", "\t"])


def quote(value: str) -> str:
    """RFC 9110 §5.6.4: backslash-escape DQUOTE and backslash inside a quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def challenge_texts(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    """A serialized auth-param challenge plus the scheme and params it must parse back to."""
    scheme = draw(tokens)
    names = draw(st.lists(tokens, min_size=1, max_size=5, unique_by=str.lower))
    params: dict[str, str] = {}
    parts: list[str] = []
    for name in names:
        as_token = draw(st.booleans())
        value = draw(tokens) if as_token else draw(quoted_content)
        params[name.lower()] = value
        written = value if as_token else quote(value)
        parts.append(f"{name}{draw(bws)}={draw(bws)}{written}")
    separator = draw(st.sampled_from([",", ", ", " ,", ",  "]))
    return f"{scheme} " + separator.join(parts), scheme, params


@settings(max_examples=300, deadline=None)
@given(st.lists(challenge_texts(), min_size=1, max_size=4))
def test_well_formed_challenges_parse_back_exactly(
    challenges: list[tuple[str, str, dict[str, str]]],
) -> None:
    """RFC 9110 §11.6.1: ``#challenge`` is a comma list; every scheme and auth-param (names
    case-insensitive, quoted-pairs unescaped) is recovered, in order, whatever the spacing."""
    header = ", ".join(text for text, _, _ in challenges)
    parsed = parse_www_authenticate(header)
    assert [(c.scheme, c.params) for c in parsed] == [(s, p) for _, s, p in challenges]


@settings(max_examples=200, deadline=None)
@given(st.lists(challenge_texts(), min_size=2, max_size=4))
def test_several_field_lines_mean_the_same_as_one_joined_line(
    challenges: list[tuple[str, str, dict[str, str]]],
) -> None:
    """RFC 9110 §5.3: repeated field lines combine into one comma-separated value."""
    lines = [text for text, _, _ in challenges]
    assert parse_www_authenticate(lines) == parse_www_authenticate(", ".join(lines))


@settings(max_examples=300, deadline=None)
@given(
    scope=st.lists(st.text(alphabet=TCHAR.replace('"', ""), min_size=1, max_size=15), max_size=5),
    metadata=st.text(alphabet=string.ascii_letters + string.digits + ":/._-", min_size=1),
    leading=st.lists(challenge_texts(), max_size=2),
)
def test_bearer_scope_and_resource_metadata_are_recovered(
    scope: list[str], metadata: str, leading: list[tuple[str, str, dict[str, str]]]
) -> None:
    """RFC 6750 §3 ``scope`` (space-delimited, RFC 6749 §3.3) and RFC 9728 §5.1
    ``resource_metadata`` are read from the Bearer challenge even when other schemes precede it."""
    others = [text for text, scheme, _ in leading if scheme.lower() != "bearer"]
    bearer = (
        f'Bearer error="insufficient_scope", scope={quote(" ".join(scope))}, '
        f"resource_metadata={quote(metadata)}"
    )
    challenge = bearer_challenge([*others, bearer])
    assert challenge is not None
    assert challenge.is_insufficient_scope
    assert challenge.resource_metadata == metadata
    assert challenge.scope == list(dict.fromkeys(scope))


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_parser(header: str) -> None:
    """Hostile input from a resource server: only the parser's own typed error may escape, and
    ``bearer_challenge`` swallows even that (fallback to PRM discovery, RFC 9728 §3)."""
    try:
        parse_www_authenticate(header)
    except MalformedChallengeError:
        pass
    bearer_challenge(header)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ['"', "\\", ",", "=", " ", "Bearer", "scope", "a", "==", "\t", 'x="', "realm=", "b=c"]
        ),
        max_size=25,
    )
)
def test_grammar_shaped_garbage_never_crashes_the_parser(pieces: list[str]) -> None:
    """Near-misses of the grammar (unbalanced quotes, dangling escapes, stray ``=``) are the
    inputs most likely to hit an unchecked index; they must end in a typed error or a result."""
    header = "".join(pieces)
    try:
        parse_www_authenticate(header)
    except MalformedChallengeError:
        pass
    bearer_challenge(header)
