"""The headless agent's reading of forms (the structure docs/architecture.md fixes)."""

from __future__ import annotations

import pytest

from demo_client.errors import UserAgentError
from demo_client.user_agents import (
    ConsentChoice,
    consent_form_data,
    login_form_data,
    parse_forms,
    url_is_safe_to_open,
)

LOGIN = """<html><body><p>Users: alice / wonderland</p>
<form method="post" action="/login"><input type="hidden" name="request_id" value="r1">
<input type="hidden" name="csrf" value="c&amp;1"><input name="username">
<input name="password" type="password"><button type="submit">Log in</button></form></body></html>"""

CONSENT = """<form method="POST"><input type="hidden" name="csrf" value="k">
<label><input type="checkbox" name="scope" value="notes:read" checked> read</label>
<label><input type="checkbox" name="scope" value="notes:write" checked> write</label>
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>"""


def test_login_form_hidden_inputs_are_copied_verbatim() -> None:
    [form], text = parse_forms(LOGIN)
    assert form.action == "/login" and form.method == "post"
    assert login_form_data(form, "alice", "wonderland") == [
        ("request_id", "r1"),
        ("csrf", "c&1"),
        ("username", "alice"),
        ("password", "wonderland"),
    ]
    assert "alice / wonderland" in text


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        ("all", [("scope", "notes:read"), ("scope", "notes:write"), ("decision", "approve")]),
        ("notes:read", [("scope", "notes:read"), ("decision", "approve")]),
        ("deny", [("decision", "deny")]),
    ],
)
def test_consent_ticks_what_the_user_grants(consent: str, expected: list[tuple[str, str]]) -> None:
    [form], _ = parse_forms(CONSENT)
    assert consent_form_data(form, ConsentChoice.parse(consent)) == [("csrf", "k"), *expected]


def test_consent_choice_parsing_and_missing_buttons() -> None:
    assert ConsentChoice.parse("notes:read, notes:write").scopes == ["notes:read", "notes:write"]
    with pytest.raises(ValueError):
        ConsentChoice.parse(" ")
    [form], _ = parse_forms('<form method="post"><input type="hidden" name="a" value="b"></form>')
    with pytest.raises(UserAgentError):
        consent_form_data(form, ConsentChoice())


def test_only_http_urls_are_opened_in_a_browser() -> None:
    assert url_is_safe_to_open("http://127.0.0.1:9000/authorize?x=1")
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "data:text/html,x"):
        assert not url_is_safe_to_open(bad)
