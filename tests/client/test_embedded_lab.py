"""Embedded mode wires the lab: the launcher gives both servers one lab secret, so what the RS
sees reaches the AS's lab (read here through the lab's JSON API, as a tester would)."""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx2
from harness.mcp_raw import call_tool, open_session
from harness.oauth_flow import issue_tokens

from demo_client.embedded import embedded_stack


def test_the_rs_reports_to_the_embedded_as_lab() -> None:
    with embedded_stack() as stack, httpx2.Client(timeout=15, follow_redirects=False) as http:
        client, _, tokens = issue_tokens(http, stack.issuer, stack.server_url)
        token = tokens["access_token"]
        session_id = open_session(http, stack.server_url, token)
        assert call_tool(http, stack.server_url, token, session_id, "whoami").status_code == 200
        url = f"{stack.issuer}/lab/api/clients/{quote(client['client_id'], safe='')}/events"
        deadline = time.monotonic() + 8
        while True:
            rs_kinds = [e["kind"] for e in http.get(url).json() if e["server"] == "rs"]
            if "tool-result" in rs_kinds or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert "mcp-request" in rs_kinds and "tool-result" in rs_kinds
