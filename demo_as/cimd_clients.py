"""Clients identified by a client ID metadata document (CIMD, draft-ietf-oauth-client-id-metadata-
document-00): turn a ``client_id`` URL into a ``Client`` row, fetching the document when the
cached copy expired (CIMD §4 "SHOULD fetch", §4.4 caching).

The database is the cache, so several AS processes on one PostgreSQL share it: a ``Client`` row
(the document's OAuth metadata, exactly what /authorize and /token already use for registered
clients) plus a ``ClientMetadataDocument`` row (software id/version, where and when it was
fetched, until when it may be reused); the queries are in ``store.py``. Only a valid document is
written (§4.4: "MUST NOT cache documents which are invalid"); a refusal writes nothing. The
cache is read and written in its own short transaction, before the request's store has read
anything: two requests fetching the same new document at once cannot fail each other, and the
request's own session then sees the current row. The number of document clients is bounded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from demo_as.client_metadata_documents import (
    ClientMetadataDocumentError,
    InvalidDocument,
    check_client_id_url,
    check_document,
    looks_like_client_id_url,
)
from demo_as.db import now, session
from demo_as.document_fetch import fetch_document, tls_context
from demo_as.models import Client, ClientMetadataDocument
from demo_as.scopes import parse_scope
from demo_as.settings import Settings
from demo_as.store import Store

log = logging.getLogger("demo_as.cimd")

MAX_DOCUMENT_CLIENTS = 1000


@dataclass(frozen=True)
class DocumentProvenance:
    """What the consent page and the lab show about a document-identified client."""

    url: str
    host: str
    software_id: str | None
    software_version: str | None
    fetched_at: int
    expires_at: int


def client_id_host(url: str) -> str:
    """CIMD §6.4: "SHOULD display the hostname of the client_id" (with its port, if any)."""
    return urlsplit(url).netloc


def client_from_document(url: str, document: dict, settings: Settings, issued_at: int) -> Client:
    """The ``Client`` row a valid document stands for: a public client (``none``) whose
    registered redirect URIs are the document's (CIMD §4.5). Unknown scopes in its ``scope`` are
    dropped: the registered scope is only the default of a request without ``scope``."""
    scopes = [s for s in parse_scope(document.get("scope") or "") if s in settings.scopes]
    return Client(
        client_id=url,
        client_secret_hash=None,
        client_name=document.get("client_name"),
        redirect_uris=list(document["redirect_uris"]),
        grant_types=list(dict.fromkeys(document.get("grant_types", ["authorization_code"]))),
        response_types=["code"],
        token_endpoint_auth_method="none",
        scope=" ".join(scopes) or None,
        client_id_issued_at=issued_at,
    )


class DocumentClients:
    """Resolves client_id URLs for one app (``app.state.document_clients``)."""

    def __init__(
        self, settings: Settings, engine: Engine, max_clients: int = MAX_DOCUMENT_CLIENTS
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.max_clients = max_clients
        self.context = tls_context(settings.cimd_ca_bundle)

    def client(self, store: Store, client_id: str | None) -> Client | None:
        """The client for ``client_id``: a registered one, or a document-identified one (fetched
        when not cached). Raises a ``ClientMetadataDocumentError`` for a refused document."""
        if looks_like_client_id_url(client_id):
            return self.resolve(client_id)  # type: ignore[arg-type]
        return store.client(client_id)

    def refresh(self, client_id: str | None) -> None:
        """At /token, before the request's store reads the client: make sure a document
        client's row is current."""
        if looks_like_client_id_url(client_id):
            self.resolve(client_id)  # type: ignore[arg-type]

    def resolve(self, url: str) -> Client:
        try:
            check_client_id_url(url)
            with session(self.engine) as db:
                cache = Store(db)
                client = cache.client(url)
                record = cache.client_metadata_document(url)
            if client is not None and record is not None and record.expires_at > now():
                return client
            return self.fetch_and_store(url, client)
        except ClientMetadataDocumentError as refusal:
            # One readable line per refusal: which rule, and why.
            log.warning(
                "client_id %s refused: %s (%s)", url[:200], refusal.explanation, refusal.section
            )
            raise

    def fetch_and_store(self, url: str, cached: Client | None) -> Client:
        fetched = fetch_document(
            url, allowed_hosts=self.settings.cimd_allowed_hosts, context=self.context
        )
        try:
            parsed = json.loads(fetched.body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidDocument(url, "the response body is not valid JSON") from None
        document = check_document(parsed, url)
        fetched_at = now()
        issued_at = cached.client_id_issued_at if cached is not None else fetched_at
        client = client_from_document(url, document, self.settings, issued_at)
        record = ClientMetadataDocument(
            client_id=url,
            software_id=document.get("software_id"),
            software_version=document.get("software_version"),
            fetched_from=fetched.address,
            fetched_at=fetched_at,
            expires_at=fetched_at + fetched.cache_seconds,
            document=document,
        )
        with session(self.engine) as db:
            cache = Store(db)
            try:
                cache.save_document_client(client, record, self.max_clients)
                cache.commit()
            except IntegrityError:  # a concurrent request stored the same document first
                db.rollback()
        log.info(
            "client_id %s: metadata document fetched from %s, cached %d s",
            url[:200],
            fetched.address,
            fetched.cache_seconds,
        )
        return client

    def provenance(self, store: Store, client_id: str) -> DocumentProvenance | None:
        """The document facts of a client, or None for a registered client."""
        record = store.client_metadata_document(client_id)
        if record is None:
            return None
        return DocumentProvenance(
            url=record.client_id,
            host=client_id_host(record.client_id),
            software_id=record.software_id,
            software_version=record.software_version,
            fetched_at=record.fetched_at,
            expires_at=record.expires_at,
        )
