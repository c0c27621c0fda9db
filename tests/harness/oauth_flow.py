"""The honest OAuth client steps the attack and load tests build on: register, authorize through
the AS's real login and consent forms, redeem the code, refresh.

It plays the user exactly as docs/architecture.md ("The consent pages, as the headless user agent
sees them") describes: copy every hidden input, fill ``username``/``password``, tick
``name="scope"`` checkboxes, press ``name="decision"``. Attacks then change one thing at a time.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2

USERS = {"alice": "wonderland", "bob": "builder"}
ALL_SCOPES = ["notes:read", "notes:write", "notes:delete"]


@dataclass
class Form:
    """One ``<form>``: where it posts, its hidden inputs, scope checkboxes and submit buttons."""

    action: str
    method: str
    hidden: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)  # visible text/password inputs
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def hidden_value(self, name: str) -> str | None:
        return next((v for n, v in self.hidden if n == name), None)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", ""), method=a.get("method", "get")))
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "hidden":
                form.hidden.append((a.get("name", ""), a.get("value", "")))
            elif kind == "checkbox":
                form.checkboxes.append((a.get("name", ""), a.get("value", ""), "checked" in a))
            elif kind in ("submit",):
                form.buttons.append((a.get("name", ""), a.get("value", "")))
            else:
                form.inputs.append((a.get("name", ""), a.get("value", "")))
        elif tag == "button":
            form.buttons.append((a.get("name", ""), a.get("value", "")))


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def only_form(response: httpx2.Response) -> Form:
    forms = [f for f in parse_forms(response.text) if f.method.lower() == "post"]
    assert len(forms) == 1, f"expected one POST form, got {len(forms)}:\n{response.text[:2000]}"
    return forms[0]


def pkce_pair() -> tuple[str, str]:
    """RFC 7636 §4.1/§4.2: a random verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect ``Location`` (single-valued)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def register(
    http: httpx2.Client,
    as_url: str,
    redirect_uris: list[str] | None = None,
    **metadata: object,
) -> dict:
    """RFC 7591 §3.1 registration of a public client with code + refresh grants."""
    body: dict[str, object] = {
        "redirect_uris": redirect_uris or ["http://127.0.0.1:33418/callback"],
        "client_name": "battery client",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    body.update(metadata)
    response = http.post(f"{as_url}/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@dataclass
class AuthorizationRequest:
    """One authorization request and the secrets the honest client keeps."""

    client_id: str
    redirect_uri: str
    resource: str
    scope: str = "notes:read"
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    verifier: str = ""
    challenge: str = ""

    def __post_init__(self) -> None:
        if not self.verifier:
            self.verifier, self.challenge = pkce_pair()

    def params(self, **overrides: str | None) -> dict[str, str]:
        base: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            "resource": self.resource,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}


def submit(http: httpx2.Client, page: httpx2.Response, form: Form, data: list[tuple[str, str]]):
    """POST ``data`` to the form's action, resolved against the page's URL."""
    target = urljoin(str(page.url), form.action) if form.action else str(page.url)
    return http.post(target, data=form_data(data))


def form_data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Repeated form fields (``scope=a&scope=b``) as httpx2 wants them: name -> list of values."""
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return data


def login(http: httpx2.Client, page: httpx2.Response, user: str = "alice") -> httpx2.Response:
    """Submit the login form (architecture.md step 1); follows one 303 that stays on the AS (to
    the consent page), never one to the client (an error delivered after sign-in)."""
    form = only_form(page)
    data = [*form.hidden, ("username", user), ("password", USERS[user])]
    response = submit(http, page, form, data)
    if response.status_code in (302, 303):
        location = urljoin(str(response.url), response.headers["location"])
        if urlsplit(location).netloc == urlsplit(str(response.url)).netloc:
            response = http.get(location)
    return response


def consent(
    http: httpx2.Client,
    page: httpx2.Response,
    *,
    scopes: list[str] | None = None,
    decision: str = "approve",
    hidden_overrides: dict[str, str] | None = None,
) -> httpx2.Response:
    """Submit the consent form (step 2): tick ``scopes`` (default: all offered), press
    ``decision``. ``hidden_overrides`` replaces hidden values (CSRF attacks)."""
    form = only_form(page)
    hidden = [(n, (hidden_overrides or {}).get(n, v)) for n, v in form.hidden]
    offered = [v for n, v, _checked in form.checkboxes if n == "scope"]
    ticked = offered if scopes is None else [s for s in offered if s in scopes]
    data = [*hidden, *[("scope", s) for s in ticked], ("decision", decision)]
    return submit(http, page, form, data)


def authorize(
    http: httpx2.Client,
    as_url: str,
    request: AuthorizationRequest,
    *,
    user: str = "alice",
    scopes: list[str] | None = None,
    decision: str = "approve",
) -> httpx2.Response:
    """The whole front channel; returns the final 302/303 to the redirect URI."""
    page = http.get(f"{as_url}/authorize", params=request.params())
    if page.status_code in (302, 303):
        return page  # auto-approve
    assert page.status_code == 200, page.text[:2000]
    if any(n == "password" for n, _ in only_form(page).inputs):
        page = login(http, page, user)
    assert page.status_code == 200, page.text[:2000]
    response = consent(http, page, scopes=scopes, decision=decision)
    assert response.status_code in (302, 303), response.text[:2000]
    return response


def code_from(response: httpx2.Response, request: AuthorizationRequest) -> str:
    location = response.headers["location"]
    assert location.startswith(request.redirect_uri), location
    params = query_of(location)
    assert params.get("state") == request.state, params
    assert "code" in params, params
    return params["code"]


def redeem(
    http: httpx2.Client,
    as_url: str,
    request: AuthorizationRequest,
    code: str,
    **overrides: str | None,
) -> httpx2.Response:
    """RFC 6749 §4.1.3 / RFC 7636 §4.5 token request for ``code``."""
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "client_id": request.client_id,
        "code_verifier": request.verifier,
        "resource": request.resource,
    }
    data.update(overrides)
    return http.post(f"{as_url}/token", data={k: v for k, v in data.items() if v is not None})


def refresh(
    http: httpx2.Client, as_url: str, client_id: str, refresh_token: str, **extra: str
) -> httpx2.Response:
    """RFC 6749 §6 refresh request."""
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    data.update(extra)
    return http.post(f"{as_url}/token", data=data)


def issue_tokens(
    http: httpx2.Client,
    as_url: str,
    resource: str,
    *,
    scope: str = "notes:read offline_access",
    user: str = "alice",
    redirect_uri: str = "http://127.0.0.1:33418/callback",
) -> tuple[dict, AuthorizationRequest, dict]:
    """Register, authorize, redeem: ``(client, request, token_response_json)``."""
    client = register(http, as_url, [redirect_uri])
    request = AuthorizationRequest(
        client_id=client["client_id"], redirect_uri=redirect_uri, resource=resource, scope=scope
    )
    code = code_from(authorize(http, as_url, request, user=user), request)
    response = redeem(http, as_url, request, code)
    assert response.status_code == 200, response.text
    return client, request, response.json()
