"""Fixtures of the CIMD tests: one HTTPS document host (a throwaway CA the AS trusts through
``cimd_ca_bundle``) and one real AS + RS per module (``harness.stack``) allowed to fetch from it
(``cimd_allowed_hosts``: the host is 127.0.0.1, which the SSRF rule refuses otherwise); it
overrides tests/conftest.py's ``stack``, whose ``make_stack`` and ``http`` these tests use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness.document_host import DocumentHost, running_document_host
from harness.stack import Stack, running_stack


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentHost]:
    with running_document_host(tmp_path_factory.mktemp("documents")) as host:
        yield host


def cimd_settings(documents: DocumentHost, **overrides: object) -> dict[str, object]:
    return {
        "cimd_allowed_hosts": ["127.0.0.1"],
        "cimd_ca_bundle": documents.ca_bundle,
        **overrides,
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, documents: DocumentHost) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack"), **cimd_settings(documents)) as running:
        yield running
