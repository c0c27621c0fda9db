"""Building the authorization response redirect (success and error alike).

One function adds ``state`` and ``iss`` so no response can forget them.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from demo_as.settings import IssMode, Settings

WRONG_ISSUER = "https://wrong-issuer.invalid"


def iss_parameter(settings: Settings, mode: IssMode | None = None) -> str | None:
    """RFC 9207 §2: the ``iss`` value of every authorization response.

    It MUST be identical to the metadata ``issuer`` (RFC 9207 §2.3). ``iss_mode`` deliberately
    breaks that for testing clients: ``omit`` sends none, ``wrong`` sends another issuer; ``mode``
    (a lab probe) overrides it for one response.
    """
    mode = mode or settings.iss_mode
    if mode is IssMode.omit:
        return None
    if mode is IssMode.wrong:
        return WRONG_ISSUER
    return settings.issuer


def add_query_parameters(uri: str, params: dict[str, str]) -> str:
    """RFC 6749 §3.1.2: keep the redirect URI's own query component and add ours to it."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class AuthorizationRedirect(NamedTuple):
    url: str  # the Location sent
    parameters: dict[str, str]  # what the response added to the redirect URI's own query


def authorization_redirect(
    settings: Settings,
    redirect_uri: str,
    params: dict[str, str],
    state: str | None,
    iss_mode: IssMode | None = None,
) -> AuthorizationRedirect:
    """The Location of an authorization response: ``params`` + ``state`` (echoed exactly, OAuth
    2.1 §4.1.2) + ``iss`` (RFC 9207 §2), with those parameters (the lab records them as sent,
    without parsing the Location again)."""
    full = dict(params)
    if state is not None:
        full["state"] = state
    iss = iss_parameter(settings, iss_mode)
    if iss is not None:
        full["iss"] = iss
    return AuthorizationRedirect(add_query_parameters(redirect_uri, full), full)
