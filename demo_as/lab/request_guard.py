"""Checks on requests that change lab state: JSON only, and no foreign Origin."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from demo_as.lab.errors import ForeignOrigin, NotJson


def refuse_unless_json(request: Request) -> None:
    """A body must be declared ``application/json`` (415 otherwise)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise NotJson("send Content-Type: application/json (the lab API takes JSON only)")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def refuse_foreign_origin(request: Request) -> None:
    """Fetch spec / RFC 6454: a browser names the page's origin in ``Origin``; only our own
    (the issuer's, or the one the request was addressed to) may change lab state (403)."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser-initiated cross-origin request (curl, scripts, tests)
    own = {origin_of(request.app.state.settings.issuer), origin_of(str(request.base_url))}
    if origin.lower().rstrip("/") not in own:
        raise ForeignOrigin(
            f"requests from origin {origin[:100]!r} may not change the lab; use the lab page "
            "of this server"
        )
