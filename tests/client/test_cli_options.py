"""docs/client.md's options table is the one `demo-client`'s own commands generate."""

from __future__ import annotations

from pathlib import Path

from demo_client.cli_options import options_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def test_the_documented_options_table_is_the_generated_one() -> None:
    table = options_markdown()
    assert "`--callback-port` | `DEMO_CLIENT_CALLBACK_PORT` | 8765 |" in table
    assert table in DOCS.read_text(), f"regenerate the table in {DOCS.name}:\n{table}"
