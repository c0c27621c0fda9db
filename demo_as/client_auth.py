"""Client authentication at the token and revocation endpoints (OAuth 2.1 draft-13 §2.4,
RFC 6749 §2.3.1), by the method the client registered: ``none``, ``client_secret_basic`` or
``client_secret_post``."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy import Row

from demo_as.db import secret_hash
from demo_as.errors import InvalidClient, InvalidRequest
from demo_as.store import Store

TOKEN_ENDPOINT_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
BASIC_CHALLENGE = 'Basic realm="demo_as", charset="UTF-8"'


@dataclass(frozen=True)
class PresentedCredentials:
    """What the request carried: the method it used, the client_id and the secret (if any)."""

    method: str
    client_id: str | None
    secret: str | None


def parse_basic_authorization(header: str) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1 / RFC 7617: ``Basic base64(urlencode(id) ":" urlencode(secret))``.
    Returns None when the header is not a well-formed Basic credential."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return unquote(client_id), unquote(secret)


def presented_credentials(
    authorization: str | None, form_client_id: str | None, form_secret: str | None
) -> PresentedCredentials:
    """Work out which authentication method a request used.

    OAuth 2.1 draft-13 §2.4: a client MUST NOT use more than one authentication method in a
    request, so a Basic header together with a form secret is refused.
    """
    if authorization:
        parsed = parse_basic_authorization(authorization)
        if parsed is None:
            raise InvalidClient(
                "the Authorization header is not a valid Basic credential (RFC 6749 §2.3.1)",
                www_authenticate=BASIC_CHALLENGE,
            )
        if form_secret is not None:
            raise InvalidRequest(
                "use one client authentication method: Basic header or client_secret, not both",
            )
        client_id, secret = parsed
        if form_client_id is not None and form_client_id != client_id:
            raise InvalidRequest("client_id differs from the Basic credential")
        return PresentedCredentials("client_secret_basic", client_id, secret)
    if form_secret is not None:
        return PresentedCredentials("client_secret_post", form_client_id, form_secret)
    return PresentedCredentials("none", form_client_id, None)


def authenticate_client(store: Store, presented: PresentedCredentials) -> Row:
    """The registered client (its row) the credentials prove, else ``invalid_client`` (RFC 6749
    §5.2).

    The method used must be the one registered (RFC 7591 §2 ``token_endpoint_auth_method``), so a
    confidential client cannot fall back to presenting only its client_id. Secrets are compared
    as hashes in constant time.
    """
    challenge = BASIC_CHALLENGE if presented.method == "client_secret_basic" else None

    def refuse(description: str) -> InvalidClient:
        return InvalidClient(description, www_authenticate=challenge)

    if not presented.client_id:
        raise refuse("client authentication failed: no client_id was presented")
    client = store.client(presented.client_id)
    if client is None:
        raise refuse("client authentication failed: unknown client_id")
    if presented.method != client.token_endpoint_auth_method:
        raise refuse(
            f"client authentication failed: this client registered "
            f"token_endpoint_auth_method {client.token_endpoint_auth_method!r} but the request "
            f"used {presented.method!r}"
        )
    if client.token_endpoint_auth_method != "none":
        stored = client.client_secret_hash or ""
        if not hmac.compare_digest(secret_hash(presented.secret or ""), stored):
            raise refuse("client authentication failed: wrong client secret")
    return client
