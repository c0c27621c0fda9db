"""Client ids in lab URLs (demo_as/lab/links.py): a CIMD client id is an https URL, so a link
carries the id percent-encoded whole and the page request is parsed from the raw path."""

from __future__ import annotations

import pytest

from demo_as.lab.links import api_client_path, client_path, parse_client_path

IDS = [
    "3f9a0c2e-5c1d-4d1e-9a55-0d6f3c1b2a10",
    "https://client.example.com/oauth/metadata.json",
    "https://client.example.com/report.md",
    "https://x.example/a b?c=d#e%2F",
]


@pytest.mark.parametrize("client_id", IDS)
def test_page_and_report_links_parse_back_to_the_same_client(client_id: str) -> None:
    assert parse_client_path(client_path(client_id)) == (client_id, "")
    assert parse_client_path(client_path(client_id, "report.md")) == (client_id, "report.md")


def test_links_encode_every_character_of_a_url_client_id() -> None:
    path = client_path("https://c.example/m.json")
    assert path == "/lab/clients/https%3A%2F%2Fc.example%2Fm.json"
    assert api_client_path("https://c.example/m.json", "events") == (
        "/lab/api/clients/https%3A%2F%2Fc.example%2Fm.json/events"
    )


def test_a_hand_typed_unencoded_url_id_still_names_its_client() -> None:
    assert parse_client_path("/lab/clients/https://c.example/m.json") == (
        "https://c.example/m.json",
        "",
    )
