"""Attacks on the token endpoint: code redemption (OAuth 2.1 §4.1.3, RFC 7636 §4.6, RFC 8707)
and refresh (OAuth 2.1 §4.3, RFC 9700 §4.14).

Every refusal is checked for its RFC 6749 §5.2 error code *and* for side effects: a refused
request must not issue, rotate or burn anything (OAuth 2.1 §7.5.3: a request with wrong
parameters must not even let an attacker revoke the victim's tokens). The one deliberate side
effect is the defence itself: a *valid* replay revokes what the first use issued.
"""

from __future__ import annotations

import base64

import httpx2
from harness.db_rows import count, unchanged
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    authorize,
    code_from,
    issue_tokens,
    redeem,
    refresh,
    register,
)


def issue_code(stack, http: httpx2.Client, scope: str = "notes:read", **client_meta):
    """A registered client, its authorization request and a fresh, unredeemed code."""
    client = register(http, stack.as_url, [REDIRECT_URI], **client_meta)
    request = AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource, scope=scope)
    return client, request, code_from(authorize(http, stack.as_url, request), request)


def refused(
    stack, response_call, error: str, status: int = 400, *, side_effect_free: bool = True
) -> httpx2.Response:
    """Run the request; assert the RFC 6749 §5.2 refusal and (by default) no row changed."""
    if side_effect_free:
        with unchanged(stack.engine):
            response = response_call()
    else:
        response = response_call()
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert "access_token" not in body and "refresh_token" not in body
    assert "no-store" in response.headers.get("cache-control", "")
    return response


# --- authorization code ---------------------------------------------------------------------


def test_token_wrong_code_verifier_is_refused_and_does_not_burn_the_code(stack, http) -> None:
    """RFC 7636 §4.6: a verifier whose S256 differs from the challenge gets ``invalid_grant``.
    OAuth 2.1 §7.5.3: the failed attempt must not consume the code (an attacker holding a stolen
    code without the verifier must not be able to deny the real client its tokens)."""
    _client, request, code = issue_code(stack, http)
    wrong = "w" * 64
    refused(
        stack,
        lambda: redeem(http, stack.as_url, request, code, code_verifier=wrong),
        "invalid_grant",
    )
    assert redeem(http, stack.as_url, request, code).status_code == 200


def test_token_missing_code_verifier_is_refused(stack, http) -> None:
    """OAuth 2.1 §4.1.3 / RFC 7636 §4.5: a code issued with a challenge needs the verifier."""
    _client, request, code = issue_code(stack, http)
    refused(
        stack,
        lambda: redeem(http, stack.as_url, request, code, code_verifier=None),
        "invalid_request",
    )


def test_token_foreign_code_verifier_is_refused(stack, http) -> None:
    """RFC 7636 §1 (code interception): the verifier of *another* valid request of the same
    client does not unlock this code; the binding is per authorization request."""
    _client, request, code = issue_code(stack, http)
    other = AuthorizationRequest(request.client_id, REDIRECT_URI, stack.resource)
    refused(
        stack,
        lambda: redeem(http, stack.as_url, request, code, code_verifier=other.verifier),
        "invalid_grant",
    )


def test_token_redirect_uri_mismatch_is_refused(stack, http) -> None:
    """RFC 6749 §4.1.3 / OAuth 2.1 §10.2: if sent, ``redirect_uri`` must equal the one the code
    was issued for (defends code injection through a second registered URI)."""
    client = register(http, stack.as_url, [REDIRECT_URI, "http://127.0.0.1:33418/other"])
    request = AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource)
    code = code_from(authorize(http, stack.as_url, request), request)
    refused(
        stack,
        lambda: redeem(
            http, stack.as_url, request, code, redirect_uri="http://127.0.0.1:33418/other"
        ),
        "invalid_grant",
    )


def test_token_code_redeemed_by_another_client_is_refused(stack, http) -> None:
    """OAuth 2.1 §4.1.3: "ensure that the authorization code was issued to the authenticated
    confidential client, or ... to the public client identified by client_id". The victim can
    still redeem afterwards: the thief cannot burn the code."""
    _victim, request, code = issue_code(stack, http)
    thief = register(http, stack.as_url, [REDIRECT_URI])
    refused(
        stack,
        lambda: redeem(http, stack.as_url, request, code, client_id=thief["client_id"]),
        "invalid_grant",
    )
    assert redeem(http, stack.as_url, request, code).status_code == 200


def test_token_code_replay_is_refused_and_revokes_what_it_issued(stack, http, introspect) -> None:
    """OAuth 2.1 §4.1.3 / RFC 9700 §4.5: a code is single use; on a second (valid) redemption the
    AS "MUST deny the request and SHOULD revoke ... all tokens previously issued based on that
    authorization code": the first access token goes inactive and its refresh token dies."""
    _client, request, code = issue_code(stack, http, scope="notes:read offline_access")
    first = redeem(http, stack.as_url, request, code)
    assert first.status_code == 200
    tokens = first.json()
    assert introspect(stack, tokens["access_token"])["active"] is True
    grants_before = count(stack.engine, "grant")
    refused(
        stack,
        lambda: redeem(http, stack.as_url, request, code),
        "invalid_grant",
        side_effect_free=False,
    )
    assert count(stack.engine, "grant") == grants_before, "the replay issued no new grant"
    assert introspect(stack, tokens["access_token"])["active"] is False
    again = refresh(http, stack.as_url, request.client_id, tokens["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_token_unknown_code_is_refused(stack, http) -> None:
    """RFC 6749 §5.2 ``invalid_grant``: a guessed or made-up code."""
    client = register(http, stack.as_url, [REDIRECT_URI])
    request = AuthorizationRequest(client["client_id"], REDIRECT_URI, stack.resource)
    refused(stack, lambda: redeem(http, stack.as_url, request, "A" * 43), "invalid_grant")


def test_token_resource_swap_is_refused(stack, http) -> None:
    """RFC 8707 §2: the token request may not name a resource other than the one the user
    consented to; a swap would mint a token for a server the user never saw."""
    _client, request, code = issue_code(stack, http)
    refused(
        stack,
        lambda: redeem(http, stack.as_url, request, code, resource=stack.other_resource),
        "invalid_target",
    )
    assert redeem(http, stack.as_url, request, code).status_code == 200


def test_token_unsupported_grant_types_are_refused(stack, http) -> None:
    """OAuth 2.1 §10.1 / RFC 9700 §2.4: no resource-owner password grant, no implicit; client
    credentials is not offered: ``unsupported_grant_type``."""
    client = register(http, stack.as_url, [REDIRECT_URI])
    for grant_type in ("password", "client_credentials", "implicit", "urn:x:custom"):
        data = {
            "grant_type": grant_type,
            "client_id": client["client_id"],
            "username": "alice",
            "password": "wonderland",
        }
        refused(
            stack,
            lambda d=data: http.post(f"{stack.as_url}/token", data=d),
            "unsupported_grant_type",
        )


def test_token_confidential_client_with_wrong_secret_is_refused(stack, http) -> None:
    """RFC 6749 §2.3.1 / §5.2: a confidential client must authenticate; a wrong secret is
    ``invalid_client`` with 401 and a ``WWW-Authenticate: Basic`` challenge."""
    client, request, code = issue_code(
        stack, http, token_endpoint_auth_method="client_secret_basic"
    )
    basic = base64.b64encode(f"{client['client_id']}:wrong-secret".encode()).decode()
    response = refused(
        stack,
        lambda: http.post(
            f"{stack.as_url}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": request.verifier,
            },
            headers={"Authorization": f"Basic {basic}"},
        ),
        "invalid_client",
        401,
    )
    assert response.headers["www-authenticate"].lower().startswith("basic")


def test_token_confidential_client_without_secret_is_refused(stack, http) -> None:
    """OAuth 2.1 §2.4 / RFC 7591 §2: a client registered with a secret cannot fall back to
    presenting only its client_id (as if it were public)."""
    _client, request, code = issue_code(
        stack, http, token_endpoint_auth_method="client_secret_post"
    )
    refused(stack, lambda: redeem(http, stack.as_url, request, code), "invalid_client", 401)


# --- refresh tokens -------------------------------------------------------------------------


def still_refreshes(stack, http: httpx2.Client, client_id: str, refresh_token: str) -> bool:
    """The honest holder can still use the token after the attack."""
    return refresh(http, stack.as_url, client_id, refresh_token).status_code == 200


def test_refresh_rotated_token_reuse_revokes_the_grant(stack, http, introspect) -> None:
    """OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: refresh tokens rotate; when a rotated one comes back,
    one of its two holders is an attacker, so the AS revokes the whole grant: the new refresh
    token and the access tokens die too."""
    client, _request, tokens = issue_tokens(http, stack.as_url, stack.resource)
    first = refresh(http, stack.as_url, client["client_id"], tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    refused(
        stack,
        lambda: refresh(http, stack.as_url, client["client_id"], tokens["refresh_token"]),
        "invalid_grant",
        side_effect_free=False,
    )
    after = refresh(http, stack.as_url, client["client_id"], rotated["refresh_token"])
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    assert introspect(stack, rotated["access_token"])["active"] is False


def test_refresh_token_of_another_client_is_refused(stack, http) -> None:
    """OAuth 2.1 §4.3.1: the refresh token is bound to the client it was issued to; presenting
    it as another client fails and does not rotate (or burn) the victim's token."""
    _victim, request, tokens = issue_tokens(http, stack.as_url, stack.resource)
    thief = register(http, stack.as_url, [REDIRECT_URI])
    refused(
        stack,
        lambda: refresh(http, stack.as_url, thief["client_id"], tokens["refresh_token"]),
        "invalid_grant",
    )
    assert (
        refresh(http, stack.as_url, request.client_id, tokens["refresh_token"]).status_code == 200
    )


def test_refresh_scope_widening_is_refused_without_burning_the_token(stack, http) -> None:
    """OAuth 2.1 §4.3.1: the refresh request "MUST NOT include any scope not originally
    granted" (``invalid_scope``). Being refused must not rotate the presented token, or the
    honest client's next refresh would look like reuse and kill its grant (§7.5.3 spirit)."""
    _client, request, tokens = issue_tokens(http, stack.as_url, stack.resource)
    refused(
        stack,
        lambda: refresh(
            http,
            stack.as_url,
            request.client_id,
            tokens["refresh_token"],
            scope="notes:read notes:delete",
        ),
        "invalid_scope",
    )
    assert (
        refresh(http, stack.as_url, request.client_id, tokens["refresh_token"]).status_code == 200
    )


def test_refresh_resource_swap_is_refused_without_burning_the_token(stack, http) -> None:
    """RFC 8707 §2 / OAuth 2.1 §3.2.3: refresh tokens are bound to the consented resource; a
    refresh for another audience is ``invalid_target`` and leaves the token usable."""
    _client, request, tokens = issue_tokens(http, stack.as_url, stack.resource)
    refused(
        stack,
        lambda: refresh(
            http,
            stack.as_url,
            request.client_id,
            tokens["refresh_token"],
            resource=stack.other_resource,
        ),
        "invalid_target",
    )
    assert (
        refresh(http, stack.as_url, request.client_id, tokens["refresh_token"]).status_code == 200
    )


def test_refresh_with_an_access_token_is_refused(stack, http) -> None:
    """RFC 6749 §6: only a refresh token is a refresh grant; an access token (a JWT) is not."""
    _client, request, tokens = issue_tokens(http, stack.as_url, stack.resource)
    refused(
        stack,
        lambda: refresh(http, stack.as_url, request.client_id, tokens["access_token"]),
        "invalid_grant",
    )
