"""``demo-client story --server-url`` against the real servers, graded by the lab: every rule
passes except the one the story breaks on purpose (round 4 replays a rotated refresh token to show
reuse detection: refresh-rotation-followed). Rounds 5-7 (partial consent at the retry cap, throw
mode, denial) fail nothing. The narration ends by pointing to the client's lab page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, unquote

from lab.clients.conftest import Lab, explain, with_verdict

STORY_CLIENT_NAME = "demo-client (MCP step-up story)"
BROKEN_ON_PURPOSE = {"refresh-rotation-followed"}  # round 4's replay of a rotated refresh token


def demo_client() -> list[str]:
    script = Path(sys.executable).with_name("demo-client")
    return [str(script)] if script.exists() else [sys.executable, "-m", "demo_client.cli"]


def test_story_is_graded_as_the_story_intends(lab: Lab, tmp_path: Path) -> None:
    done = subprocess.run(
        [*demo_client(), "story", "--server-url", lab.stack.resource],
        cwd=tmp_path,  # the client's state directory stays out of the repository
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    pages = re.findall(rf"{re.escape(lab.issuer)}/lab/clients/(\S+)", done.stdout)
    assert len(pages) == 1, done.stdout[-1500:]
    assert done.stdout.rstrip().splitlines()[-2].endswith(pages[0])  # said at the very end
    client_id = unquote(pages[0])
    assert pages[0] == quote(client_id, safe="")

    listed = {c["client_id"]: c for c in lab.http.get("/lab/api/clients").json()}
    assert listed[client_id]["client_name"] == STORY_CLIENT_NAME
    rules = lab.settled_verdicts(client_id)
    assert with_verdict(rules, "fail") == BROKEN_ON_PURPOSE, explain(rules)
    assert with_verdict(rules, "warn") == set(), explain(rules)
    assert "reuse detected" in rules["refresh-rotation-followed"]["detail"]
    # What the other rounds exercise, each graded pass.
    assert with_verdict(rules, "pass") >= {
        "registers-once",
        "first-scope-from-challenge",
        "offline-access",
        "step-up-union",
        "no-refresh-to-widen",
        "retry-cap",
        "refresh-before-reauth",
    }, explain(rules)
    counts = listed[client_id]["counts"]
    assert counts["fail"] == len(BROKEN_ON_PURPOSE) and counts["warn"] == 0, counts
