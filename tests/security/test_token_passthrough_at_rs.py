"""A real token presented where it was not issued for: the resource server must refuse it, and a
refused token writes nothing (MCP security best practices "Token passthrough", RFC 8707 §2,
RFC 9068 §4, RFC 6750 §3.1).

Which forged tokens the RS refuses (``alg: none``, HS256 keyed with the public key, foreign or
embedded keys, tampered payloads, expired, not yet valid, wrong audience, issuer or ``typ``,
missing claims) is decided by its token verifier and tested there, one rule per test, with the
exact reason (tests/resource_server/test_token_verification.py); the 401 answer those reasons
become is tests/resource_server/test_gate.py's. What only the real stack shows is here: a token
the real AS issued, through the real flow, for its *other* resource.
"""

from __future__ import annotations

from harness.db_rows import unchanged
from harness.mcp_raw import call_tool, headers, open_session, tool_call, tool_result
from harness.oauth_flow import issue_tokens


def test_rs_refuses_a_real_token_issued_for_another_resource(stack, http) -> None:
    """MCP security best practices "Token passthrough": a token the real AS issued, through the
    real flow, for another resource must not work here: 401 ``invalid_token`` pointing at the
    PRM (RFC 9728 §5.1), and the note it tries to write in an open session is not written. The
    same user's token for this resource works in that session (the control)."""
    _client, _request, ours = issue_tokens(
        http, stack.as_url, stack.resource, scope="notes:read notes:write"
    )
    session = open_session(http, stack.resource, ours["access_token"])
    note = {"title": "control", "body": "the honest token works"}
    control = call_tool(http, stack.resource, ours["access_token"], session, "create_note", note)
    assert tool_result(control).get("isError") is not True
    _client, _request, foreign = issue_tokens(
        http, stack.as_url, stack.other_resource, scope="notes:read notes:write"
    )
    with unchanged(stack.notes_engine):
        response = http.post(
            stack.resource,
            json=tool_call("create_note", {"title": "forged", "body": "should not exist"}),
            headers=headers(foreign["access_token"], session),
        )
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge
