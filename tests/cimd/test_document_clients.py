"""``DocumentClients`` on a real SQLite database and a real HTTPS document host: the number of
document clients is bounded (anyone who can serve a document can otherwise grow the client table),
and an evicted client is simply fetched again when it comes back."""

from __future__ import annotations

from pathlib import Path

from harness.db_rows import count
from harness.document_host import DocumentHost, client_document

from demo_as.cimd_clients import DocumentClients
from demo_as.db import create_db_engine
from demo_as.settings import Settings


def test_document_clients_are_bounded_and_evicted_ones_come_back(
    tmp_path: Path, documents: DocumentHost
) -> None:
    settings = Settings(
        data_dir=tmp_path, cimd_allowed_hosts=["127.0.0.1"], cimd_ca_bundle=documents.ca_bundle
    )
    engine = create_db_engine(settings.effective_database_url)
    clients = DocumentClients(settings, engine, max_clients=2)
    urls = [documents.url() for _ in range(3)]
    for url in urls:
        documents.publish(
            url,
            client_document(url, "http://127.0.0.1:1/cb"),
            headers={"cache-control": "max-age=600"},
        )

    for url in urls:
        assert clients.resolve(url).client_id == url
        assert count(engine, "clientmetadatadocument", "client_id = :u", u=url) == 1
        assert count(engine, "client", "client_id = :u", u=url) == 1
        assert count(engine, "clientmetadatadocument") <= 2
        assert count(engine, "client") <= 2

    evicted = [url for url in urls if count(engine, "client", "client_id = :u", u=url) == 0]
    assert len(evicted) == 1
    assert clients.resolve(evicted[0]).client_id == evicted[0]
    assert documents.fetch_count(evicted[0]) == 2  # fetched again, not served from a lost row
    engine.dispose()
