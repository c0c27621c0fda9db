"""Scope arithmetic for step-up authorization: pure functions, one rule each.

Teaching code, hand-written on purpose: these few lines are where MCP clients most often go
wrong (step-up loops, scopes replaced instead of accumulated, a refresh used where only a new
authorization can widen the grant).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

OFFLINE_ACCESS = "offline_access"


def parse_scope(scope: str | None) -> list[str]:
    """RFC 6749 §3.3: a scope string is a space-delimited, order-free list of tokens.

    Order is kept anyway (first seen wins) so narration and requests are stable; empty items
    and duplicates are dropped.
    """
    return scope_union(scope.split(" ") if scope else [])


def format_scope(scopes: Iterable[str]) -> str:
    """RFC 6749 §3.3: the wire form, tokens joined by single spaces."""
    return " ".join(scopes)


def scope_union(*scope_lists: Iterable[str] | None) -> list[str]:
    """Union in first-seen order, without duplicates (SEP-2350).

    Called as `scope_union(previously_requested, granted, challenged)`: "Determine required
    scopes by computing the union of the client's previously requested scope set and the
    scopes from the current challenge" (MCP authorization, Step-Up Authorization Flow), plus
    what was granted so nothing the user already allowed is lost.
    """
    seen: dict[str, None] = {}
    for scopes in scope_lists:
        for scope in scopes or ():
            if scope:
                seen.setdefault(scope, None)
    return list(seen)


def is_strict_superset(candidate: Iterable[str], base: Iterable[str]) -> bool:
    """True when `candidate` asks for something `base` does not have.

    RFC 6749 §6: a refresh request "MUST NOT include any scope not originally granted", so a
    refresh can never widen a grant; a strictly larger set needs a new authorization.
    """
    return set(candidate) > set(base)


def select_initial_scopes(
    challenged: Sequence[str] | None, prm_scopes_supported: Sequence[str] | None
) -> list[str]:
    """MCP authorization, Scope Selection Strategy (SEP-835).

    1. the `scope` of the challenge; 2. else all of PRM `scopes_supported`; 3. else none
    (the `scope` parameter is then omitted).
    """
    if challenged:
        return list(challenged)
    if prm_scopes_supported:
        return list(prm_scopes_supported)
    return []


def with_offline_access(
    scopes: Sequence[str],
    *,
    as_scopes_supported: Sequence[str] | None,
    registered_grant_types: Sequence[str],
) -> list[str]:
    """SEP-2207: add `offline_access` only when the AS lists it in `scopes_supported` and the
    client registered the `refresh_token` grant; never otherwise (conformance
    `auth/offline-access-not-supported`)."""
    if (
        as_scopes_supported
        and OFFLINE_ACCESS in as_scopes_supported
        and "refresh_token" in registered_grant_types
    ):
        return scope_union(scopes, [OFFLINE_ACCESS])
    return list(scopes)
