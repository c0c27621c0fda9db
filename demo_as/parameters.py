"""OAuth 2.1 draft-13 §3.1 and §3.2: "Request and response parameters MUST NOT be included more
than once." A form parser keeps one value, so the form endpoints refuse repeated parameters
(form_endpoints.read_form); and responses carrying secrets are not cached.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from fastapi import Response

from demo_as.errors import NO_STORE


def repeated_parameters(items: Iterable[tuple[str, object]], names: Iterable[str]) -> list[str]:
    """Names from ``names`` that occur more than once in ``items`` (in ``names`` order)."""
    counts = Counter(name for name, _value in items)
    return [name for name in names if counts[name] > 1]


TOKEN_ENDPOINT_PARAMETERS = (
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "resource",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
)


def no_store(response: Response) -> None:
    """FastAPI dependency: responses carrying tokens or secrets are not cached (RFC 6749 §5.1,
    RFC 7591 §3.2.1)."""
    response.headers.update(NO_STORE)
