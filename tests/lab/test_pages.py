"""The lab pages over real HTTP: the Markdown report, unknown clients, the pages' CSP and the
probe form's CSRF check (a double-submit cookie bound by HMAC, RFC 6749 §10.12).

What a browser does with the pages (live updates, the diagram, firing from the page, a forged
cross-site form) is tested in tests/browser/test_lab_pages.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx2
import pytest
from harness.oauth_flow import register
from lab.conftest import LabServer

from demo_as.lab.links import client_path


@pytest.fixture
def as_url(lab: LabServer) -> str:
    return lab.url


@pytest.fixture
def http(lab: LabServer) -> httpx2.Client:
    return lab.http


@pytest.fixture
def client_id(http: httpx2.Client, as_url: str) -> str:
    return register(http, as_url, client_name="report <b>client</b>")["client_id"]


def csrf_of(page: httpx2.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:2000]
    return match.group(1)


def test_the_markdown_report_is_served_as_markdown(
    http: httpx2.Client, as_url: str, client_id: str
) -> None:
    page = http.get(as_url + client_path(client_id))
    assert page.status_code == 200
    assert f'href="{client_path(client_id, "report.md")}"' in page.text

    report = http.get(as_url + client_path(client_id, "report.md"))
    assert report.status_code == 200
    assert report.headers["content-type"] == "text/markdown; charset=utf-8"
    assert client_id in report.text


def test_an_unknown_client_gets_a_404_page_with_its_id_escaped(
    http: httpx2.Client, as_url: str
) -> None:
    unknown = "https://client.example/<script>.json"
    for path in (client_path(unknown), client_path(unknown, "report.md")):
        response = http.get(as_url + path)
        assert response.status_code == 404
        assert "<script>" not in response.text
        assert "&lt;script&gt;" in response.text


def test_lab_pages_may_run_their_own_script_and_nothing_else(
    http: httpx2.Client, as_url: str
) -> None:
    page = http.get(f"{as_url}/lab")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert '<script src="/lab/static/lab.js" defer></script>' in page.text
    script = http.get(f"{as_url}/lab/static/lab.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    # Other pages keep the script-free policy.
    assert "script-src" not in http.get(f"{as_url}/").headers["content-security-policy"]


def test_the_csrf_cookie_is_http_only_same_site_strict_and_scoped_to_the_lab(
    http: httpx2.Client, as_url: str
) -> None:
    cookie = http.get(f"{as_url}/lab").headers["set-cookie"]
    assert cookie.startswith("lab_csrf=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/lab" in cookie


def test_the_probe_form_needs_the_token_bound_to_this_browsers_cookie(
    as_url: str, client_id: str
) -> None:
    form = {"action": "fire", "probe": "iss-wrong", "client_id": client_id, "once": "true"}
    with httpx2.Client(timeout=10) as victim, httpx2.Client(timeout=10) as attacker:
        token = csrf_of(victim.get(f"{as_url}/lab"))
        attacker_token = csrf_of(attacker.get(f"{as_url}/lab"))

        no_cookie = httpx2.post(f"{as_url}/lab/probes", data={**form, "csrf_token": token})
        assert no_cookie.status_code == 403
        # The attacker's own valid pair is no good in the victim's browser, and vice versa.
        assert (
            victim.post(
                f"{as_url}/lab/probes", data={**form, "csrf_token": attacker_token}
            ).status_code
            == 403
        )
        assert victim.post(f"{as_url}/lab/probes", data=form).status_code == 403
        assert "iss-wrong" not in victim.get(f"{as_url}/lab/api/probes").text

        fired = victim.post(f"{as_url}/lab/probes", data={**form, "csrf_token": token})
        assert fired.status_code == 303
        assert fired.headers["location"] == client_path(client_id) + "#probes"
        assert "iss-wrong" in victim.get(f"{as_url}/lab/api/probes").text


def test_a_bad_probe_form_gets_a_clear_4xx_page(
    http: httpx2.Client, as_url: str, client_id: str
) -> None:
    token = csrf_of(http.get(f"{as_url}/lab"))
    cases = [
        ({"action": "fire", "probe": "no-such-probe"}, 400, "unknown probe"),
        ({"action": "launch", "probe": "iss-wrong"}, 400, "unknown action"),
        ({"action": "clear", "probe_id": "no-such-id"}, 404, "no active probe"),
    ]
    for fields, status, words in cases:
        response = http.post(f"{as_url}/lab/probes", data={**fields, "csrf_token": token})
        assert response.status_code == status, response.text
        assert words in response.text


def test_with_the_lab_off_there_are_no_lab_pages(start_lab: Callable[..., LabServer]) -> None:
    off = start_lab(lab=False)
    for path in ("/lab", "/lab/clients/x", "/lab/static/lab.js"):
        assert off.http.get(path).status_code == 404
    assert off.http.post("/lab/probes", data={}).status_code == 404
