"""WWW-Authenticate parsing (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9728 §5.1)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demo_client.www_authenticate import (
    MalformedChallengeError,
    bearer_challenge,
    parse_www_authenticate,
)


def test_the_insufficient_scope_challenge_of_our_resource_server() -> None:
    header = (
        'Bearer error="insufficient_scope", scope="notes:read notes:write", '
        'resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp", '
        'error_description="create_note requires notes:write"'
    )
    challenge = bearer_challenge(header)
    assert challenge is not None
    assert challenge.is_insufficient_scope
    assert challenge.scope == ["notes:read", "notes:write"]
    assert challenge.resource_metadata.endswith("/oauth-protected-resource/mcp")
    assert challenge.error_description == "create_note requires notes:write"


def test_quoted_strings_keep_commas_and_unescape_quoted_pairs() -> None:
    [challenge] = parse_www_authenticate(r'Bearer realm="a, \"b\" \\ c", error=invalid_token')
    assert challenge.params == {"realm": 'a, "b" \\ c', "error": "invalid_token"}


def test_several_challenges_in_one_value_and_across_lines() -> None:
    challenges = parse_www_authenticate(
        ['Basic realm="legacy", Negotiate abc==', 'DPoP algs="ES256", Bearer scope="x"']
    )
    assert [c.scheme for c in challenges] == ["Basic", "Negotiate", "DPoP", "Bearer"]
    assert challenges[1].token68 == "abc=="
    assert bearer_challenge(['Basic realm="x"', 'bearer scope="x y"']).scope == ["x", "y"]


def test_scheme_and_parameter_names_are_case_insensitive() -> None:
    challenge = bearer_challenge('BEARER Scope="a", RESOURCE_METADATA="u"')
    assert challenge is not None and challenge.scope == ["a"] and challenge.resource_metadata == "u"


@pytest.mark.parametrize(
    "header",
    ['Bearer realm="unterminated', 'Bearer a="1", a="2"', 'Bearer scope="x" junk', "=oops"],
)
def test_malformed_headers_raise_the_parsers_own_error(header: str) -> None:
    with pytest.raises(MalformedChallengeError):
        parse_www_authenticate(header)
    # ... and mean "no usable challenge" for the client, which then probes the well-known PRM.
    assert bearer_challenge(header) is None


def test_no_bearer_challenge_and_no_scope() -> None:
    assert bearer_challenge('Basic realm="x"') is None
    challenge = bearer_challenge("Bearer")
    assert challenge is not None and challenge.scope is None and challenge.error is None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(
    value=st.text(alphabet=string.printable.replace("\r", "").replace("\n", "")[:-2], max_size=30),
    description=st.text(alphabet=string.ascii_letters + ' ,="\\', max_size=30),
)
def test_any_quoted_value_survives_a_round_trip(value: str, description: str) -> None:
    header = f"Bearer realm={_quote(value)}, error_description={_quote(description)}, error=x"
    [challenge] = parse_www_authenticate(header)
    assert challenge.params == {"realm": value, "error_description": description, "error": "x"}
