"""The honest OAuth client every test and benchmark builds on: register (RFC 7591), authorize with
PKCE S256 and an RFC 8707 ``resource`` (auto-approve, or through the AS's real login and consent
forms), redeem the code, refresh.

It plays the user exactly as docs/architecture.md ("The consent pages, as the headless user agent
sees them") describes: copy every hidden input, fill ``username``/``password``, tick
``name="scope"`` checkboxes, press ``name="decision"``. Attacks then change one thing at a time.

Each step is written once as a flow of requests (``harness.http_steps``): the blocking functions
below (``register``, ``authorize``, ``redeem``, ...) drive it with an ``httpx2.Client`` for the
tests; ``first_token`` and ``refresh_grant`` drive it with an ``httpx2.AsyncClient`` for bench/.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2

from .html_forms import form_data, only_form
from .http_steps import Call, Steps, UnexpectedAnswer, drive, drive_async, expect_status

REDIRECT_URI = "http://127.0.0.1:33418/callback"  # the test clients' redirect URI; never fetched
USERS = {"alice": "wonderland", "bob": "builder"}
ALL_SCOPES = ["notes:read", "notes:write", "notes:delete"]


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: ``BASE64URL(SHA256(ASCII(code_verifier)))`` without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """RFC 7636 §4.1/§4.2: a random 64-character verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256_challenge(verifier)


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect ``Location`` (single-valued)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def registration_metadata(redirect_uris: list[str] | None = None, **metadata: object) -> dict:
    """RFC 7591 §2 metadata of a public client with code + refresh grants; ``metadata`` adds or
    replaces fields."""
    return {
        "redirect_uris": [REDIRECT_URI] if redirect_uris is None else redirect_uris,
        "client_name": "battery client",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **metadata,
    }


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
        """OAuth 2.1 §4.1.1 query parameters; an override of ``None`` drops that parameter."""
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

    def token_request(self, code: str, **overrides: str | None) -> dict[str, str]:
        """RFC 6749 §4.1.3 / RFC 7636 §4.5 / RFC 8707 §2.2 body redeeming ``code``."""
        data: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": self.verifier,
            "resource": self.resource,
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}


def code_from(
    response: httpx2.Response, request: AuthorizationRequest, issuer: str | None = None
) -> str:
    """The code of a successful authorization response, after the client's checks: it goes to
    our redirect URI, carries our ``state`` and (with ``issuer``) RFC 9207's ``iss``."""
    location = response.headers.get("location", "")
    if not location.startswith(request.redirect_uri):
        raise UnexpectedAnswer(f"authorization response went elsewhere: {location[:500]}")
    params = query_of(location)
    checks = params.get("state") == request.state and "code" in params
    if not checks or (issuer is not None and params.get("iss") != issuer):
        raise UnexpectedAnswer(f"authorization response failed the state/iss checks: {params}")
    return params["code"]


# --- the steps, written once ---------------------------------------------------------------


def register_steps(as_url: str, redirect_uris: list[str] | None, **metadata: object) -> Steps:
    response = yield Call(
        "POST", f"{as_url}/register", {"json": registration_metadata(redirect_uris, **metadata)}
    )
    expect_status(response, 201, "register")
    return response.json()


def login_steps(page: httpx2.Response, user: str, password: str | None, follow: bool) -> Steps:
    form = only_form(page)
    data = [*form.hidden, ("username", user), ("password", password or USERS[user])]
    response = yield Call("POST", form.target(page), {"data": form_data(data)})
    if follow and response.status_code in (302, 303):
        location = urljoin(str(response.url), response.headers["location"])
        if urlsplit(location).netloc == urlsplit(str(response.url)).netloc:
            response = yield Call("GET", location)
    return response


def consent_steps(
    page: httpx2.Response,
    scopes: list[str] | None,
    decision: str,
    hidden_overrides: dict[str, str] | None,
) -> Steps:
    form = only_form(page)
    hidden = [(n, (hidden_overrides or {}).get(n, v)) for n, v in form.hidden]
    offered = form.offered("scope")
    ticked = offered if scopes is None else [s for s in offered if s in scopes]
    data = [*hidden, *[("scope", s) for s in ticked], ("decision", decision)]
    return (yield Call("POST", form.target(page), {"data": form_data(data)}))


def authorize_steps(
    as_url: str, request: AuthorizationRequest, user: str, scopes: list[str] | None, decision: str
) -> Steps:
    page = yield Call(
        "GET", f"{as_url}/authorize", {"params": request.params(), "follow_redirects": False}
    )
    if page.status_code in (302, 303):
        return page  # auto-approve
    expect_status(page, 200, "authorize")
    if only_form(page).asks_for_password():
        page = yield from login_steps(page, user, None, True)
    expect_status(page, 200, "login")
    response = yield from consent_steps(page, scopes, decision, None)
    expect_status(response, (302, 303), "consent")
    return response


def issue_tokens_steps(
    as_url: str, resource: str, scope: str, user: str, redirect_uri: str, check_iss: bool
) -> Steps:
    client = yield from register_steps(as_url, [redirect_uri])
    request = AuthorizationRequest(client["client_id"], redirect_uri, resource, scope)
    authorized = yield from authorize_steps(as_url, request, user, None, "approve")
    code = code_from(authorized, request, as_url if check_iss else None)
    response = yield Call("POST", f"{as_url}/token", {"data": request.token_request(code)})
    expect_status(response, 200, "token (authorization_code)")
    return client, request, response.json()


def refresh_steps(as_url: str, client_id: str, refresh_token: str, **extra: str) -> Steps:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    return (yield Call("POST", f"{as_url}/token", {"data": {**data, **extra}}))


# --- the tests' blocking client ------------------------------------------------------------


def register(
    http: httpx2.Client, as_url: str, redirect_uris: list[str] | None = None, **metadata: object
) -> dict:
    """RFC 7591 §3.1 registration of a public client (201, or ``UnexpectedAnswer``)."""
    return drive(http, register_steps(as_url, redirect_uris, **metadata))


def login(
    http: httpx2.Client,
    page: httpx2.Response,
    user: str = "alice",
    *,
    password: str | None = None,
    follow: bool = True,
) -> httpx2.Response:
    """Submit the login form (architecture.md step 1) as ``user`` (with her demo password unless
    ``password``). With ``follow``, one 303 that stays on the AS (to the consent page) is
    followed, never one to the client (an error delivered after sign-in)."""
    return drive(http, login_steps(page, user, password, follow))


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
    return drive(http, consent_steps(page, scopes, decision, hidden_overrides))


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
    return drive(http, authorize_steps(as_url, request, user, scopes, decision))


def redeem(
    http: httpx2.Client, as_url: str, request: AuthorizationRequest, code: str, **overrides: str
) -> httpx2.Response:
    """The token request for ``code`` (``overrides``: change or, with ``None``, drop fields)."""
    return http.post(f"{as_url}/token", data=request.token_request(code, **overrides))


def refresh(
    http: httpx2.Client, as_url: str, client_id: str, refresh_token: str, **extra: str
) -> httpx2.Response:
    """RFC 6749 §6 refresh request."""
    return drive(http, refresh_steps(as_url, client_id, refresh_token, **extra))


def issue_tokens(
    http: httpx2.Client,
    as_url: str,
    resource: str,
    *,
    scope: str = "notes:read offline_access",
    user: str = "alice",
    redirect_uri: str = REDIRECT_URI,
) -> tuple[dict, AuthorizationRequest, dict]:
    """Register, authorize, redeem: ``(client, request, token_response_json)``."""
    return drive(http, issue_tokens_steps(as_url, resource, scope, user, redirect_uri, False))


def introspect(as_url: str, token: str, secret: str) -> dict:
    """RFC 7662 §2, as a resource server holding ``secret`` asks: what the AS says about
    ``token`` now (revocation is visible here)."""
    response = httpx2.post(
        f"{as_url}/introspect", data={"token": token}, headers={"Authorization": f"Bearer {secret}"}
    )
    expect_status(response, 200, "introspect")
    return response.json()


# --- the benchmarks' asynchronous client ---------------------------------------------------


@dataclass
class Grant:
    """A registered client and the tokens of its current grant (the refresh token rotates)."""

    client_id: str
    access_token: str
    refresh_token: str


async def first_token(
    http: httpx2.AsyncClient, as_url: str, resource: str, scope: str = " ".join(ALL_SCOPES)
) -> Grant:
    """What a new MCP client does before its first call, against ``demo-as --auto-approve``:
    registration, authorization (checking ``state`` and ``iss``) and the code exchange."""
    client, _request, tokens = await drive_async(
        http, issue_tokens_steps(as_url, resource, scope, "alice", REDIRECT_URI, True)
    )
    return Grant(client["client_id"], tokens["access_token"], tokens["refresh_token"])


async def refresh_grant(http: httpx2.AsyncClient, as_url: str, grant: Grant) -> None:
    """One ``refresh_token`` grant; the rotated tokens replace the old ones in ``grant``."""
    response = await drive_async(http, refresh_steps(as_url, grant.client_id, grant.refresh_token))
    expect_status(response, 200, "token (refresh_token)")
    body = response.json()
    grant.access_token = body["access_token"]
    grant.refresh_token = body["refresh_token"]
