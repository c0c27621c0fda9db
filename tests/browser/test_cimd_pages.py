"""What a person sees for a client identified by a client ID metadata document, in a real
browser: the consent page names the document's host with the draft's warning (CIMD §6.4), and a
refused document is an error page naming the rule, on which the browser stays (no redirect)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from harness.document_host import DocumentHost, client_document, running_document_host
from harness.oauth_flow import ALL_SCOPES, REDIRECT_URI, USERS, AuthorizationRequest
from playwright.sync_api import Page
from serving import serve_app

from demo_as.app import create_app
from demo_as.settings import Settings

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentHost]:
    with running_document_host(tmp_path_factory.mktemp("documents")) as host:
        yield host


@pytest.fixture(scope="module")
def cimd_as_url(
    tmp_path_factory: pytest.TempPathFactory, documents: DocumentHost, resource: str
) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("demo_as")

    def app_for(base_url: str):
        settings = Settings(
            issuer=base_url,
            data_dir=data_dir,
            resources=[resource],
            cimd_allowed_hosts=["127.0.0.1"],
            cimd_ca_bundle=documents.ca_bundle,
        )
        return create_app(settings)

    with serve_app(app_for) as base_url:
        yield base_url


def authorize_url(as_url: str, client_id: str, resource: str) -> str:
    request = AuthorizationRequest(
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        resource=resource,
        scope=" ".join(ALL_SCOPES),
    )
    return f"{as_url}/authorize?{urlencode(request.params())}"


def test_consent_names_the_document_host_and_warns_that_names_prove_nothing(
    page: Page, cimd_as_url: str, documents: DocumentHost, resource: str, screenshot_dir: Path
) -> None:
    url = documents.url("my-ide")
    documents.publish(
        url,
        client_document(url, REDIRECT_URI, client_name="My IDE", software_id="my-ide"),
    )
    page.goto(authorize_url(cimd_as_url, url, resource))
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", USERS["alice"])
    page.click("form button[type=submit]")
    page.wait_for_selector("input[type=checkbox][name=scope]")

    box = page.locator("#metadata-document")
    assert box.is_visible()
    text = " ".join(box.inner_text().split())
    host = documents.origin.removeprefix("https://")
    assert text.startswith(f"Identified by a client metadata document from {host}.")
    assert "software my-ide version 1.0.0" in text
    assert f"check that {host} is the application you expect" in text
    assert page.locator("h1").inner_text() == "My IDE wants access to your notes"
    page.screenshot(path=screenshot_dir / "consent-cimd.png", full_page=True)


def test_a_refused_document_is_a_page_naming_the_rule(
    page: Page, cimd_as_url: str, documents: DocumentHost, resource: str, screenshot_dir: Path
) -> None:
    url = documents.url("evil")
    documents.publish(url, client_document(url, "https://evil.example/callback"))
    response = page.goto(authorize_url(cimd_as_url, url, resource))

    assert response is not None and response.status == 400
    assert page.url.startswith(cimd_as_url)  # the browser stayed at the AS
    assert "redirect URI this server does not accept" in page.locator("h1").inner_text()
    assert "draft-ietf-oauth-client-id-metadata-document-00 §4.5" in page.inner_text(".rule")
    page.screenshot(path=screenshot_dir / "cimd-refused.png", full_page=True)
