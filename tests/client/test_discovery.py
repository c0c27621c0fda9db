"""Discovery rules: PRM location order and `resource` check (RFC 9728 §3.1, §3.3), AS metadata
order (MCP, RFC 8414 §3.1), issuer identity (RFC 8414 §3.3) and PKCE S256."""

from __future__ import annotations

import pytest

from demo_client.discovery import (
    as_metadata_candidate_urls,
    parse_as_metadata,
    parse_prm,
    prm_candidate_urls,
)
from demo_client.errors import DiscoveryError
from demo_client.pkce import PkcePair, s256_challenge

SERVER = "http://127.0.0.1:8000/mcp"


def test_prm_locations_in_mcp_order() -> None:
    assert prm_candidate_urls(SERVER, None) == [
        ("http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp", SERVER),
        ("http://127.0.0.1:8000/.well-known/oauth-protected-resource", "http://127.0.0.1:8000"),
    ]
    assert prm_candidate_urls(SERVER, "http://x/custom") == [("http://x/custom", SERVER)]


def test_as_metadata_locations_in_mcp_order() -> None:
    assert as_metadata_candidate_urls("https://auth.example.com/tenant1") == [
        "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
        "https://auth.example.com/.well-known/openid-configuration/tenant1",
        "https://auth.example.com/tenant1/.well-known/openid-configuration",
    ]
    assert as_metadata_candidate_urls("http://127.0.0.1:9000") == [
        "http://127.0.0.1:9000/.well-known/oauth-authorization-server",
        "http://127.0.0.1:9000/.well-known/openid-configuration",
    ]


def prm(resource: str) -> dict[str, object]:
    return {"resource": resource, "authorization_servers": ["http://127.0.0.1:9000"]}


def test_prm_for_another_resource_is_refused() -> None:
    url = "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"
    assert parse_prm(prm(SERVER), url=url, server_url=SERVER, built_from=SERVER).resource == SERVER
    for other in ("https://evil.example.com/mcp", SERVER + "/", "http://127.0.0.1:8000"):
        with pytest.raises(DiscoveryError, match="RFC 9728"):
            parse_prm(prm(other), url=url, server_url=SERVER, built_from=SERVER)


def test_root_prm_may_name_the_origin_or_the_server() -> None:
    root = "http://127.0.0.1:8000/.well-known/oauth-protected-resource"
    origin = "http://127.0.0.1:8000"
    for resource in (origin, SERVER):
        assert parse_prm(prm(resource), url=root, server_url=SERVER, built_from=origin)


def as_doc(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "issuer": "http://127.0.0.1:9000",
        "authorization_endpoint": "http://127.0.0.1:9000/authorize",
        "token_endpoint": "http://127.0.0.1:9000/token",
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
    }
    doc.update(overrides)
    return doc


def test_as_metadata_issuer_must_be_identical() -> None:
    ok = parse_as_metadata(as_doc(), url="u", expected_issuer="http://127.0.0.1:9000")
    assert ok.iss_parameter_supported
    for expected in ("http://127.0.0.1:9000/", "http://localhost:9000"):
        with pytest.raises(DiscoveryError, match="RFC 8414"):
            parse_as_metadata(as_doc(), url="u", expected_issuer=expected)


@pytest.mark.parametrize("methods", [None, ["plain"], []])
def test_as_without_s256_is_refused(methods: list[str] | None) -> None:
    with pytest.raises(DiscoveryError, match="S256"):
        parse_as_metadata(
            as_doc(code_challenge_methods_supported=methods),
            url="u",
            expected_issuer="http://127.0.0.1:9000",
        )


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    assert (
        s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    pair = PkcePair.generate()
    assert len(pair.verifier) == 43 and pair.challenge == s256_challenge(pair.verifier)
    assert PkcePair.generate().verifier != pair.verifier
