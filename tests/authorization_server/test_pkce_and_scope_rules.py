"""PKCE (RFC 7636) and scope (RFC 6749 §3.3) rules as pure functions."""

import pytest
from harness.oauth_flow import s256_challenge as reference_s256

from demo_as.pkce import code_challenge_problem, s256, verifier_matches
from demo_as.scopes import parse_scope, scope_exceeds, scope_union, unknown_scopes

VERIFIER = "a" * 20 + "-._~" + "Z9" * 10  # 44 unreserved characters


def test_s256_is_base64url_sha256_without_padding() -> None:
    assert s256(VERIFIER) == reference_s256(VERIFIER)
    assert len(s256(VERIFIER)) == 43


def test_verifier_matches_only_its_own_challenge() -> None:
    challenge = reference_s256(VERIFIER)
    assert verifier_matches(VERIFIER, challenge)
    assert not verifier_matches(VERIFIER + "x", challenge)
    assert not verifier_matches("short", reference_s256("short"))  # < 43 chars (RFC 7636 §4.1)
    assert not verifier_matches("é" * 43, challenge)


@pytest.mark.parametrize(
    ("challenge", "method", "expected"),
    [
        (None, "S256", "required"),
        ("", "S256", "required"),
        (reference_s256(VERIFIER), None, "missing"),
        (reference_s256(VERIFIER), "plain", "'plain'"),
        (reference_s256(VERIFIER), "s256", "'s256'"),
        ("x" * 42, "S256", "43"),
        ("+" * 43, "S256", "43"),
    ],
)
def test_challenge_problems(challenge: str | None, method: str | None, expected: str) -> None:
    problem = code_challenge_problem(challenge, method)
    assert problem is not None
    assert expected in problem


def test_good_challenge_passes() -> None:
    assert code_challenge_problem(reference_s256(VERIFIER), "S256") is None


def test_parse_scope_keeps_order_and_drops_duplicates() -> None:
    assert parse_scope("notes:write  notes:read notes:write") == ["notes:write", "notes:read"]
    assert parse_scope(None) == []
    with pytest.raises(ValueError, match=r"NQCHAR|6749"):
        parse_scope('notes:read "quoted"')


def test_scope_set_rules() -> None:
    supported = ["notes:read", "notes:write"]
    assert unknown_scopes(["notes:read", "admin"], supported) == ["admin"]
    assert scope_exceeds(["notes:read"], supported) == []
    assert scope_exceeds(["notes:read", "notes:delete"], supported) == ["notes:delete"]
    assert scope_union(["a", "b"], ["b", "c"]) == ["a", "b", "c"]
