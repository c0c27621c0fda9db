"""/authorize and /token with client ID metadata documents served over real HTTPS, against a
real AS (login and consent forms) and RS.

A valid document makes a working client (consent says where it came from; the cache follows the
caching headers). Every refused document is an HTML page naming the rule and its section of the
draft, never a redirect, and leaves every table of the AS's database untouched.
"""

from __future__ import annotations

import html
import json
import re

import httpx2
import pytest
from harness.db_rows import count, unchanged
from harness.document_host import Answer, DocumentHost, client_document
from harness.oauth_flow import (
    REDIRECT_URI,
    AuthorizationRequest,
    authorize,
    code_from,
    consent,
    login,
    redeem,
)
from harness.stack import Stack

DRAFT = "draft-ietf-oauth-client-id-metadata-document-00"


def request_for(stack: Stack, url: str, redirect_uri: str = REDIRECT_URI) -> AuthorizationRequest:
    return AuthorizationRequest(client_id=url, redirect_uri=redirect_uri, resource=stack.resource)


def page_text(response: httpx2.Response) -> str:
    """What a reader sees: tags removed, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", response.text)).split())


def test_a_valid_document_is_a_client_and_its_metadata_is_kept(
    stack: Stack, documents: DocumentHost, http: httpx2.Client
) -> None:
    url = documents.url()
    documents.publish(
        url, client_document(url, REDIRECT_URI), headers={"cache-control": "max-age=600"}
    )
    request = request_for(stack, url)

    page = login(http, http.get(f"{stack.as_url}/authorize", params=request.params()))
    assert page.status_code == 200, page.text[:1000]
    # What the consent page says about the document: tests/browser/test_cimd_pages.py.
    assert 'id="metadata-document"' in page.text
    code = code_from(consent(http, page), request)
    tokens = redeem(http, stack.as_url, request, code)
    assert tokens.status_code == 200, tokens.text
    assert "refresh_token" in tokens.json()  # the document registered the refresh_token grant
    # Fetched once: /authorize fetched it, /token used the cache (max-age=600, CIMD §4.4).
    assert documents.fetch_count(url) == 1
    # The client record the lab and the consent page read: name, and the document's software.
    assert (
        count(
            stack.engine,
            "client",
            "client_id = :u AND client_name = :n",
            u=url,
            n="CIMD test client",
        )
        == 1
    )
    assert (
        count(
            stack.engine,
            "clientmetadatadocument",
            "client_id = :u AND software_id = 'cimd-test-suite' AND software_version = '1.0.0'",
            u=url,
        )
        == 1
    )


def test_an_uncacheable_document_is_fetched_again_at_the_token_endpoint(
    stack: Stack, documents: DocumentHost, http: httpx2.Client
) -> None:
    """no-store: /token re-fetches, and a document that turned invalid stops the redemption."""
    url = documents.url()
    documents.publish(
        url, client_document(url, REDIRECT_URI), headers={"cache-control": "no-store"}
    )
    request = request_for(stack, url)
    code = code_from(authorize(http, stack.as_url, request), request)
    documents.publish(url, client_document(url + "-moved", REDIRECT_URI))

    with unchanged(stack.engine):
        refused = redeem(http, stack.as_url, request, code)
    assert refused.status_code == 401, refused.text
    body = refused.json()
    assert body["error"] == "invalid_client"
    assert f"{DRAFT} §4.1" in body["error_description"]
    assert documents.fetch_count(url) == 2


def dcr_refusal_of(stack: Stack, http: httpx2.Client, redirect_uri: str) -> str:
    response = http.post(
        f"{stack.as_url}/register",
        json={"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none"},
    )
    assert response.status_code == 400
    return response.json()["error_description"]


def test_a_non_loopback_redirect_uri_is_refused_with_the_dcr_explanation(
    stack: Stack, documents: DocumentHost, http: httpx2.Client
) -> None:
    url = documents.url()
    documents.publish(url, client_document(url, "https://evil.example/callback"))
    with unchanged(stack.engine):
        page = http.get(f"{stack.as_url}/authorize", params=request_for(stack, url).params())
    assert page.status_code == 400 and "location" not in page.headers
    text = page_text(page)
    assert f"{DRAFT} §4.5" in text
    assert dcr_refusal_of(stack, http, "https://evil.example/callback") in text


def big_document(url: str) -> bytes:
    return json.dumps(client_document(url, REDIRECT_URI, client_name="x" * 6000)).encode()


REFUSALS = {
    "mismatched client_id": (
        lambda url: Answer(json.dumps(client_document(url + "x", REDIRECT_URI)).encode()),
        "§4.1",
        "but was fetched from",
    ),
    "redirect response": (
        lambda url: Answer(b"", status=302, headers={"location": url + "-elsewhere"}),
        "§4.3",
        "redirects are not followed",
    ),
    "not found": (lambda url: Answer(b"{}", status=404), "§4.3", "HTTP 404, not 200"),
    "oversized body": (lambda url: Answer(big_document(url)), "§6.6", "larger than 5120 bytes"),
    "oversized chunked body": (
        lambda url: Answer(big_document(url), chunked=True),
        "§6.6",
        "larger than 5120 bytes",
    ),
    "slow server": (
        lambda url: Answer(json.dumps(client_document(url, REDIRECT_URI)).encode(), delay=8),
        "§4.3",
        "no complete answer within 5 s",
    ),
    "HTML, not JSON": (
        lambda url: Answer(b"<html>hello</html>", content_type="text/html"),
        "§4.1",
        "not application/json",
    ),
    "malformed JSON": (lambda url: Answer(b"{not json"), "§4.1", "not valid JSON"),
    "a JSON array": (lambda url: Answer(b"[]"), "§4.1", "not a JSON object"),
    "client_secret": (
        lambda url: Answer(
            json.dumps(client_document(url, REDIRECT_URI, client_secret="s3cret")).encode()
        ),
        "§4.1, §6.2",
        "carries client_secret",
    ),
    "shared-secret auth method": (
        lambda url: Answer(
            json.dumps(
                client_document(url, REDIRECT_URI, token_endpoint_auth_method="client_secret_basic")
            ).encode()
        ),
        "§4.1, §6.2",
        "based on a shared secret",
    ),
    "private_key_jwt": (
        lambda url: Answer(
            json.dumps(
                client_document(
                    url,
                    REDIRECT_URI,
                    token_endpoint_auth_method="private_key_jwt",
                    jwks_uri="https://app.example/jwks.json",
                )
            ).encode()
        ),
        "§4.1",
        "private_key_jwt is not implemented here",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_documents_get_a_page_naming_the_rule_and_change_nothing(
    stack: Stack,
    documents: DocumentHost,
    http: httpx2.Client,
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer, section, explanation = REFUSALS[case]
    url = documents.url()
    documents.answer(url, answer(url))
    with unchanged(stack.engine):
        page = http.get(f"{stack.as_url}/authorize", params=request_for(stack, url).params())
    assert page.status_code == 400, page.text[:1000]
    assert "location" not in page.headers  # never a redirect: no redirect URI was verified
    text = page_text(page)
    assert f"Spec: {DRAFT} {section}" in text
    assert explanation in text
    assert f"client_id {url}" in text
    assert documents.fetch_count(url + "-elsewhere") == 0  # a redirect is never followed
    # One readable log line per refusal: the client_id, why, and the section.
    lines = [r.getMessage() for r in caplog.records if r.name == "demo_as.cimd"]
    assert [line for line in lines if url in line and explanation in line and section in line]


def test_an_invalid_client_id_url_is_refused_before_any_fetch(
    stack: Stack, documents: DocumentHost, http: httpx2.Client
) -> None:
    url = documents.url().replace("https://", "http://")
    before = len(documents.fetches)
    with unchanged(stack.engine):
        page = http.get(f"{stack.as_url}/authorize", params=request_for(stack, url).params())
    assert page.status_code == 400 and "location" not in page.headers
    assert f"{DRAFT} §3" in page_text(page) and "scheme must be https" in page_text(page)
    assert len(documents.fetches) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_document_host_is_refused_without_the_switch(
    make_stack, documents: DocumentHost, http: httpx2.Client, host: str
) -> None:
    stack = make_stack(cimd_ca_bundle=documents.ca_bundle)  # no cimd_allowed_hosts
    url = documents.url().replace("127.0.0.1", host)
    documents.publish(url.replace(host, "127.0.0.1"), client_document(url, REDIRECT_URI))
    before = len(documents.fetches)
    with unchanged(stack.engine):
        page = http.get(f"{stack.as_url}/authorize", params=request_for(stack, url).params())
    assert page.status_code == 400 and "location" not in page.headers
    text = page_text(page)
    assert f"{DRAFT} §6.5" in text
    assert "is a loopback address" in text and "--cimd-allowed-host" in text
    assert len(documents.fetches) == before  # refused before connecting


def test_loopback_any_port_lets_a_portless_document_redirect_match(
    stack: Stack, make_stack, documents: DocumentHost, http: httpx2.Client
) -> None:
    """RFC 8252 §7.3 through --loopback-any-port: a document listing http://localhost/callback
    (as desktop clients publish it) matches a callback on an ephemeral port; without the switch
    the comparison stays exact."""
    url = documents.url()
    documents.publish(url, client_document(url, "http://localhost/callback"))
    request = request_for(stack, url, "http://localhost:51234/callback")

    exact = http.get(f"{stack.as_url}/authorize", params=request.params())
    assert exact.status_code == 400 and "location" not in exact.headers
    assert "redirect_uri does not match the registration" in exact.text

    any_port = make_stack(
        cimd_allowed_hosts=["127.0.0.1"],
        cimd_ca_bundle=documents.ca_bundle,
        loopback_any_port=True,
    )
    request = request_for(any_port, url, "http://localhost:51234/callback")
    code = code_from(authorize(http, any_port.as_url, request), request)
    assert redeem(http, any_port.as_url, request, code).status_code == 200


def test_a_document_host_with_an_untrusted_certificate_is_refused(
    make_stack, documents: DocumentHost, http: httpx2.Client
) -> None:
    """TLS is verified on the pinned connection: without --cimd-ca-bundle the test CA is not
    trusted, so the fetch fails (CIMD §4.3) instead of reading an unauthenticated document."""
    stack = make_stack(cimd_allowed_hosts=["127.0.0.1"])  # no cimd_ca_bundle
    url = documents.url()
    documents.publish(url, client_document(url, REDIRECT_URI))
    with unchanged(stack.engine):
        page = http.get(f"{stack.as_url}/authorize", params=request_for(stack, url).params())
    assert page.status_code == 400 and "location" not in page.headers
    text = page_text(page)
    assert f"{DRAFT} §4.3" in text and "CERTIFICATE_VERIFY_FAILED" in text
