"""Grading, part 1: the rules about what a client sends (registration, authorization request,
token request, MCP request) and the ``iss`` check. One pure function per rule; each returns a
``Verdict`` with the evidence (event ids). Step-up and refresh rules are in grading_tokens.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from demo_as.lab.steps import (
    OFFLINE_ACCESS,
    Step,
    Verdict,
    is_401,
    of_kind,
    scopes,
    shown,
    verdict_of,
)

MIN_STATE_LENGTH = 16  # characters; 16 base64url characters carry 96 bits
TWIN_WINDOW = 600.0  # seconds between two registrations of what looks like one client


@dataclass(frozen=True)
class Context:
    """What a rule may know besides the client's own steps."""

    now: float
    registration: str = "dcr"  # "dcr", "cimd" or "preregistered"
    # Same-metadata registrations of other clients (views.twins_of gives the oldest one within
    # TWIN_WINDOW, the only one registers_once names).
    twins: list[Step] = field(default_factory=list)


def registers_once(steps: Sequence[Step], ctx: Context) -> Verdict:
    """RFC 7591 §3 / MCP Dynamic Client Registration: register once, reuse the client_id.

    Reuse is visible as several authorization requests under one client_id. A client_id used for
    at most one authorization while the same metadata (client_name, redirect URIs, software id)
    was registered again from the same address within ``TWIN_WINDOW`` looks like a client that
    registers on every authorization: a warning (the AS cannot tell it from two copies of one
    program started one after the other)."""
    rule = "registers-once"
    authorizations = of_kind(steps, "authorization-request")
    registrations = of_kind(steps, "registration")
    if ctx.registration == "cimd":
        if authorizations:
            return Verdict(rule, "pass", "uses a client ID metadata document: no registration")
        return Verdict(rule, "unobserved", "no authorization request yet")
    mine = registrations[0].at if registrations else None
    twins = [t for t in ctx.twins if mine is not None and abs(t.at - mine) <= TWIN_WINDOW]
    if twins and len(authorizations) <= 1:
        return Verdict(
            rule,
            "warn",
            f"used its client_id for {len(authorizations)} authorization(s) while the same "
            f"metadata was registered again from the same address as {twins[0].client_id}: it "
            "seems to register instead of reusing its client_id",
            [s.id for s in registrations + authorizations],
        )
    if not authorizations:
        return Verdict(rule, "unobserved", "no authorization request with this client_id yet")
    how = "registered once" if registrations else "registration not in the journal"
    return Verdict(
        rule,
        "pass",
        f"{how}; the client_id was reused for {len(authorizations)} authorization request(s)",
        [s.id for s in registrations + authorizations[:1]],
    )


def pkce_s256(steps: Sequence[Step], ctx: Context) -> Verdict:
    """OAuth 2.1 §4.1.1 / RFC 7636 §4.2: code_challenge with method S256 on every request."""
    failures, passes = [], []
    for step in of_kind(steps, "authorization-request"):
        method = step.get("code_challenge_method")
        if not step.get("code_challenge_present"):
            failures.append(("an authorization request carried no code_challenge", [step.id]))
        elif method != "S256":
            failures.append(
                (f"code_challenge_method was {method or 'missing (plain)'}, not S256", [step.id])
            )
        else:
            passes.append(("every authorization request used PKCE S256", [step.id]))
    return verdict_of("pkce-s256", failures, passes, "no authorization request yet")


def state(steps: Sequence[Step], ctx: Context) -> Verdict:
    """RFC 6749 §10.12, MCP Security Considerations: send an unguessable state (SHOULD: with
    PKCE, OAuth 2.1 §7.12 lets a client rely on it, so a missing state is a warning)."""
    warnings, passes = [], []
    for step in of_kind(steps, "authorization-request"):
        length = step.get("state_length")
        if not length:
            warnings.append(("an authorization request carried no state", [step.id]))
        elif length < MIN_STATE_LENGTH:
            warnings.append(
                (
                    f"state of {length} characters is guessable (want ≥ {MIN_STATE_LENGTH})",
                    [step.id],
                )
            )
        else:
            passes.append(("every authorization request carried a long random state", [step.id]))
    return verdict_of("state", [], passes, "no authorization request yet", warnings)


def known_resources(steps: Sequence[Step]) -> set[str]:
    """The PRM resource values: reported by the RS, and configured at the AS."""
    found: set[str] = set()
    for step in steps:
        if step.server == "rs" and step.get("resource"):
            found.add(step.get("resource"))
        found.update(step.get("known_resources") or [])
    return found


def resource_matches_prm(steps: Sequence[Step], ctx: Context) -> Verdict:
    """RFC 8707 §2, MCP Resource Parameter Implementation: ``resource`` = the PRM ``resource``
    byte for byte, on the authorization request and on every token request."""
    known = known_resources(steps)
    failures, passes = [], []
    for step in of_kind(steps, "authorization-request", "code-redemption", "refresh"):
        where = "/authorize" if step.kind == "authorization-request" else f"/token ({step.kind})"
        sent = step.get("resource")
        values = sent if isinstance(sent, list) else ([] if sent is None else [sent])
        if not values:
            failures.append((f"{where} was sent without resource", [step.id]))
        elif any(v not in known for v in values):
            failures.append(
                (f"{where} sent resource {values[0]!r}; the PRM says {sorted(known)}", [step.id])
            )
        else:
            passes.append(
                (f"resource {values[0]!r} sent on /authorize and /token, as in the PRM", [step.id])
            )
    return verdict_of("resource-matches-prm", failures, passes, "no authorization request yet")


def first_scope_from_challenge(steps: Sequence[Step], ctx: Context) -> Verdict:
    """SEP-835 Scope Selection Strategy: the first authorization asks for the scope of the 401
    challenge; asking for everything supported at first is a warning (not least privilege)."""
    rule = "first-scope-from-challenge"
    authorizations = of_kind(steps, "authorization-request")
    if not authorizations:
        return Verdict(rule, "unobserved", "no authorization request yet")
    first = authorizations[0]
    asked = [s for s in scopes(first.get("scope")) if s != OFFLINE_ACCESS]
    supported = [s for s in scopes(first.get("scopes_supported")) if s != OFFLINE_ACCESS]
    everything = len(supported) > 1 and set(asked) >= set(supported)
    challenges = [s for s in steps if is_401(s) and s.at <= first.at]
    if not challenges:
        if everything:
            return Verdict(
                rule, "warn", f"asked for everything ({shown(asked)}) at first", [first.id]
            )
        return Verdict(rule, "unobserved", "no 401 challenge linked to the first authorization")
    challenge = challenges[-1]
    challenged = scopes(challenge.get("scope"))
    evidence = [challenge.id, first.id]
    if not set(challenged) <= set(asked):
        return Verdict(
            rule,
            "fail",
            f"the 401 challenge named {shown(challenged)} but the client asked for {shown(asked)}",
            evidence,
        )
    if challenged and everything and set(challenged) < set(supported):
        return Verdict(
            rule,
            "warn",
            f"the challenge named {shown(challenged)}; the client asked for everything "
            f"({shown(asked)}): not least privilege",
            evidence,
        )
    return Verdict(
        rule, "pass", f"asked for {shown(asked)}, the scope the 401 challenge named", evidence
    )


def offline_access(steps: Sequence[Step], ctx: Context) -> Verdict:
    """SEP-2207: ask for offline_access only when the AS's scopes_supported lists it."""
    failures, passes = [], []
    authorizations = of_kind(steps, "authorization-request")
    for step in authorizations:
        if OFFLINE_ACCESS not in scopes(step.get("scope")):
            continue
        if OFFLINE_ACCESS in scopes(step.get("scopes_supported")):
            passes.append(("asked for offline_access, which the AS lists", [step.id]))
        else:
            failures.append(("asked for offline_access, which the AS does not list", [step.id]))
    if authorizations and not failures and not passes:
        passes.append(("never asked for offline_access", [authorizations[0].id]))
    return verdict_of("offline-access", failures, passes, "no authorization request yet")


def token_in_header(steps: Sequence[Step], ctx: Context) -> Verdict:
    """OAuth 2.1 §5.2, RFC 6750 §2.1: the token goes in the Authorization header, never the
    query string."""
    failures, passes = [], []
    for step in of_kind(steps, "mcp-request"):
        where = step.get("token_in")
        if where == "query":
            failures.append(("an MCP request carried the token in the query string", [step.id]))
        elif where == "header":
            passes.append(("every token was sent in the Authorization header", [step.id]))
    passes = passes[:1]  # one example is evidence enough
    return verdict_of("token-in-header", failures, passes, "no MCP request with a token yet")


def iss_checked(steps: Sequence[Step], ctx: Context) -> Verdict:
    """RFC 9207 §2.4: a response whose iss is wrong or missing (while the metadata advertises
    the parameter) must be refused: its code is never redeemed. Observable under a probe (or
    ``--iss-mode``)."""
    redemptions = {s.get("code_fingerprint"): s for s in of_kind(steps, "code-redemption")}
    failures, passes, waiting = [], [], []
    for response in of_kind(steps, "authorization-response"):
        status = response.get("iss_status")
        if status in (None, "correct") or response.get("outcome") != "code":
            continue
        what = "a wrong iss" if status == "wrong" else "no iss"
        redeemed = redemptions.get(response.get("code_fingerprint"))
        if redeemed is not None:
            failures.append(
                (
                    f"redeemed the code of a response with {what} at /token",
                    [response.id, redeemed.id],
                )
            )
            continue
        later = [s for s in of_kind(steps, "authorization-request") if s.at > response.at]
        if later or ctx.now >= (response.get("code_expires_at") or 0):
            passes.append(
                (f"refused the response with {what}: its code was never redeemed", [response.id])
            )
        else:
            waiting.append(response)
    unobserved = "fire the iss-wrong or iss-omit probe, then let the client authorize"
    if waiting:
        unobserved = (
            "a response was sent with a wrong or missing iss; its code is not redeemed so far "
            "(pass once the code expires unredeemed or the client authorizes again)"
        )
    return verdict_of("iss-checked", failures, passes, unobserved)
