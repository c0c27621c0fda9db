"""What ties the login and consent forms to the browser that opened the authorization request.

The AS sets one random cookie, ``demo_as_browser``, the first time a browser reaches the login
form. Every form's CSRF token is stored as ``SHA-256(cookie "." token)``, so a form submission
counts only with BOTH the token from the page and the cookie of the browser the page was served
to (RFC 6749 §10.12: the CSRF value is bound to the user-agent's state; OWASP "pre-session"
tokens against login CSRF).

The cookie authenticates nobody. Cookies ignore ports (RFC 6265 §8.5), so it also reaches every
program listening on a loopback callback port; that is why there is no "stay signed in" session
(authorization.py): holding every cookie the browser has is worth nothing without the password.
"""

from __future__ import annotations

import hashlib
import secrets

from fastapi import Request, Response

BROWSER_COOKIE = "demo_as_browser"
BINDING_LENGTH = 43  # secrets.token_urlsafe(32)


def browser_binding(request: Request) -> str | None:
    """The well-formed binding cookie the browser sent, if any."""
    value = request.cookies.get(BROWSER_COOKIE)
    if value and len(value) == BINDING_LENGTH and value.isascii():
        return value
    return None


def new_binding() -> str:
    return secrets.token_urlsafe(32)


def set_binding_cookie(response: Response, binding: str, *, secure: bool) -> None:
    """A browser-session cookie, unreadable by script (RFC 6265 §4.1.2.6) and not sent on
    cross-site POSTs (``SameSite=Lax``, RFC 6265bis §8.8)."""
    response.set_cookie(
        BROWSER_COOKIE, binding, httponly=True, samesite="lax", secure=secure, path="/"
    )


def bound_token_hash(binding: str, token: str) -> str:
    """RFC 6749 §10.12: the stored form of a CSRF token bound to one browser."""
    return hashlib.sha256(f"{binding}.{token}".encode()).hexdigest()
