"""Redirect URI rules as pure functions: what registration accepts and refuses, and how /authorize
compares (exact, or RFC 8252 §7.3 any-port when switched on)."""

import pytest
from harness.oauth_flow import REDIRECT_URI

from demo_as.redirect_uris import (
    MAX_REDIRECT_URI_LENGTH,
    MAX_REDIRECT_URIS,
    redirect_uri_matches,
    redirect_uri_problem,
    redirect_uris_problem,
)

ACCEPTED = [
    "http://127.0.0.1:33418/callback",
    "http://127.0.0.1/callback",
    "http://localhost:8080/cb",
    "http://[::1]:9999/oauth/callback",
    "https://localhost:8443/cb",
    "http://127.0.0.1:8080/cb?tenant=1",
    "http://127.0.0.1:65535/",
    "http://127.0.0.1:1",
]

REFUSED = [
    ("https://evil.example/cb", "not a loopback host"),
    ("http://127.0.0.1.evil.example/cb", "not a loopback host"),
    ("http://LOCALHOST:8080/cb", "not a loopback host"),
    ("http://localhost.:8080/cb", "not a loopback host"),
    ("http://10.0.0.1/cb", "not a loopback host"),
    ("http://user:pw@127.0.0.1:8080/cb", "userinfo"),
    ("http://evil.example@127.0.0.1/cb", "userinfo"),
    ("http://127.0.0.1:8080/cb#frag", "fragment"),
    ("http://127.0.0.1:*/cb", "wildcard"),
    ("http://*.localhost/cb", "wildcard"),
    ("http://127.0.0.1:0/cb", "port"),
    ("http://127.0.0.1:65536/cb", "port"),
    ("http://127.0.0.1:/cb", "port"),
    ("http://127.0.0.1:80a/cb", "port"),
    ("ftp://127.0.0.1/cb", "scheme"),
    ("cursor://anysphere.cursor-mcp/oauth/callback", "scheme"),
    ("javascript://127.0.0.1/%0aalert(1)", "scheme"),
    ("HTTP://127.0.0.1/cb", "scheme"),
    ("http:/127.0.0.1/cb", "absolute"),
    ("/callback", "scheme"),
    ("http://[::1/cb", "well-formed"),
    ("http://127.0.0.1/c b", "whitespace"),
    ("", "non-empty"),
    ("http://127.0.0.1/" + "a" * MAX_REDIRECT_URI_LENGTH, "at most"),
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_loopback_forms_are_accepted(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize(("uri", "reason"), REFUSED)
def test_refused_forms_name_the_reason(uri: str, reason: str) -> None:
    problem = redirect_uri_problem(uri)
    assert problem is not None
    assert reason in problem


def test_the_list_rule_names_the_offending_uri_and_what_is_allowed() -> None:
    problem = redirect_uris_problem(["http://127.0.0.1:1/ok", "https://evil.example/cb"])
    assert problem is not None
    assert "https://evil.example/cb" in problem
    assert "127.0.0.1, localhost or [::1]" in problem


@pytest.mark.parametrize("value", [[], None, "http://127.0.0.1/cb", [1], [["http://127.0.0.1/cb"]]])
def test_redirect_uris_must_be_a_non_empty_list_of_strings(value: object) -> None:
    assert redirect_uris_problem(value) is not None


def test_number_of_redirect_uris_is_limited() -> None:
    uris = [f"http://127.0.0.1:{1000 + i}/cb" for i in range(MAX_REDIRECT_URIS)]
    assert redirect_uris_problem(uris) is None
    assert "at most" in (redirect_uris_problem([*uris, "http://127.0.0.1:1/cb"]) or "")


def test_exact_match_by_default() -> None:
    registered = REDIRECT_URI
    assert redirect_uri_matches(registered, registered, loopback_any_port=False)
    for presented in [
        "http://127.0.0.1:33419/callback",
        "http://127.0.0.1:33418/callback/",
        "http://127.0.0.1:33418/Callback",
        "http://localhost:33418/callback",
        "http://127.0.0.1:33418/callback?x=1",
        "https://127.0.0.1:33418/callback",
    ]:
        assert not redirect_uri_matches(registered, presented, loopback_any_port=False), presented


def test_loopback_any_port_ignores_only_the_port() -> None:
    registered = REDIRECT_URI
    assert redirect_uri_matches(
        registered, "http://127.0.0.1:50123/callback", loopback_any_port=True
    )
    assert redirect_uri_matches(
        "http://127.0.0.1/callback", "http://127.0.0.1:50123/callback", loopback_any_port=True
    )
    assert redirect_uri_matches("http://[::1]:1/cb", "http://[::1]:2/cb", loopback_any_port=True)
    for presented in [
        "http://localhost:50123/callback",  # localhost is not 127.0.0.1 (never mapped)
        "http://127.0.0.1:50123/other",
        "http://127.0.0.1:50123/callback?x=1",
        "https://127.0.0.1:50123/callback",
        "http://127.0.0.1:5000\\/callback",  # browsers read port 5000, path //callback
        "http://127.0.0.1:x/callback",
    ]:
        assert not redirect_uri_matches(registered, presented, loopback_any_port=True), presented


def test_https_loopback_ports_are_never_relaxed() -> None:
    assert not redirect_uri_matches(
        "https://localhost:8443/cb", "https://localhost:9443/cb", loopback_any_port=True
    )
