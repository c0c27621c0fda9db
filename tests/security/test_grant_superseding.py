"""A new grant for the same client, user and resource supersedes the earlier ones (issue #12,
"Also"): each step-up used to leave the previous grant and its refresh token alive (one ladder
ended with 17 grants and 14 live refresh tokens for one client).

OAuth 2.1 §3.2.3: refresh tokens "MUST be bound to the scope and resource servers as consented by
the resource owner" -- the consent in force is the latest one, which may be narrower than an
earlier one when the user unticks a scope; §7.1.4: token privileges SHOULD be restricted to what
is needed. Grants for another resource or of another user are left alone.
"""

from __future__ import annotations

import httpx2
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    authorize,
    code_from,
    redeem,
    refresh,
    register,
)


def grant(stack, http: httpx2.Client, client_id: str, scope: str, **kwargs) -> dict:
    """One authorization of ``client_id`` through the real forms; the token response."""
    resource = kwargs.pop("resource", stack.resource)
    request = AuthorizationRequest(client_id, REDIRECT_URI, resource, scope=scope)
    code = code_from(authorize(http, stack.as_url, request, **kwargs), request)
    response = redeem(http, stack.as_url, request, code)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_new_grant_supersedes_the_earlier_one_for_the_same_client_user_and_resource(
    stack, http, introspect
) -> None:
    client_id = register(http, stack.as_url, [REDIRECT_URI])["client_id"]
    first = grant(stack, http, client_id, "notes:read notes:write offline_access")
    other_resource = grant(
        stack, http, client_id, "notes:read offline_access", resource=stack.other_resource
    )
    other_user = grant(stack, http, client_id, "notes:read offline_access", user="bob")
    # step-up where the user unticks notes:write: the latest consent is the one in force
    latest = grant(
        stack,
        http,
        client_id,
        "notes:read notes:write notes:delete offline_access",
        scopes=["notes:read", "notes:delete", "offline_access"],
    )
    assert "notes:write" not in latest["scope"].split()

    old = refresh(http, stack.as_url, client_id, first["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant", old.text
    assert introspect(stack, first["access_token"])["active"] is False

    for kept in (latest, other_resource, other_user):
        assert introspect(stack, kept["access_token"])["active"] is True
        response = refresh(http, stack.as_url, client_id, kept["refresh_token"])
        assert response.status_code == 200, response.text
