"""Authorization errors wait until the user has signed in (issue #12.4).

OAuth 2.1 draft-13 §7.12.2 (and RFC 9700 §4.11.2, word for word): an attacker can register a
client with a redirect URI of its choosing and "intentionally send an erroneous authorization
request, e.g., by using an invalid scope value, thus instructing the AS to redirect the
user-agent to its phishing site". The remedy is normative: "The AS MUST always authenticate the
user first and [...] prompt the user for credentials when needed, before redirecting the user."

So once the client and redirect URI are verified (only then may an error be redirected at all,
§4.1.2.1), an error such as ``invalid_scope`` or ``unsupported_response_type`` is stored with a
pending request and the login form is shown; the error is redirected, with ``state`` and
``iss``, after the password. Registered redirect URIs are loopback-only here, so the phishing
site would have to run on the user's own machine, but the spec sentence leaves no room for that
risk assessment and the cost is one sign-in. ``--auto-approve`` keeps the immediate redirect: there
the operator has declared every request to be the first demo user's, so no one is left to sign in.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Row

from demo_as.db import now
from demo_as.errors import InvalidRequest, OAuthError, RedirectError
from demo_as.models import PendingAuthorization
from demo_as.queries import INSERT_PENDING_ERROR, PENDING_ERROR_BY_ID
from demo_as.store import Store
from demo_as.unstored_rows import PENDING_TTL

MAX_DESCRIPTION = 1000


def defer_error(store: Store, client_id: str, error: RedirectError) -> PendingAuthorization:
    """Stage ``error`` with a pending request (no scopes, no challenge) for the login form."""
    pending = PendingAuthorization(
        id=secrets.token_urlsafe(24),
        client_id=client_id,
        redirect_uri=error.redirect_uri,
        state=error.state,
        scopes=[],
        resource="",
        code_challenge="",
        expires_at=now() + PENDING_TTL,
    )
    store.add_pending(pending)
    store.db.execute(
        INSERT_PENDING_ERROR,
        {
            "pending_id": pending.id,
            "error": error.error.error,
            "error_description": error.error.description[:MAX_DESCRIPTION],
        },
    )
    return pending


def error_class(code: str) -> type[OAuthError]:
    """The typed error (errors.py) whose ``error`` code is ``code``."""
    classes = {cls.error: cls for cls in OAuthError.__subclasses__()}
    return classes.get(code, InvalidRequest)


def deferred_error(store: Store, pending: Row) -> RedirectError | None:
    """The error waiting behind ``pending``, ready to redirect; None for a real request."""
    row = store.db.execute(PENDING_ERROR_BY_ID, {"pending_id": pending.id}).first()
    if row is None:
        return None
    error = error_class(row.error)(row.error_description)
    return RedirectError(error, pending.redirect_uri, pending.state)
