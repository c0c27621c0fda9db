"""HTML pages (Jinja2, autoescaped): login, consent, error pages and the dashboard.

Autoescaping is on for every template, so a ``client_name`` like ``<script>`` is shown as text,
and every rendered value passes ``display_text.neutralise`` first, so a bidi override or a
zero-width character is shown as ``[U+202E]`` instead of changing how the page reads.
The anti-framing headers are added to every response by ``middleware.SecurityHeaders``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from demo_as.display_text import neutralise
from demo_as.errors import PageError

TEMPLATES = Path(__file__).parent / "templates"

# Pages with CSRF tokens or user data must not be cached (OAuth 2.1 §7.x, RFC 9700 §4.16).
PAGE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def shown_value(value: Any) -> Any:
    """Jinja ``finalize``: every ``{{ value }}`` of every page, before escaping (Unicode TR #36
    §2.1). Markup is the templates' own and passes unchanged."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return neutralise(value)
    return value


class Pages:
    """Renders the templates; one instance lives on ``app.state.pages``."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=shown_value,
        )

    def render(
        self, request: Request, template: str, context: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        settings = request.app.state.settings
        html = self.env.get_template(template).render(
            settings=settings, issuer=settings.issuer, **context
        )
        return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)

    def error_page(self, request: Request, error: PageError) -> HTMLResponse:
        settings = request.app.state.settings
        return self.render(
            request,
            "error.html",
            {"error": error, "loopback_any_port": settings.loopback_any_port},
            status_code=error.status_code,
        )
