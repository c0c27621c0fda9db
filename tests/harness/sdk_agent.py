"""The user, played for the official MCP Python SDK's ``OAuthClientProvider``: its redirect
handler walks the AS's real login and consent forms (``harness.oauth_flow``, with a cookie jar
like a browser); its callback handler hands back what the AS redirected to."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import httpx2
from mcp.shared.auth import AuthorizationCodeResult

from .html_forms import only_form
from .oauth_flow import consent, login, query_of


@dataclass
class ConsentFormAgent:
    """Plays alice; approves everything offered. Nothing listens on ``redirect_uri``: the
    agent reads the ``Location`` the AS answered with."""

    redirect_uri: str
    http: httpx2.Client = field(default_factory=lambda: httpx2.Client(timeout=15))
    requested_scopes: list[set[str]] = field(default_factory=list)
    location: str = ""

    async def redirect_handler(self, authorization_url: str) -> None:
        self.requested_scopes.append(set(query_of(authorization_url).get("scope", "").split()))
        self.location = await anyio.to_thread.run_sync(self._walk_forms, authorization_url)

    def _walk_forms(self, authorization_url: str) -> str:
        page = self.http.get(authorization_url)
        assert page.status_code == 200, page.text[:1000]  # the login or consent page
        if only_form(page).asks_for_password():
            page = login(self.http, page, "alice")
        answer = consent(self.http, page)  # approve everything offered
        assert answer.status_code in (302, 303), answer.text[:1000]
        return answer.headers["location"]

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.location.startswith(self.redirect_uri), self.location
        params = query_of(self.location)
        return AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )
