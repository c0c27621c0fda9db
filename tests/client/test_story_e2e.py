"""The story end to end against real demo_as + scoped_tools_server (embedded mode), checked
through its JSON event stream."""

from __future__ import annotations

import io
import json

import anyio

from demo_client.embedded import EmbeddedStack, embedded_stack
from demo_client.narration import Narrator
from demo_client.story import ROUNDS, StoryOptions, run_story


def run(stack: EmbeddedStack, **options: object) -> tuple[bool, list[dict[str, object]]]:
    out = io.StringIO()
    ok = anyio.run(
        run_story,
        StoryOptions(server_url=stack.server_url, **options),
        Narrator(json_lines=True, stream=out),
    )
    return ok, [json.loads(line) for line in out.getvalue().splitlines()]


def test_every_round_behaves_and_the_story_says_so(stack: EmbeddedStack) -> None:
    ok, events = run(stack)
    assert ok
    results = [e for e in events if e["event"] == "round_result"]
    assert [r["ok"] for r in results] == [True] * len(ROUNDS)
    assert events[-1] == {
        "round": len(ROUNDS),
        "tool": None,
        "event": "summary",
        "ok": True,
        "rounds": len(ROUNDS),
        "failed_rounds": [],
        "skipped_rounds": [],
    }
    # The step-up ladder, as requested at the AS: read, then read+write, then all three.
    requests = [
        (e["round"], e["requested"]) for e in events if e["event"] == "authorization_request"
    ]
    assert requests[:3] == [
        (1, ["notes:read", "offline_access"]),
        (2, ["notes:read", "offline_access", "notes:write"]),
        (3, ["notes:read", "offline_access", "notes:write", "notes:delete"]),
    ]
    # One registration for the whole story.
    assert [e["round"] for e in events if e["event"] == "registration"] == [1]
    # Round 4: refresh before the call, rotated, and both old and current refresh tokens refused.
    refresh = [e for e in events if e["event"] == "tokens" and e["how"] == "refresh_token"]
    assert len(refresh) == 1 and refresh[0]["rotated"] and refresh[0]["round"] == 4
    refused = [e for e in events if e["round"] == 4 and e["event"] == "refresh_refused"]
    assert [e["error"] for e in refused] == ["invalid_grant", "invalid_grant"]
    assert [e["reason"] for e in refused] == [
        "the old refresh token presented again",
        "the current refresh token presented again",
    ]
    # Scopes are lists in JSON lines, and every line carries round and tool.
    assert all("round" in e and "tool" in e for e in events)
    unions = [e for e in events if e["event"] == "scope_union"]
    assert all(isinstance(e["union"], list) for e in unions)


def test_the_prose_says_why_each_round_starts_as_it_does(stack: EmbeddedStack) -> None:
    """What a reader needs to follow the story: times after round 4 are on the simulated clock;
    rounds 5 and 7 say why a new session starts with a 401; round 5 says what the user unticked."""
    out = io.StringIO()
    assert anyio.run(run_story, StoryOptions(server_url=stack.server_url), Narrator(stream=out)), (
        out.getvalue()
    )
    text = out.getvalue()
    rounds = {int(part.split(":", 1)[0]): part for part in text.split("Round ")[1:]}
    assert "on the story's simulated clock" in rounds[4]
    assert "on the story's simulated clock" not in rounds[3]
    assert "refused (the old refresh token presented again) → invalid_grant" in rounds[4]
    for number in (5, 7):
        assert rounds[number].index("new MCP session with no token") < rounds[number].index(
            "HTTP 401"
        )
    assert "UNTICKS notes:write" in rounds[5]
    assert "presses Deny" in rounds[7]


def test_against_an_auto_approving_as_the_consent_rounds_are_skipped_with_the_reason() -> None:
    """With `--auto-approve` no consent page is shown, so the user cannot untick or deny: rounds
    5 and 7 are skipped, saying so and naming the switch, instead of failing unexplained."""
    with embedded_stack(auto_approve=True) as auto:
        ok, events = run(auto)
    assert ok
    skipped = [e for e in events if e["event"] == "round_skipped"]
    assert [e["round"] for e in skipped] == [5, 7]
    assert all("DEMO_AS_AUTO_APPROVE=true" in e["text"] for e in skipped)
    results = [(e["round"], e["ok"]) for e in events if e["event"] == "round_result"]
    assert results == [(1, True), (2, True), (3, True), (4, True), (6, True)]
    assert events[-1]["skipped_rounds"] == ["round 5", "round 7"]


def test_partial_consent_stops_at_the_cap_with_a_typed_error(stack: EmbeddedStack) -> None:
    """Round 5 with a cap of 2: exactly two step-up authorizations, then InsufficientScopeError."""
    ok, events = run(stack, max_step_up_retries=2)
    assert ok
    round5 = [e for e in events if e["round"] == 5]
    assert (
        len([e for e in round5 if e["event"] == "authorization_request"]) == 3
    )  # 401 + 2 step-ups
    [error] = [e for e in round5 if e["event"] == "insufficient_scope_error"]
    assert error["required"] == ["notes:write"] and error["attempts"] == 2
    assert "after 2 step-up attempt(s)" in error["message"]


def test_cap_zero_behaves_like_throw_and_says_so(stack: EmbeddedStack) -> None:
    ok, events = run(stack, max_step_up_retries=0)
    assert ok
    round5 = [e for e in events if e["round"] == 5]
    assert len([e for e in round5 if e["event"] == "authorization_request"]) == 1  # only the 401
    [error] = [e for e in round5 if e["event"] == "insufficient_scope_error"]
    assert error["attempts"] == 0
    assert "not re-authorizing because max_step_up_retries is 0" in error["message"]


def test_story_also_holds_against_cumulative_challenges() -> None:
    """An RS in `--challenge-scope cumulative` mode names granted ∪ required in its 403s (the
    2025-11-25 advice for clients that do not accumulate). The union is then the same, so every
    round still behaves; the challenge of round 2 carries both scopes."""
    with embedded_stack(rs_overrides={"challenge_scope": "cumulative"}) as cumulative:
        ok, events = run(cumulative)
    assert ok
    unions = [e for e in events if e["event"] == "scope_union"]
    assert unions[0]["round"] == 2
    assert set(unions[0]["challenged"]) == {"notes:read", "notes:write"}
