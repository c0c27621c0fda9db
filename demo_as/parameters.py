"""OAuth 2.1 draft-13 §3.1 and §3.2: "Request and response parameters MUST NOT be included more
than once." A form parser keeps one value, so the form endpoints refuse repeated parameters
(form_endpoints.read_form); and responses carrying secrets are not cached.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel
from starlette.responses import JSONResponse

from demo_as.errors import NO_STORE


def repeated_parameters(items: Iterable[tuple[str, object]], names: Iterable[str]) -> list[str]:
    """Names from ``names`` that occur more than once in ``items`` (in ``names`` order)."""
    counts = Counter(name for name, _value in items)
    return [name for name in names if counts[name] > 1]


# /token (RFC 6749 §4.1.3, §6, §2.3.1; RFC 7636 §4.5; RFC 8707 §2).
TOKEN_PARAMETERS = (
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "resource",
    "client_id",
    "client_secret",
)
# /revoke and /introspect (RFC 7009 §2.1, RFC 7662 §2.1).
TOKEN_QUESTION_PARAMETERS = ("token", "token_type_hint")
# Refused when repeated at any of the three form endpoints.
TOKEN_ENDPOINT_PARAMETERS = (*TOKEN_PARAMETERS, *TOKEN_QUESTION_PARAMETERS)


def no_store_json(body: BaseModel, status_code: int = 200) -> JSONResponse:
    """A JSON answer carrying tokens or secrets: never cached (RFC 6749 §5.1, RFC 7591 §3.2.1,
    RFC 7662 §2.2 via §5.1); fields that are None are left out (as each body's schema says)."""
    return JSONResponse(body.model_dump(exclude_none=True), status_code, headers=NO_STORE)
