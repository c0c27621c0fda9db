"""CSRF protection of the lab's probe form: a double-submit cookie bound by HMAC.

The lab page sets a random ``lab_csrf`` cookie (HttpOnly, SameSite=Strict, path /lab) and puts
``HMAC-SHA256(key, cookie)`` in the form. A POST is accepted only when the form's token is the HMAC
of the cookie the browser sent (compared in constant time). A forging site can neither read the
cookie nor the page, and a cookie planted by a sibling origin is useless without the key
(OWASP "signed double-submit cookie"; RFC 6749 §10.12 asks the same of OAuth's own forms).

The key is random per AS process: after a restart a page left open must be reloaded before its
form works again, which the refusal page says.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

COOKIE = "lab_csrf"
COOKIE_PATH = "/lab"
# A cookie value we issued is 43 URL-safe characters; anything else is replaced, never echoed.
COOKIE_LENGTH = 43


class CsrfRefused(Exception):
    """The probe form's token does not match this browser's cookie."""


def form_key(request: Request) -> bytes:
    """This process's HMAC key (created on first use, kept on the app's state)."""
    state = request.app.state
    key = getattr(state, "lab_form_key", None)
    if key is None:
        key = state.lab_form_key = secrets.token_bytes(32)
    return key


def token_for(key: bytes, cookie: str) -> str:
    return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()


def browser_cookie(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    if value and len(value) == COOKIE_LENGTH:
        return value
    return None


def issue(request: Request) -> tuple[str, str | None]:
    """``(token for this browser's forms, new cookie to set or None when it already has one)``."""
    cookie = browser_cookie(request)
    new_cookie = None
    if cookie is None:
        cookie = new_cookie = secrets.token_urlsafe(32)
    return token_for(form_key(request), cookie), new_cookie


def set_cookie(request: Request, response: Response, cookie: str) -> None:
    response.set_cookie(
        COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.issuer.startswith("https://"),
        path=COOKIE_PATH,
    )


def check(request: Request, token: str) -> None:
    """Raise ``CsrfRefused`` unless ``token`` is the HMAC of this browser's cookie."""
    cookie = browser_cookie(request)
    if cookie is None:
        raise CsrfRefused("the browser sent no lab_csrf cookie with the form")
    expected = token_for(form_key(request), cookie)
    if not token or not hmac.compare_digest(expected.encode(), token.encode()):
        raise CsrfRefused("the form's csrf_token is not the one issued to this browser")
