"""Client-side toolbox for demo_as tests: ``AuthServer`` wraps the protocol steps a client performs
(register, authorize, login, consent, token) so each test reads as the rule it checks."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from sqlmodel import Session

from demo_as.db import create_db_engine
from demo_as.settings import Settings

REDIRECT_URI = "http://127.0.0.1:33418/callback"
RESOURCE = "http://127.0.0.1:8000/mcp"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class FormParser(HTMLParser):
    """Collects forms: action, hidden inputs, checkboxes and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "method": a.get("method"),
                    "action": a.get("action"),
                    "hidden": {},
                    "checkboxes": [],
                    "buttons": [],
                    "inputs": [],
                }
            )
        elif tag == "input" and self.forms:
            form = self.forms[-1]
            form["inputs"].append(a)
            if a.get("type") == "hidden":
                form["hidden"][a["name"]] = a.get("value", "")
            elif a.get("type") == "checkbox":
                form["checkboxes"].append(a)
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(a)


def parse_forms(html: str) -> list[dict[str, Any]]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


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
        body = {
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "Test app",
        }
        body.update(metadata)
        response = self.http.post("/register", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def authorize_params(self, client_id: str, **overrides: Any) -> dict[str, Any]:
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(8)
        self.verifiers[state] = verifier
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "notes:read",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": RESOURCE,
        }
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
        self, page: httpx2.Response, username: str = "alice", password: str = "wonderland"
    ) -> httpx2.Response:
        (form,) = parse_forms(page.text)
        data = {**form["hidden"], "username": username, "password": password}
        return self.http.post(form["action"], data=data)

    def consent(
        self, page: httpx2.Response, decision: str = "approve", keep: list[str] | None = None
    ) -> httpx2.Response:
        (form,) = parse_forms(page.text)
        scopes = [c["value"] for c in form["checkboxes"]]
        if keep is not None:
            scopes = [s for s in scopes if s in keep]
        data = {**form["hidden"], "decision": decision, "scope": scopes}
        return self.http.post(form["action"] or "/consent", data=data)

    def code_via_forms(
        self, client_id: str, keep: list[str] | None = None, **overrides: Any
    ) -> tuple[str, str]:
        """Run login + consent; returns ``(code, verifier)``."""
        params = self.authorize_params(client_id, **overrides)
        page = self.http.get("/authorize", params=params)
        if parse_forms(page.text) and "password" in page.text:
            page = self.login(page)
        assert page.status_code == 200, page.text
        done = self.consent(page, keep=keep)
        assert done.status_code == 303, done.text
        query = query_of(done.headers["location"])
        return query["code"], self.verifiers[params["state"]]

    def token(self, data: dict[str, Any], **kwargs: Any) -> httpx2.Response:
        return self.http.post("/token", data=data, **kwargs)

    def tokens_via_forms(
        self, client_id: str, keep: list[str] | None = None, **overrides: Any
    ) -> dict[str, Any]:
        code, verifier = self.code_via_forms(client_id, keep=keep, **overrides)
        response = self.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "resource": RESOURCE,
            }
        )
        assert response.status_code == 200, response.text
        return response.json()
