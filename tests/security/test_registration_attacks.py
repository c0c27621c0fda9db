"""Attacks on dynamic client registration (RFC 7591).

The AS accepts only loopback redirect URIs (DESIGN.md "Hardening"). Every attack here must get
``400`` with the RFC 7591 §3.2.2 error code, and must leave the database exactly as it was: a
refused registration is not a half-registered client.
"""

from __future__ import annotations

import httpx2
from harness.db_rows import unchanged
from harness.oauth_flow import REDIRECT_URI


def refuse_registration(
    stack, http: httpx2.Client, redirect_uris: object, error: str = "invalid_redirect_uri", **meta
) -> dict:
    """POST /register, assert the refusal and that no row anywhere changed."""
    body = {"redirect_uris": redirect_uris, "token_endpoint_auth_method": "none", **meta}
    with unchanged(stack.engine):
        response = http.post(f"{stack.as_url}/register", json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["error"] == error, payload
    assert payload.get("error_description"), "RFC 7591 §3.2.2: say what is wrong"
    assert "client_id" not in payload
    return payload


def test_register_refuses_https_web_host(stack, http) -> None:
    """RFC 9700 §4.1 / DESIGN.md: an attacker-registered https callback would receive codes;
    this AS registers loopback redirect URIs only, and the description says what is allowed."""
    payload = refuse_registration(stack, http, ["https://evil.example/callback"])
    assert "127.0.0.1" in payload["error_description"]


def test_register_refuses_http_web_host(stack, http) -> None:
    """OAuth 2.1 §1.5: plain http is only tolerated on loopback; a web host is refused."""
    refuse_registration(stack, http, ["http://evil.example/callback"])


def test_register_refuses_lookalike_ip_prefix_host(stack, http) -> None:
    """RFC 9700 §4.1.3: ``127.0.0.1.evil.example`` is a DNS name under evil.example, not loopback;
    a prefix check would be fooled."""
    refuse_registration(stack, http, ["http://127.0.0.1.evil.example/callback"])


def test_register_refuses_lookalike_localhost_prefix_host(stack, http) -> None:
    """RFC 9700 §4.1.3: ``localhost.evil.example`` resolves wherever evil.example says."""
    refuse_registration(stack, http, ["http://localhost.evil.example/callback"])


def test_register_refuses_userinfo_hiding_a_foreign_host(stack, http) -> None:
    """RFC 3986 §3.2.1 / RFC 9700 §4.1: in ``http://localhost@evil.example`` the host is
    evil.example; ``localhost`` is only userinfo."""
    refuse_registration(stack, http, ["http://localhost@evil.example/callback"])


def test_register_refuses_userinfo_before_a_loopback_host(stack, http) -> None:
    """RFC 3986 §3.2.1: userinfo in a redirect URI has no legitimate use and enables confusion
    between parsers; refused even when the host is loopback."""
    refuse_registration(stack, http, ["http://evil@127.0.0.1/callback"])


def test_register_refuses_backslash_authority_confusion(stack, http) -> None:
    """RFC 9700 §4.1.3: WHATWG parsers read ``http://127.0.0.1\\@evil.example`` as host
    evil.example; a naive parser sees 127.0.0.1."""
    refuse_registration(stack, http, ["http://127.0.0.1\\@evil.example/callback"])


def test_register_refuses_fragment(stack, http) -> None:
    """OAuth 2.1 §2.3 / RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment"."""
    refuse_registration(stack, http, [f"{REDIRECT_URI}#frag"])


def test_register_refuses_javascript_scheme(stack, http) -> None:
    """RFC 9700 §4.1 / OAuth 2.1 §7.12.2: a ``javascript:`` redirect runs attacker script."""
    refuse_registration(stack, http, ["javascript:alert(document.domain)//127.0.0.1"])


def test_register_refuses_data_scheme(stack, http) -> None:
    """RFC 9700 §4.1: a ``data:`` URI renders attacker content with the code in the URL."""
    refuse_registration(stack, http, ["data:text/html,<script>alert(1)</script>"])


def test_register_refuses_file_scheme(stack, http) -> None:
    """OAuth 2.1 §1.5: only http(s); ``file:`` points at the local filesystem."""
    refuse_registration(stack, http, ["file:///etc/passwd"])


def test_register_refuses_custom_scheme(stack, http) -> None:
    """OAuth 2.1 §2.3.1 / MCP "localhost or HTTPS": private-use schemes can be squatted by any
    installed app; this AS does not accept them."""
    refuse_registration(stack, http, ["com.example.app:/callback", "myapp://callback"])


def test_register_refuses_other_loopback_address(stack, http) -> None:
    """DESIGN.md: exactly 127.0.0.1, localhost or [::1]; ``127.0.0.2`` is not on the list
    (exact hosts keep the rule simple enough to audit, RFC 8252 §8.3)."""
    refuse_registration(stack, http, ["http://127.0.0.2:33418/callback"])


def test_register_refuses_unspecified_address(stack, http) -> None:
    """RFC 8252 §8.3: ``0.0.0.0`` is not loopback; on some systems it reaches other interfaces."""
    refuse_registration(stack, http, ["http://0.0.0.0:33418/callback"])


def test_register_refuses_integer_ip_spelling(stack, http) -> None:
    """RFC 9700 §4.1.3: ``2130706433`` is 127.0.0.1 to some parsers and a DNS name to others;
    alternative spellings defeat exact matching and are refused."""
    refuse_registration(stack, http, ["http://2130706433:33418/callback"])


def test_register_refuses_ipv4_mapped_ipv6_loopback(stack, http) -> None:
    """RFC 8252 §8.3: only the literal ``[::1]`` is accepted; ``[::ffff:127.0.0.1]`` is another
    spelling that exact comparison would not recognise."""
    refuse_registration(stack, http, ["http://[::ffff:127.0.0.1]:33418/callback"])


def test_register_refuses_out_of_range_port(stack, http) -> None:
    """RFC 3986 §3.2.3 / RFC 793: ports are 1-65535; 0, 65536 and non-digits are refused."""
    refuse_registration(stack, http, ["http://127.0.0.1:65536/callback"])
    refuse_registration(stack, http, ["http://127.0.0.1:0/callback"])
    refuse_registration(stack, http, ["http://127.0.0.1:80a/callback"])


def test_register_refuses_wildcards(stack, http) -> None:
    """RFC 9700 §4.1.3: "Wildcard redirect URIs MUST NOT be used"."""
    refuse_registration(stack, http, ["http://127.0.0.1:*/callback"])
    refuse_registration(stack, http, ["http://127.0.0.1:33418/*"])


def test_register_refuses_unbalanced_ip_literal_bracket(stack, http) -> None:
    """RFC 3986 §3.2.2: ``[`` opens an IP-literal that must close. A URI that is not a URI is
    ``invalid_redirect_uri`` (400), never an unhandled parser error (500)."""
    refuse_registration(stack, http, ["http://[::1/callback"])


def test_register_refuses_one_bad_uri_among_good_ones(stack, http) -> None:
    """RFC 7591 §3.2.2 / RFC 9700 §4.1: every URI is checked; a valid first entry must not
    smuggle an attacker's second one into the registration."""
    payload = refuse_registration(
        stack, http, [REDIRECT_URI, "http://localhost:4000/cb", "https://evil.example/cb"]
    )
    assert "evil.example" in payload["error_description"]


def test_register_refuses_missing_or_empty_redirect_uris(stack, http) -> None:
    """RFC 7591 §2: ``redirect_uris`` is required for redirect-based flows."""
    refuse_registration(stack, http, [], error="invalid_redirect_uri")


def test_register_refuses_too_many_redirect_uris(stack, http) -> None:
    """RFC 7591 §3.2.2: a registration with a flood of URIs is refused (resource exhaustion)."""
    refuse_registration(stack, http, [f"http://127.0.0.1:{4000 + i}/cb" for i in range(50)])


def test_register_refuses_wrong_json_types(stack, http) -> None:
    """RFC 7591 §2: metadata values have fixed JSON types; a string where an array belongs (or
    a number where a string belongs) is refused with the RFC 7591 §3.2.2 code for that field
    (``invalid_redirect_uri`` for ``redirect_uris``, else ``invalid_client_metadata``), not with
    FastAPI's 422 and never a 500."""
    refuse_registration(stack, http, REDIRECT_URI, error="invalid_redirect_uri")
    refuse_registration(stack, http, [None], error="invalid_redirect_uri")
    refuse_registration(
        stack, http, [REDIRECT_URI], error="invalid_client_metadata", client_name=42
    )
    refuse_registration(
        stack,
        http,
        [REDIRECT_URI],
        error="invalid_client_metadata",
        grant_types="authorization_code",
    )


def test_register_refuses_unsupported_grant_types(stack, http) -> None:
    """OAuth 2.1 §10.1 (no implicit, no password) / RFC 7591 §2.1: only the grants this AS
    offers may be registered."""
    refuse_registration(
        stack, http, [REDIRECT_URI], error="invalid_client_metadata", grant_types=["implicit"]
    )
    refuse_registration(
        stack, http, [REDIRECT_URI], error="invalid_client_metadata", grant_types=["password"]
    )
    refuse_registration(
        stack, http, [REDIRECT_URI], error="invalid_client_metadata", response_types=["token"]
    )


def test_register_refuses_unknown_token_endpoint_auth_method(stack, http) -> None:
    """RFC 7591 §2: ``token_endpoint_auth_method`` must be one the AS supports."""
    refuse_registration(
        stack,
        http,
        [REDIRECT_URI],
        error="invalid_client_metadata",
        token_endpoint_auth_method="magic",
    )


def test_register_refuses_malformed_json(stack, http) -> None:
    """RFC 7591 §3.2.2: an unparsable body is answered in the registration error format."""
    with unchanged(stack.engine):
        response = http.post(
            f"{stack.as_url}/register",
            content=b'{"redirect_uris": ["http://127.0.0.1/cb"',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"


def test_register_refuses_non_object_json(stack, http) -> None:
    """RFC 7591 §3.1: the body is a JSON object; an array or a bare string is refused."""
    for body in (b"[]", b'"redirect_uris"', b"null"):
        with unchanged(stack.engine):
            response = http.post(
                f"{stack.as_url}/register",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "invalid_client_metadata"


def test_register_refuses_oversized_body(stack, http) -> None:
    """RFC 9700 §4 (resource exhaustion) / RFC 9110 §15.5.14: a huge body gets 413 in the OAuth
    error format before any parser buffers it, and writes nothing."""
    huge = {"redirect_uris": [REDIRECT_URI], "client_name": "x" * 2_000_000}
    with unchanged(stack.engine):
        response = http.post(f"{stack.as_url}/register", json=huge)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "invalid_request"


def test_register_refuses_oversized_body_without_content_length(stack, http) -> None:
    """Same limit for a chunked upload that declares no length (the count happens while
    streaming, so lying about or omitting Content-Length does not bypass it)."""

    def chunks():
        yield b'{"redirect_uris": ["http://127.0.0.1/cb"], "client_name": "'
        for _ in range(64):
            yield b"x" * 32768
        yield b'"}'

    with unchanged(stack.engine):
        response = http.post(
            f"{stack.as_url}/register",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "invalid_request"


def test_register_accepts_a_plain_loopback_client(stack, http) -> None:
    """The control case: the refusals above are not a broken endpoint. A loopback public client
    registers (RFC 7591 §3.2.1), and exactly one client row appears."""
    from harness.db_rows import count

    before = count(stack.engine, "client")
    response = http.post(
        f"{stack.as_url}/register",
        json={
            "redirect_uris": [REDIRECT_URI, "http://[::1]:4000/cb"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["client_id"]
    assert count(stack.engine, "client") == before + 1
