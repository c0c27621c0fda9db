"""The RS's own log, as an operator reads it: one line per refusal saying which rule and why, no
token in it, and no per-request lines from the MCP SDK. Real ``demo-as`` and
``scoped-tools-server`` processes in one working directory, so the RS also finds the lab secret
the AS wrote at ``./data/lab-secret`` (the default on both sides)."""

from __future__ import annotations

from pathlib import Path

import httpx2
from harness.mcp_raw import headers, initialize_message, tool_call
from harness.oauth_flow import issue_tokens
from harness.subprocess_servers import (
    demo_as_process,
    free_loopback_port,
    running,
    scoped_tools_process,
)


def test_every_refusal_is_one_readable_line_without_secrets(tmp_path: Path) -> None:
    rs_port = free_loopback_port()
    resource = f"http://127.0.0.1:{rs_port}/mcp"
    auth = demo_as_process(
        tmp_path, f"sqlite:///{tmp_path / 'as.db'}", resources=[resource], extra_args=[]
    )
    rs = scoped_tools_process(
        tmp_path,
        auth_server=auth.base_url,
        database_url=f"sqlite:///{tmp_path / 'notes.db'}",
        port=rs_port,
    )
    with running(auth), running(rs), httpx2.Client(timeout=15, follow_redirects=False) as http:
        _, _, tokens = issue_tokens(http, auth.base_url, resource, scope="notes:read")
        token = tokens["access_token"]
        statuses = [
            http.post(resource, json=initialize_message(), headers=headers(None)).status_code,
            http.post(
                resource, json=initialize_message(), headers=headers("abc.def.ghi")
            ).status_code,
            http.post(
                resource,
                params={"access_token": token},
                json=initialize_message(),
                headers=headers(None),
            ).status_code,
            http.post(
                resource,
                json=initialize_message(),
                headers=headers(token, Origin="http://evil.example"),
            ).status_code,
            http.post(
                resource,
                json=tool_call("create_note", {"title": "t", "body": "b"}),
                headers=headers(token),
            ).status_code,
        ]
    log = rs.log_path.read_text()
    assert statuses == [401, 401, 400, 403, 403]
    refusals = [line for line in log.splitlines() if " refused " in line]
    assert len(refusals) == 5, log
    expected = [
        ("401 no access token", "RFC 6750 §3.1 no credentials"),
        ("401 invalid_token: The access token is not a well-formed", "RFC 7515"),
        ("400 invalid_request: Access tokens are accepted only", "RFC 6750 §3.1 invalid_request"),
        ("403 JSON-RPC error -32600: Origin is not allowed", "Origin check"),
        ("403 insufficient_scope: create_note requires notes:write", "Insufficient Scope"),
    ]
    for line, (why, rule) in zip(refusals, expected, strict=True):
        assert "scoped_tools_server.refusals" in line and why in line and rule in line, line
    assert "from client " in refusals[2] and "(token sha256:" in refusals[2]  # the query token
    assert token not in log and "abc.def.ghi" not in log
    assert "Processing request" not in log  # the SDK's per-request INFO stays off
    assert "lab journal: reporting to" in log  # the secret the AS wrote was found
