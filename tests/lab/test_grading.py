"""The report card's rules as pure functions over event lists (demo_as/lab/grading*.py).

The timelines are the ones real clients produce: an honest SEP-2350 client, the TypeScript SDK
v1 patterns (scope replaced on step-up, refresh on a 403 that asks for more, iss not checked),
and the demo-client story's deliberate breaks.
"""

from __future__ import annotations

from lab.timeline import Timeline

R, W, D, OFF = "notes:read", "notes:write", "notes:delete", "offline_access"


def honest_ladder() -> Timeline:
    """401 → read; 403 write → union; 403 delete → union; refresh; the way the story goes."""
    t = Timeline()
    t.challenge(401, R)
    t.register()
    token = t.full_authorization(f"{R} {OFF}")
    t.call(token)
    t.challenge(403, W, token, tool="create_note")
    token = t.full_authorization(f"{R} {OFF} {W}")
    t.call(token, tool="create_note")
    t.challenge(403, D, token, tool="delete_note")
    token = t.full_authorization(f"{R} {OFF} {W} {D}")
    t.call(token, tool="delete_note")
    t.refresh(3, f"{R} {OFF} {W} {D}")
    return t


def test_honest_ladder_passes_every_observed_rule():
    verdicts = honest_ladder().verdicts()
    failing = {rule: v.detail for rule, v in verdicts.items() if v.verdict in ("fail", "warn")}
    assert failing == {}
    assert {r for r, v in verdicts.items() if v.verdict == "unobserved"} == {
        "retry-cap",
        "iss-checked",
        "drops-rejected-token",
    }
    assert verdicts["step-up-union"].events  # evidence names the challenge and the request


def test_replacing_scope_on_step_up_fails_union():
    """TypeScript SDK v1 without a refresh token: asks for the challenged scope only."""
    t = Timeline()
    t.challenge(401, R)
    token = t.full_authorization(R)
    challenge = t.challenge(403, W, token)
    request = t.authorize(W)
    verdict = t.verdicts()["step-up-union"]
    assert verdict.verdict == "fail"
    assert "'notes:read' dropped" in verdict.detail
    assert verdict.events == [challenge.id, request.id]
    assert t.verdicts()["no-refresh-to-widen"].verdict == "pass"


def test_refresh_on_a_403_that_asks_for_more_fails():
    """TypeScript SDK v1 holding a refresh token: refreshes, retries, gets the same 403."""
    t = Timeline()
    token = t.full_authorization(f"{R} {OFF}")
    t.challenge(403, W, token, tool="create_note")
    refreshed = t.refresh(1, f"{R} {OFF}")
    t.challenge(403, W, refreshed, tool="create_note")
    verdicts = t.verdicts()
    assert verdicts["no-refresh-to-widen"].verdict == "fail"
    assert verdicts["step-up-union"].verdict == "unobserved"
    assert verdicts["retry-cap"].verdict == "pass"  # it stopped after one attempt
    # that refresh was a widening attempt, not evidence of refreshing before re-authorizing
    assert verdicts["refresh-before-reauth"].verdict == "unobserved"


def test_refresh_that_the_grant_covers_is_not_a_widening():
    t = Timeline()
    token = t.full_authorization(f"{R} {W}")
    t.challenge(403, W, token)
    t.refresh(1, f"{R} {W}")
    assert t.verdicts()["no-refresh-to-widen"].verdict == "unobserved"


def test_iss_checked_fails_when_the_probed_code_is_redeemed():
    t = Timeline()
    t.authorize(R)
    code = t.respond(iss_status="wrong")
    t.redeem(code, R)
    verdict = t.verdicts()["iss-checked"]
    assert verdict.verdict == "fail"
    assert len(verdict.events) == 2


def test_iss_checked_passes_when_the_code_is_never_redeemed():
    t = Timeline()
    t.authorize(R)
    t.respond(iss_status="omitted")
    assert t.verdicts()["iss-checked"].verdict == "unobserved"  # within the code's lifetime
    assert t.verdicts(now=t.clock + 61)["iss-checked"].verdict == "pass"
    t.full_authorization(R)  # a fresh attempt decides it at once
    assert t.verdicts()["iss-checked"].verdict == "pass"


def test_iss_checked_is_unobserved_without_a_probe():
    t = Timeline()
    t.full_authorization(R)
    assert t.verdicts()["iss-checked"].verdict == "unobserved"


def test_replayed_rotated_refresh_token_fails_rotation():
    """Story round 4: refresh, then the old refresh token is presented again."""
    t = Timeline()
    t.full_authorization(f"{R} {OFF}")
    t.refresh(1, f"{R} {OFF}")
    replay = t.refresh(1, "", status="rotated")
    assert replay == ""
    reuse = t.add("as", "reuse-detected", presented_refresh_fingerprint="sha256:rt1")
    t.refresh(2, "", status="revoked")
    verdicts = t.verdicts()
    assert verdicts["refresh-rotation-followed"].verdict == "fail"
    assert reuse.id in verdicts["refresh-rotation-followed"].events
    assert verdicts["drops-rejected-token"].verdict == "unobserved"  # each presented once
    assert verdicts["refresh-before-reauth"].verdict == "pass"


def test_presenting_a_refused_refresh_token_again_fails():
    t = Timeline()
    t.full_authorization(R)
    t.refresh(1, "", status="revoked")
    t.refresh(1, "", status="revoked")
    assert t.verdicts()["drops-rejected-token"].verdict == "fail"


def test_partial_consent_and_retry_cap():
    """Story round 5: the user keeps unticking write; one step-up, then the client stops."""
    t = Timeline()
    token = t.full_authorization(f"{R} {OFF}")
    t.challenge(403, W, token, tool="create_note")
    token = t.full_authorization(f"{R} {OFF} {W}", granted=f"{R} {OFF}")
    t.challenge(403, W, token, tool="create_note")
    verdicts = t.verdicts()
    assert verdicts["retry-cap"].verdict == "pass"
    assert verdicts["step-up-union"].verdict == "pass"


def test_looping_on_a_repeated_403_fails_retry_cap():
    t = Timeline()
    token = t.full_authorization(R)
    for _ in range(5):
        t.challenge(403, W, token, tool="create_note")
        token = t.full_authorization(f"{R} {W}", granted=R)
    t.challenge(403, W, token, tool="create_note")
    assert t.verdicts()["retry-cap"].verdict == "fail"


def test_expired_token_with_live_refresh_token_must_refresh():
    t = Timeline()
    token = t.full_authorization(f"{R} {OFF}")  # lives 300 s
    t.wait(301)
    t.challenge(401, R, token)
    t.authorize(R)
    verdict = t.verdicts()["refresh-before-reauth"]
    assert verdict.verdict == "fail"
    assert "held a valid refresh token" in verdict.detail


def test_reauthorizing_after_a_refused_refresh_is_right():
    t = Timeline()
    token = t.full_authorization(f"{R} {OFF}")
    t.add("as", "grant-revoked", probe_id="p")
    t.wait(301)
    t.challenge(401, R, token)
    t.refresh(1, "", status="revoked")
    t.full_authorization(R)
    assert t.verdicts()["refresh-before-reauth"].verdict != "fail"


def test_resending_a_token_refused_with_401_fails():
    t = Timeline()
    token = t.full_authorization(R)
    t.challenge(401, R, token)
    t.wait(2)
    t.call(token, status=401)
    t.challenge(401, R, token)
    assert t.verdicts()["drops-rejected-token"].verdict == "fail"
    t2 = Timeline()
    token = t2.full_authorization(R)
    t2.challenge(401, R, token)
    t2.wait(2)
    t2.call(t2.refresh(1, R))
    assert t2.verdicts()["drops-rejected-token"].verdict == "pass"
    t3 = Timeline()  # the rs-invalid-token probe refused a good token; a later resend works
    token = t3.full_authorization(R)
    t3.challenge(401, R, token)
    t3.wait(2)
    t3.call(token)
    assert t3.verdicts()["drops-rejected-token"].verdict == "unobserved"


def test_request_shape_rules_fail_on_bad_requests():
    t = Timeline()
    t.challenge(401, R)
    t.authorize(
        f"{R} {W} {D} {OFF}",
        code_challenge_method="plain",
        state_length=None,
        resource=["http://127.0.0.1:8000/mcp/"],
        scopes_supported=[R, W, D],
    )
    t.call("sha256:x", token_in="query")
    verdicts = t.verdicts()
    assert verdicts["pkce-s256"].verdict == "fail"
    assert verdicts["state"].verdict == "warn"
    assert verdicts["resource-matches-prm"].verdict == "fail"
    assert verdicts["offline-access"].verdict == "fail"
    assert verdicts["token-in-header"].verdict == "fail"
    assert verdicts["first-scope-from-challenge"].verdict == "warn"  # asked for everything


def test_first_scope_missing_the_challenged_scope_fails():
    t = Timeline()
    t.challenge(401, W)
    t.authorize(R)
    assert t.verdicts()["first-scope-from-challenge"].verdict == "fail"


def test_token_request_without_resource_fails():
    t = Timeline()
    t.authorize(R)
    t.issued("code-redemption", R)
    t.steps[-1].detail["resource"] = None
    assert t.verdicts()["resource-matches-prm"].verdict == "fail"


def test_registration_reuse_and_re_registration():
    t = honest_ladder()
    assert t.verdicts()["registers-once"].verdict == "pass"
    again = Timeline("client-2")
    twin = again.register()
    again.full_authorization(R)
    other = Timeline("client-3")
    other.register()
    other.full_authorization(R)
    assert again.verdicts(twins=[other.steps[0]])["registers-once"].verdict == "warn"
    assert t.verdicts(twins=[twin])["registers-once"].verdict == "pass"  # it reused its id
    assert Timeline().verdicts(registration="cimd")["registers-once"].verdict == "unobserved"
