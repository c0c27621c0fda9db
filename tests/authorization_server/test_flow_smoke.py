"""End-to-end: register, login, consent, token, refresh - over a real socket."""

from authorization_server.as_toolbox import RESOURCE, AuthServer
from harness.oauth_flow import REDIRECT_URI, query_of


def test_login_consent_token_refresh(server: AuthServer) -> None:
    client = server.register()
    tokens = server.tokens_via_forms(client["client_id"], scope="notes:read notes:write")
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "notes:read notes:write"
    refreshed = server.token(
        {
            "grant_type": "refresh_token",
            "client_id": client["client_id"],
            "refresh_token": tokens["refresh_token"],
            "scope": "notes:read",
        }
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["scope"] == "notes:read"


def test_auto_approve_redirects_directly(start_server) -> None:
    server = start_server(auto_approve=True)
    client = server.register()
    response = server.authorize(client["client_id"])
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["iss"] == server.base_url
    assert RESOURCE
