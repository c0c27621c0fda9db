"""``AuthServer``: one running demo_as and an ``httpx2.Client`` on its base URL, with the honest
client's steps (``harness.oauth_flow``) bound to it, so each AS test reads as the rule it checks.

The steps themselves (registration metadata, PKCE, the login and consent forms, the token
request) are the harness's; this class only remembers the verifier of each request it started
(by ``state``) and opens the server's own database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx2
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    code_from,
    consent,
    login,
    registration_metadata,
)
from sqlmodel import Session

from demo_as.db import create_db_engine
from demo_as.settings import Settings

RESOURCE = "http://127.0.0.1:8000/mcp"


@dataclass
class AuthServer:
    """A running demo_as plus a client-side toolbox."""

    base_url: str
    settings: Settings
    http: httpx2.Client
    verifiers: dict[str, str] = field(default_factory=dict)

    def db(self) -> Session:
        """A session on the server's own database file (to look at or age rows)."""
        if "engine" not in self.__dict__:
            self.__dict__["engine"] = create_db_engine(self.settings.effective_database_url)
        return Session(self.__dict__["engine"], expire_on_commit=False)

    def register(self, **metadata: Any) -> dict[str, Any]:
        """RFC 7591 registration of a public client named "Test app" (``metadata`` overrides)."""
        body = registration_metadata(**{"client_name": "Test app", **metadata})
        response = self.http.post("/register", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def authorize_params(self, client_id: str, **overrides: Any) -> dict[str, Any]:
        """A fresh request's query (scope ``notes:read``, ``RESOURCE``); ``None`` drops a key."""
        request = AuthorizationRequest(client_id, REDIRECT_URI, RESOURCE)
        self.verifiers[request.state] = request.verifier
        params = request.params()
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def authorize(self, client_id: str, **overrides: Any) -> httpx2.Response:
        return self.http.get("/authorize", params=self.authorize_params(client_id, **overrides))

    def answer_after_login(self, params: Any) -> httpx2.Response:
        """GET /authorize with ``params``; it must show the login form (never redirect before the
        user signed in, OAuth 2.1 §7.12.2); returns the answer to signing in."""
        page = self.http.get("/authorize", params=params)
        assert page.status_code == 200 and "location" not in page.headers, page.text[:500]
        assert 'name="password"' in page.text
        return self.login(page)

    def login(
        self, page: httpx2.Response, username: str = "alice", password: str | None = None
    ) -> httpx2.Response:
        """Submit the login form; the answer as it comes (not followed)."""
        return login(self.http, page, username, password=password, follow=False)

    def consent(
        self, page: httpx2.Response, decision: str = "approve", keep: list[str] | None = None
    ) -> httpx2.Response:
        """Submit the consent form, ticking ``keep`` (default: every offered scope)."""
        return consent(self.http, page, scopes=keep, decision=decision)

    def code_via_forms(
        self, client_id: str, keep: list[str] | None = None, **overrides: Any
    ) -> tuple[str, str]:
        """Run login + consent; returns ``(code, verifier)``."""
        params = self.authorize_params(client_id, **overrides)
        page = self.http.get("/authorize", params=params)
        if 'name="password"' in page.text:
            page = self.login(page)
        assert page.status_code == 200, page.text
        done = self.consent(page, keep=keep)
        assert done.status_code == 303, done.text
        request = AuthorizationRequest(
            client_id, params.get("redirect_uri", REDIRECT_URI), RESOURCE, state=params["state"]
        )
        return code_from(done, request), self.verifiers[params["state"]]

    def token(self, data: dict[str, Any], **kwargs: Any) -> httpx2.Response:
        return self.http.post("/token", data=data, **kwargs)

    def tokens_via_forms(
        self, client_id: str, keep: list[str] | None = None, **overrides: Any
    ) -> dict[str, Any]:
        code, verifier = self.code_via_forms(client_id, keep=keep, **overrides)
        request = AuthorizationRequest(client_id, REDIRECT_URI, RESOURCE, verifier=verifier)
        response = self.token(request.token_request(code))
        assert response.status_code == 200, response.text
        return response.json()
