"""Client ID Metadata Documents ("CIMD", draft-ietf-oauth-client-id-metadata-document-00): the
rules for a ``client_id`` that is a URL and for the JSON document behind it, one small pure
function per rule, each citing the draft's section (``CIMD §N``).

A refused document is a typed error (a class per rule family below); ``errors.py`` turns it into
an HTML page at ``/authorize`` (never a redirect: the redirect URI is not verified yet) and into
``invalid_client`` at ``/token``. Fetching, with its SSRF rules, lives in ``document_fetch.py``;
the cache and the client record in ``cimd_clients.py``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from demo_as.models import CLIENT_ID_LENGTH
from demo_as.redirect_uris import redirect_uris_problem, split_authority

DRAFT = "draft-ietf-oauth-client-id-metadata-document-00"
MAX_CLIENT_ID_URL_LENGTH = CLIENT_ID_LENGTH
# CIMD §4.1: "MUST NOT include client_secret_post, client_secret_basic, client_secret_jwt, or any
# other method based around a shared symmetric secret".
SHARED_SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt")
# Public clients only: private_key_jwt (CIMD §6.2) is not implemented by this AS (docs/cimd.md).
SUPPORTED_AUTH_METHODS = ("none",)
SUPPORTED_GRANT_TYPES = ("authorization_code", "refresh_token")
MAX_CLIENT_NAME_LENGTH = 200
MAX_SOFTWARE_FIELD_LENGTH = 200


class ClientMetadataDocumentError(Exception):
    """A client ID metadata document (or its URL) was refused; names the rule and section."""

    title = "Client ID metadata document refused"
    rule = "The client_id URL must lead to a valid client ID metadata document."
    section = f"{DRAFT} §4"

    def __init__(self, url: str, explanation: str) -> None:
        super().__init__(f"{self.title}: {explanation}")
        self.url = url
        self.explanation = explanation


class InvalidClientIdUrl(ClientMetadataDocumentError):
    title = "This client_id is not a valid client ID metadata document URL"
    rule = (
        "A client_id URL must use https, contain a path, and have no dot segments, fragment, "
        "userinfo or query string."
    )
    section = f"{DRAFT} §3"


class DocumentNotFetched(ClientMetadataDocumentError):
    title = "The client's metadata document could not be fetched"
    rule = (
        "If fetching the metadata document fails, the authorization request is aborted. The "
        "fetch must answer 200 directly (redirects are not followed), within the time limit."
    )
    section = f"{DRAFT} §4.3"


class AddressRefused(ClientMetadataDocumentError):
    title = "The client's metadata document is on a non-public address"
    rule = (
        "The authorization server avoids fetching URLs on private, loopback or other non-public "
        "addresses (server-side request forgery), checking every address the host resolves to."
    )
    section = f"{DRAFT} §6.5"


class DocumentTooLarge(ClientMetadataDocumentError):
    title = "The client's metadata document is too large"
    rule = "The response size of a client metadata document is limited (5 kilobytes recommended)."
    section = f"{DRAFT} §6.6"


class InvalidDocument(ClientMetadataDocumentError):
    title = "The client's metadata document is invalid"
    rule = (
        "The document is a JSON object whose client_id equals its URL (simple string "
        "comparison), with client metadata this server understands."
    )
    section = f"{DRAFT} §4.1"


class SharedSecretRefused(ClientMetadataDocumentError):
    title = "The client's metadata document asks for a shared secret"
    rule = (
        "There is no way to establish a shared secret with a metadata document: no "
        "client_secret, client_secret_expires_at or shared-secret token_endpoint_auth_method."
    )
    section = f"{DRAFT} §4.1, §6.2"


class RedirectUriRefused(ClientMetadataDocumentError):
    title = "The client's metadata document lists a redirect URI this server does not accept"
    rule = (
        "The document's redirect_uris become the client's registered redirect URIs, so they pass "
        "the same loopback-only policy as dynamic registration."
    )
    section = f"{DRAFT} §4.5; RFC 8252 §7.3; RFC 9700 §4.1"


def looks_like_client_id_url(client_id: str | None) -> bool:
    """A client_id written as an http(s) URL is a metadata-document attempt (CIMD §3); the ids
    this AS issues at /register never start that way (``registration.new_client_id``)."""
    return bool(client_id) and client_id.lower().startswith(("https://", "http://"))


def client_id_url_problem(url: str) -> str | None:
    """CIMD §3: "MUST have an "https" scheme, MUST contain a path component, MUST NOT contain
    single-dot or double-dot path segments, MUST NOT contain a fragment component and MUST NOT
    contain a username or password"; "SHOULD NOT include a query string" (refused here)."""
    if len(url) > MAX_CLIENT_ID_URL_LENGTH:
        return f"a client_id URL may be at most {MAX_CLIENT_ID_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        return "a client_id URL must not contain whitespace, control characters or backslashes"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the client_id is not a well-formed URL (RFC 3986)"
    if not url.startswith("https://"):
        return "the scheme must be https, written in lower case"
    host, port, userinfo = split_authority(parts.netloc)
    if userinfo is not None:
        return "a client_id URL must not contain a username or password"
    if not host:
        return "a client_id URL must name a host"
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return f"port {port[:10]!r} is not a number between 1 and 65535"
    if "#" in url:
        return "a client_id URL must not contain a fragment"
    if parts.query or "?" in url:
        return "a client_id URL should not include a query string (refused by this server)"
    if parts.path in ("", "/"):
        return "a client_id URL must contain a path component, e.g. https://app.example/client.json"
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return "a client_id URL must not contain . or .. path segments"
    return None


def content_type_problem(content_type: str | None) -> str | None:
    """CIMD §4.1: the document is JSON; "MAY also be served with more specific content types as
    long as the response is JSON and conforms to application/<AS-defined>+json"."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return None
    if media_type.startswith("application/") and media_type.endswith("+json"):
        return None
    shown = media_type[:60] or "no Content-Type"
    return f"the response is {shown!r}, not application/json (or application/...+json)"


def client_id_mismatch(document: dict, url: str) -> str | None:
    """CIMD §4.1: "MUST contain a client_id property whose value MUST match the URL of the
    document using simple string comparison" (RFC 3986 §6.2.1: no normalisation at all)."""
    value = document.get("client_id")
    if value == url:
        return None
    shown = repr(value)[:120] if value is not None else "no client_id"
    return f"the document has {shown} but was fetched from {url[:200]!r}"


def shared_secret_problem(document: dict) -> str | None:
    """CIMD §4.1 / §6.2: no shared secret can exist between a document and the AS."""
    for name in ("client_secret", "client_secret_expires_at"):
        if name in document:
            return f"the document carries {name}, which must not be used"
    method = document.get("token_endpoint_auth_method", "none")
    if method in SHARED_SECRET_AUTH_METHODS:
        return f"token_endpoint_auth_method {method!r} is based on a shared secret"
    return None


def client_metadata_problem(document: dict) -> str | None:
    """RFC 7591 §2 metadata of the document (CIMD §4.1 reuses that registry) that this AS checks:
    a public client (``none``) of the code flow, with short printable names."""
    method = document.get("token_endpoint_auth_method", "none")
    if method not in SUPPORTED_AUTH_METHODS:
        return (
            f"token_endpoint_auth_method {str(method)[:40]!r} is not supported; documents "
            "must declare none (public client); private_key_jwt is not implemented here"
        )
    grant_types = document.get("grant_types", ["authorization_code"])
    if not _strings(grant_types) or not set(grant_types) <= set(SUPPORTED_GRANT_TYPES):
        return f"grant_types must be a list drawn from {', '.join(SUPPORTED_GRANT_TYPES)}"
    if "authorization_code" not in grant_types:
        return "grant_types must include authorization_code (the only flow this server offers)"
    if document.get("response_types", ["code"]) != ["code"]:
        return 'response_types must be ["code"] (OAuth 2.1 has no implicit flow)'
    for name, limit in (
        ("client_name", MAX_CLIENT_NAME_LENGTH),
        ("software_id", MAX_SOFTWARE_FIELD_LENGTH),
        ("software_version", MAX_SOFTWARE_FIELD_LENGTH),
    ):
        value = document.get(name)
        if value is not None and not (isinstance(value, str) and 0 < len(value) <= limit):
            return f"{name} must be a string of 1 to {limit} characters"
    return None


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def check_document(document: object, url: str) -> dict:
    """All document rules in order; returns the document or raises the rule's error class."""
    if not isinstance(document, dict):
        raise InvalidDocument(url, "the document is not a JSON object")
    if problem := client_id_mismatch(document, url):
        raise InvalidDocument(url, problem)
    if problem := shared_secret_problem(document):
        raise SharedSecretRefused(url, problem)
    if problem := redirect_uris_problem(document.get("redirect_uris")):
        raise RedirectUriRefused(url, problem)
    if problem := client_metadata_problem(document):
        raise InvalidDocument(url, problem)
    return document


def check_client_id_url(url: str) -> str:
    """The URL when it passes CIMD §3, else ``InvalidClientIdUrl``."""
    if problem := client_id_url_problem(url):
        raise InvalidClientIdUrl(url, problem)
    return url
