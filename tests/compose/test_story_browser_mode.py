"""``demo-client story --browser`` from the host against the compose stack, in a real browser.

The README promises that, with ``docker compose up`` running, this command takes the user
through the real login and consent pages in their own browser. Here "their own browser" is
Debian's chromium behind ``BROWSER`` (``browser_driver.py``), doing what the story tells the
person to do: approve the ladder's authorizations, untick ``notes:write`` in the partial-grant
round, press Deny in the last round. The callbacks land on the story's real loopback listener.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chromium import CHROMIUM

pytestmark = [pytest.mark.docker, pytest.mark.browser]

SERVER_URL = "http://127.0.0.1:8000/mcp"
DRIVER = Path(__file__).with_name("browser_driver.py")
# The story's browser rounds, in order: rounds 1-3 climb the ladder, round 5 signs in again and
# then asks the user to untick notes:write, round 7 asks the user to deny.
PLAN = ["approve", "approve", "approve", "approve", "untick:notes:write", "deny"]


def test_the_story_in_browser_mode_passes_through_the_real_pages(tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is needed: run .ci/install-browser.sh")
    log = tmp_path / "driver.log"
    env = {
        **os.environ,
        "BROWSER": f"{sys.executable} {DRIVER} %s",
        "DRIVER_PLAN": ",".join(PLAN),
        "DRIVER_STATE": str(tmp_path / "driver.step"),
        "DRIVER_LOG": str(log),
    }
    demo_client = Path(sys.executable).with_name("demo-client")
    story = subprocess.run(
        [
            str(demo_client),
            "story",
            "--server-url",
            SERVER_URL,
            "--browser",
            "--browser-timeout",
            "60",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert story.returncode == 0, story.stdout[-4000:] + story.stderr[-2000:]
    assert "Story complete: all" in story.stdout

    deadline = time.monotonic() + 20  # the last browser may still be closing
    while len(lines := log.read_text().splitlines() if log.exists() else []) < len(PLAN):
        assert time.monotonic() < deadline, f"browser steps: {lines}"
        time.sleep(0.2)
    steps = [line.split(" ", 2) for line in lines]
    assert [action for _, action, _ in steps] == PLAN
    for _, action, final_url in steps:
        assert final_url.startswith("http://127.0.0.1:8765/callback?"), final_url
        if action == "deny":
            assert "error=access_denied" in final_url
        else:
            assert "code=" in final_url
        assert "iss=http%3A%2F%2F127.0.0.1%3A9000" in final_url
