"""Property tests of the AS's redirect-URI registration rule (``demo_as.redirect_uris``).

The one property that matters (DESIGN.md "Hardening"; RFC 9700 §4.1, RFC 8252 §7.3/§8.3,
OAuth 2.1 §1.5/§2.3): *no accepted redirect URI sends the browser anywhere but the loopback
interface*. "Where the browser goes" is judged by two independent URL parsers, Python's
``urllib.parse`` and httpx2's WHATWG-style ``URL``; both must see a loopback host, no userinfo and
no fragment. The inputs are built from the pieces that URL-confusion attacks are made of
(look-alike hosts, ``@``, ``\\``, percent-encoding, stray colons and brackets), plus plain noise.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from demo_as.redirect_uris import redirect_uri_matches, redirect_uri_problem

LOOPBACK_HOSTNAMES = {"127.0.0.1", "localhost", "::1"}

schemes = st.sampled_from(["http", "https", "HTTP", "javascript", "data", "file", "myapp", ""])
scheme_separators = st.sampled_from(["://", ":/", ":", ":\\\\", ":///", "://\\"])
hosts = st.sampled_from(
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "evil.example",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "127.0.0.2",
        "0.0.0.0",
        "2130706433",
        "0x7f000001",
        "[::ffff:127.0.0.1]",
        "[::1",
        "::1",
        "LOCALHOST",
        "localhost.",
        "127.1",
        "%31%32%37.0.0.1",
        "xn--lcalhost-r4a",
        "",
    ]
)
glue = st.sampled_from(["", "@", "\\", "/", "?", "#", ":", "%40", "%2f", ".", "[", "]", "*", " "])
ports = st.sampled_from(["", ":8080", ":0", ":65536", ":-1", ":80:80", ":", ":+1", ":１２"])
paths = st.sampled_from(["", "/", "/callback", "/cb?x=1", "/a/../b", "/%2e%2e/"])


@st.composite
def adversarial_uris(draw: st.DrawFn) -> str:
    """URIs assembled from URL-confusion building blocks, in attacker-chosen order."""
    head = draw(schemes) + draw(scheme_separators)
    pieces = draw(st.lists(st.one_of(hosts, glue, ports), min_size=1, max_size=6))
    return head + "".join(pieces) + draw(paths)


def browser_view(uri: str) -> tuple[str | None, str | None, str]:
    """(host, userinfo, fragment) as httpx2's URL parser sees the URI."""
    url = httpx2.URL(uri)
    return url.host, url.userinfo.decode() or None, url.fragment


def assert_only_loopback(uri: str) -> None:
    parts = urlsplit(uri)
    assert parts.scheme in ("http", "https"), uri
    assert parts.hostname in LOOPBACK_HOSTNAMES, uri
    assert parts.username is None and parts.password is None, uri
    assert parts.fragment == "", uri
    host, userinfo, fragment = browser_view(uri)
    assert host in LOOPBACK_HOSTNAMES, (uri, host)
    assert userinfo is None, (uri, userinfo)
    assert fragment == "", uri


@settings(max_examples=3000, deadline=None)
@given(adversarial_uris())
@example("http://127.0.0.1\\@evil.example/")
@example("http://localhost@evil.example/")
@example("http://evil@127.0.0.1/")
@example("http://127.0.0.1.evil.example/")
@example("http://[::1]evil.example/")
@example("http://127.0.0.1?@evil.example/")
@example("http://127.0.0.1#@evil.example/")
def test_no_accepted_redirect_uri_leaves_the_loopback_interface(uri: str) -> None:
    """RFC 8252 §8.3 / RFC 9700 §4.1: an accepted URI's host, as any parser reads it, is
    loopback; and it carries no userinfo (RFC 3986 §3.2.1) and no fragment (OAuth 2.1 §2.3)."""
    if redirect_uri_problem(uri) is None:
        assert_only_loopback(uri)


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=80))
def test_no_accepted_noise_string_leaves_the_loopback_interface(uri: str) -> None:
    """The same property for arbitrary text (including non-ASCII and control characters)."""
    if redirect_uri_problem(uri) is None:
        assert_only_loopback(uri)


@settings(max_examples=500, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.sampled_from(["127.0.0.1", "localhost", "[::1]"]),
    port=st.integers(min_value=1, max_value=65535),
    path=st.sampled_from(["", "/", "/callback", "/oauth/cb", "/cb?x=1"]),
)
def test_every_plain_loopback_uri_is_accepted(scheme: str, host: str, port: int, path: str) -> None:
    """The rule is not vacuous: well-formed loopback redirect URIs (RFC 8252 §7.3) register."""
    assert redirect_uri_problem(f"{scheme}://{host}:{port}{path}") is None


@st.composite
def registered_and_presented(draw: st.DrawFn) -> tuple[str, str]:
    """A registrable loopback URI, and a presented one: attacker noise, or the registered URI
    with one piece swapped (port, host, path, scheme, appended junk)."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(st.sampled_from(["127.0.0.1", "localhost", "[::1]"]))
    port = draw(st.integers(min_value=1, max_value=65535))
    path = draw(st.sampled_from(["", "/", "/callback", "/cb?x=1"]))
    registered = f"{scheme}://{host}:{port}{path}"
    presented = draw(
        st.one_of(
            adversarial_uris(),
            st.builds(lambda p: f"{scheme}://{host}:{p}{path}", st.integers(1, 65535)),
            st.builds(lambda h: f"{scheme}://{h}:{port}{path}", hosts),
            st.builds(lambda g: registered + g, glue),
            st.builds(lambda p: f"{scheme}://{host}{p}{path}", ports),
            st.just(registered.replace(scheme + "://", "http://", 1)),
        )
    )
    return registered, presented


@settings(max_examples=1000, deadline=None)
@given(pair=registered_and_presented(), any_port=st.booleans())
def test_a_match_never_changes_where_the_browser_goes(
    pair: tuple[str, str], any_port: bool
) -> None:
    """OAuth 2.1 §4.1.1 / RFC 8252 §7.3: a presented redirect URI matches a registered one only
    if it is identical, or (switch on) differs in the port of a loopback http URI alone."""
    registered, presented = pair
    assert redirect_uri_problem(registered) is None
    if redirect_uri_matches(registered, presented, loopback_any_port=any_port):
        if registered == presented:
            return
        assert any_port
        reg, pres = urlsplit(registered), urlsplit(presented)
        assert (reg.scheme, reg.hostname, reg.path, reg.query) == (
            pres.scheme,
            pres.hostname,
            pres.path,
            pres.query,
        )
        assert pres.scheme == "http"
        assert_only_loopback(presented)


@pytest.mark.parametrize("any_port", [False, True])
def test_port_flexibility_is_only_for_loopback_http(any_port: bool) -> None:
    """RFC 8252 §7.3 allows any port for loopback *http*; https and path changes never match."""
    registered = "http://127.0.0.1:4000/cb"

    def matches(presented: str, reg: str = registered) -> bool:
        return redirect_uri_matches(reg, presented, loopback_any_port=any_port)

    assert matches("http://127.0.0.1:5000/cb") is any_port
    assert not matches("https://localhost:5000/cb", "https://localhost:4000/cb")
    assert not matches("http://localhost:4000/cb")
    assert not matches("http://127.0.0.1:4000/cb/")


@pytest.mark.parametrize(
    "uri", ["http://[::1/cb", "http://127.0.0.1]/cb", "data://]/cb", "http://[/", "https://[::1"]
)
def test_unbalanced_brackets_are_refused_not_crashed(uri: str) -> None:
    """RFC 3986 §3.2.2: an IP-literal is ``[`` ... ``]``; a URI with an unbalanced bracket is not
    a URI at all. The rule must answer with a reason (a 400 ``invalid_redirect_uri``), not let
    ``urllib``'s ``ValueError`` escape into a 500."""
    assert isinstance(redirect_uri_problem(uri), str)


@pytest.mark.parametrize("presented", ["http://[::1/cb", "http://127.0.0.1]:4000/cb"])
def test_matching_an_unparsable_presented_uri_is_a_mismatch_not_a_crash(presented: str) -> None:
    """OAuth 2.1 §4.1.2.1: a bad ``redirect_uri`` at /authorize is an error page, so the matcher
    must say "no match" (not raise) even with RFC 8252 §7.3 port flexibility switched on."""
    registered = "http://127.0.0.1:4000/cb"
    assert redirect_uri_matches(registered, presented, loopback_any_port=True) is False


@pytest.mark.parametrize(
    "presented",
    ["http://127.0.0.1:5000\\/callback", "http://127.0.0.1:5000\\.evil.example/callback"],
)
def test_port_flexibility_requires_a_numeric_port(presented: str) -> None:
    """RFC 8252 §7.3 lets only the *port* vary, and a port is digits (RFC 3986 §3.2.3). With a
    backslash after the port, browsers (WHATWG URL) end the authority there and read the rest as
    path, so ``:5000\\/callback`` is port 5000 with path ``//callback``: a path the client never
    registered. The matcher must not treat ``5000\\`` as "a port"."""
    assert not redirect_uri_matches(
        "http://127.0.0.1:4000/callback", presented, loopback_any_port=True
    )
