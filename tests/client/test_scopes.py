"""Scope arithmetic: union (SEP-2350), strict superset (RFC 6749 §6), selection (SEP-835),
offline_access (SEP-2207)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from demo_client.scopes import (
    is_strict_superset,
    parse_scope,
    scope_union,
    select_initial_scopes,
    with_offline_access,
)

scope_lists = st.lists(st.sampled_from(["a", "b", "c", "d", "notes:read", "x:y"]), max_size=6)


def test_union_keeps_first_seen_order_without_duplicates() -> None:
    previous = ["notes:read", "offline_access"]
    granted = ["offline_access", "notes:read"]
    challenged = ["notes:write", "notes:read"]
    assert scope_union(previous, granted, challenged) == [
        "notes:read",
        "offline_access",
        "notes:write",
    ]
    assert scope_union(None, [], ["a"]) == ["a"]


@given(scope_lists, scope_lists, scope_lists)
def test_union_properties(previous: list[str], granted: list[str], challenged: list[str]) -> None:
    union = scope_union(previous, granted, challenged)
    assert len(union) == len(set(union))  # no duplicates
    assert set(union) == set(previous) | set(granted) | set(challenged)  # nothing lost or invented
    # first-seen order: each scope sits where it first appeared in the concatenation
    concatenated = previous + granted + challenged
    assert union == sorted(union, key=concatenated.index)
    assert scope_union(union, challenged) == union  # idempotent: re-challenging adds nothing
    assert union[: len(scope_union(previous))] == scope_union(previous)  # earlier scopes stay first


@given(scope_lists, scope_lists)
def test_strict_superset_means_something_new(candidate: list[str], base: list[str]) -> None:
    assert is_strict_superset(candidate, base) == (set(candidate) > set(base))
    assert not is_strict_superset(base, base)


def test_strict_superset_decides_refresh_versus_authorization() -> None:
    granted = ["notes:read", "offline_access"]
    assert is_strict_superset(["notes:read", "offline_access", "notes:write"], granted)
    assert not is_strict_superset(["offline_access", "notes:read"], granted)  # order is irrelevant
    assert not is_strict_superset(["notes:write"], granted)  # different, not wider


def test_initial_scope_selection_order() -> None:
    assert select_initial_scopes(["notes:read"], ["a", "b"]) == ["notes:read"]
    assert select_initial_scopes(None, ["a", "b"]) == ["a", "b"]
    assert select_initial_scopes([], None) == []


def test_offline_access_only_when_advertised_and_refresh_registered() -> None:
    grants = ["authorization_code", "refresh_token"]
    advertised = ["notes:read", "offline_access"]
    assert with_offline_access(
        ["notes:read"], as_scopes_supported=advertised, registered_grant_types=grants
    ) == [
        "notes:read",
        "offline_access",
    ]
    assert with_offline_access(
        ["notes:read"], as_scopes_supported=["notes:read"], registered_grant_types=grants
    ) == ["notes:read"]
    assert with_offline_access(
        ["notes:read"],
        as_scopes_supported=advertised,
        registered_grant_types=["authorization_code"],
    ) == ["notes:read"]
    assert with_offline_access(
        ["offline_access"], as_scopes_supported=advertised, registered_grant_types=grants
    ) == ["offline_access"]


def test_parse_scope_splits_on_spaces() -> None:
    assert parse_scope("a  b a") == ["a", "b"]
    assert parse_scope("") == [] and parse_scope(None) == []
