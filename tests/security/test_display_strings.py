"""Client-supplied strings that reach a page cannot change how the page reads (issue #12.7).

Bidi overrides (U+202E), zero-width characters (U+200B), NUL and other control or formatting
characters can make a consent heading read backwards or hide text (Unicode TR #36 §2.1, "bidi
spoofing"; RFC 7591 §2: ``client_name`` is shown to the user). Registration refuses them in
``client_name``; every page neutralises them in whatever it shows (a client_id or redirect_uri
echoed on an error page, names from other sources).
"""

from __future__ import annotations

import pytest
from harness.db_rows import unchanged
from harness.oauth_flow import REDIRECT_URI

SPOOFING = ["\u202e", "\u2066", "\u200b", "\u200f", "\x00", "\x1b", "\u2028", "\ufeff"]


@pytest.mark.parametrize("character", SPOOFING, ids=[f"U+{ord(c):04X}" for c in SPOOFING])
def test_register_refuses_control_and_format_characters_in_client_name(
    stack, http, character: str
) -> None:
    """RFC 7591 §3.2.2 ``invalid_client_metadata``, naming the code point; nothing stored."""
    name = f"Notes (read-only){character}yenom ruoy lla"
    with unchanged(stack.engine):
        response = http.post(
            f"{stack.as_url}/register",
            json={"redirect_uris": [REDIRECT_URI], "client_name": name},
        )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_client_metadata"
    assert f"U+{ord(character):04X}" in body["error_description"]


def test_pages_neutralise_control_and_format_characters(stack, http) -> None:
    """Whatever a page echoes (here the presented redirect_uri on the mismatch page) is shown
    with such characters replaced by a visible ``[U+XXXX]``, never as the raw character."""
    client = http.post(f"{stack.as_url}/register", json={"redirect_uris": [REDIRECT_URI]}).json()
    presented = "http://127.0.0.1:33418/call\u202eback\u200bx\x01"
    response = http.get(
        f"{stack.as_url}/authorize",
        params={"client_id": client["client_id"], "redirect_uri": presented},
    )
    assert response.status_code == 400
    for character in ("\u202e", "\u200b", "\x01"):
        assert character not in response.text
    assert "[U+202E]" in response.text and "[U+200B]" in response.text
