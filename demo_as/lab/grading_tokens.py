"""Grading, part 2: step-up and token-lifecycle rules. One pure function per rule."""

from __future__ import annotations

from collections.abc import Sequence

from demo_as.lab.grading import Context
from demo_as.lab.steps import (
    Step,
    Verdict,
    granted_for,
    is_401,
    is_step_up_challenge,
    issued_tokens,
    of_kind,
    scopes,
    shown,
    step_up_reactions,
    verdict_of,
    widening,
)

MAX_STEP_UPS = 3  # step-ups for one repeated 403 beyond which a client is looping
MAX_REPEATED_403 = 6  # the same 403, resent this often without success, is a loop too
RESEND_GRACE = 1.0  # requests already in flight when a 401 arrived are not a resend


def step_up_union(steps: Sequence[Step], ctx: Context) -> Verdict:
    """SEP-2350: a re-authorization after 403 insufficient_scope asks for at least
    granted ∪ challenged (the client's previously requested set is in its union too)."""
    tokens = issued_tokens(steps)
    failures, passes = [], []
    for challenge, reaction in step_up_reactions(steps):
        if reaction.kind != "authorization-request":
            continue
        granted = granted_for(challenge, steps, tokens)
        challenged = scopes(challenge.get("scope"))
        asked = scopes(reaction.get("scope"))
        missing = [s for s in dict.fromkeys(granted + challenged) if s not in asked]
        evidence = [challenge.id, reaction.id]
        if missing:
            failures.append(
                (
                    f"after a 403 naming {shown(challenged)} with {shown(granted)} granted, the "
                    f"client asked for {shown(asked)}: {shown(missing)} dropped (replaced, not "
                    "unioned)",
                    evidence,
                )
            )
        else:
            passes.append((f"step-up asked for {shown(asked)} ⊇ granted ∪ challenged", evidence))
    return verdict_of("step-up-union", failures, passes, "no re-authorization after a 403 yet")


def no_refresh_to_widen(steps: Sequence[Step], ctx: Context) -> Verdict:
    """RFC 6749 §6: a refresh cannot add scope; answering a 403 that names a scope the grant
    lacks with a refresh (and retrying) is a fail, a new authorization a pass."""
    tokens = issued_tokens(steps)
    failures, passes = [], []
    for challenge, reaction in step_up_reactions(steps):
        needed = widening(challenge, steps, tokens)
        if not needed:
            continue  # the grant already covers the challenge: a refresh may be right
        evidence = [challenge.id, reaction.id]
        if reaction.kind == "refresh":
            failures.append(
                (
                    f"answered a 403 needing {shown(needed)} with a refresh, which can never "
                    "widen the grant",
                    evidence,
                )
            )
        else:
            passes.append((f"answered a 403 needing {shown(needed)} with /authorize", evidence))
    return verdict_of("no-refresh-to-widen", failures, passes, "no 403 insufficient_scope yet")


def repeated_403_streaks(steps: Sequence[Step]) -> list[list[Step]]:
    """Runs of 403 insufficient_scope for the same tool with no success for it in between."""
    open_runs: dict[object, list[Step]] = {}
    runs: list[list[Step]] = []
    for step in steps:
        tool = step.get("tool")
        if is_step_up_challenge(step):
            open_runs.setdefault(tool, []).append(step)
        elif step.kind in ("mcp-request", "tool-result") and tool in open_runs:
            status = step.get("status")
            if (step.kind == "tool-result") or (isinstance(status, int) and status < 400):
                runs.append(open_runs.pop(tool))
    runs.extend(open_runs.values())
    return [run for run in runs if len(run) >= 2]


def retry_cap(steps: Sequence[Step], ctx: Context) -> Verdict:
    """MCP Step-Up Authorization Flow: clients SHOULD implement retry limits. The same 403 after
    a step-up means the user did not grant it; the client must stop after a few attempts."""
    failures, passes = [], []
    for run in repeated_403_streaks(steps):
        first, last = run[0], run[-1]
        attempts = [
            s
            for s in of_kind(steps, "authorization-request", "refresh")
            if first.at < s.at < last.at
        ]
        evidence = [s.id for s in run] + [s.id for s in attempts]
        tool = first.get("tool") or "a request"
        if len(attempts) > MAX_STEP_UPS or len(run) > MAX_REPEATED_403:
            failures.append(
                (
                    f"{tool} was refused 403 {len(run)} times with {len(attempts)} step-ups in "
                    "between: the client loops",
                    evidence,
                )
            )
        else:
            passes.append(
                (
                    f"{tool} was refused 403 {len(run)} times; the client stopped after "
                    f"{len(attempts)} step-up(s)",
                    evidence,
                )
            )
    return verdict_of("retry-cap", failures, passes, "no repeated 403 yet")


def refresh_chains(steps: Sequence[Step]) -> dict[str, Step]:
    """Refresh-token fingerprint -> the token response that issued it."""
    return {
        s.get("refresh_token_fingerprint"): s
        for s in of_kind(steps, "code-redemption", "refresh")
        if s.get("outcome") == "issued" and s.get("refresh_token_fingerprint")
    }


def live_refresh_token(issuer: Step, steps: Sequence[Step], at: float) -> str | None:
    """The refresh token the client held at ``at`` from the token response ``issuer`` (following
    rotations), or None when it had none or it was revoked, refused or expired by then."""
    current = issuer.get("refresh_token_fingerprint")
    if not current:
        return None
    for step in steps:
        if step.at >= at:
            break
        if step.at <= issuer.at:
            continue
        if step.kind == "refresh" and step.get("presented_refresh_fingerprint") == current:
            if step.get("outcome") != "issued":
                return None
            current = step.get("refresh_token_fingerprint")
        if step.kind in ("reuse-detected", "grant-revoked") or (
            step.kind == "revocation" and step.get("token_type") == "refresh_token"
        ):
            return None
    expires = issuer.get("refresh_expires_at")
    return current if expires is None or at < expires else None


def refresh_before_reauth(steps: Sequence[Step], ctx: Context) -> Verdict:
    """OAuth 2.1 §4.3: with a valid refresh token, an expired access token is refreshed; the
    user is sent back to log in only when the refresh is refused."""
    tokens = issued_tokens(steps)
    widen_attempts = {r.id for c, r in step_up_reactions(steps) if r.kind == "refresh"}
    failures, passes = [], []
    for challenge in steps:
        if not (is_401(challenge) and challenge.token_fingerprint in tokens):
            continue
        issuer = tokens[challenge.token_fingerprint]
        expired = (issuer.get("access_token_expires_at") or float("inf")) <= challenge.at
        next_move = next(
            (s for s in of_kind(steps, "authorization-request", "refresh") if s.at > challenge.at),
            None,
        )
        if not expired or next_move is None or next_move.kind != "authorization-request":
            continue
        if live_refresh_token(issuer, steps, next_move.at):
            failures.append(
                (
                    "the access token expired and the client held a valid refresh token, but "
                    "sent the user to /authorize instead of refreshing",
                    [challenge.id, next_move.id],
                )
            )
    for step in of_kind(steps, "refresh"):
        if step.get("outcome") == "issued" and step.id not in widen_attempts:
            passes.append(("refreshed the access token instead of re-authorizing", [step.id]))
    return verdict_of(
        "refresh-before-reauth",
        failures,
        passes[:1],
        "no expired access token yet (the short-token probe makes one)",
    )


def refresh_rotation_followed(steps: Sequence[Step], ctx: Context) -> Verdict:
    """OAuth 2.1 §4.3.1: each refresh presents the newest refresh token; presenting a rotated one
    is reuse, and the AS revokes the grant."""
    failures, passes = [], []
    reuse = of_kind(steps, "reuse-detected")
    for step in of_kind(steps, "refresh"):
        status = step.get("presented_status")
        if status == "rotated":
            related = [r.id for r in reuse if abs(r.at - step.at) < 5]
            presented = step.get("presented_refresh_fingerprint")
            failures.append(
                (
                    f"presented the rotated refresh token {presented} again: reuse detected, "
                    "the grant was revoked",
                    [step.id, *related],
                )
            )
        elif status == "active":
            passes.append(("every refresh presented the newest refresh token", [step.id]))
    return verdict_of("refresh-rotation-followed", failures, passes[-1:], "no refresh yet")


def drops_rejected_token(steps: Sequence[Step], ctx: Context) -> Verdict:
    """RFC 6750 §3.1: after 401 invalid_token the client gets a new token and retries; it does
    not keep sending the refused access token (each resend refused again is a loop), nor present
    a refused refresh token again. (A resend the RS accepts, e.g. after the rs-invalid-token
    probe, is no loop: the token was good.)"""
    failures, passes = [], []
    challenges = [s for s in steps if is_401(s) and s.get("error") == "invalid_token"]
    for challenge in challenges:
        refused = challenge.token_fingerprint
        if not refused:
            continue
        again = [
            s
            for s in challenges
            if s.token_fingerprint == refused and s.at > challenge.at + RESEND_GRACE
        ]
        renewed = [
            s
            for s in of_kind(steps, "mcp-request")
            if s.at > challenge.at and s.token_fingerprint not in (None, refused)
        ]
        if again:
            failures.append(
                (
                    f"kept sending the access token {refused} after the RS refused it with 401 "
                    f"({len(again)} more 401s for it)",
                    [challenge.id, again[0].id],
                )
            )
        elif renewed:
            passes.append(
                (
                    "after a 401 invalid_token, retried with a new token",
                    [challenge.id, renewed[0].id],
                )
            )
    refused_refresh: dict[str, Step] = {}
    for step in of_kind(steps, "refresh"):
        presented = step.get("presented_refresh_fingerprint")
        if presented in refused_refresh:
            failures.append(
                (
                    f"presented the refresh token {presented} again after it was refused",
                    [refused_refresh[presented].id, step.id],
                )
            )
        elif step.get("outcome") not in (None, "issued") and presented:
            refused_refresh[presented] = step
    return verdict_of(
        "drops-rejected-token",
        failures,
        passes,
        "no 401 invalid_token on a token yet (the rs-invalid-token probe makes one)",
    )
