"""A stand-in for "the user's own browser" behind ``demo-client story --browser``.

Python's ``webbrowser`` runs the command in the ``BROWSER`` environment variable with the URL;
this script is that command. Like a desktop browser launcher it returns at once (it forks) and
then, in Debian's chromium driven by Playwright, does what the story asks the person at the
keyboard to do: sign in as alice at the AS's real login page, then on the consent page follow the
next step of ``DRIVER_PLAN`` (comma-separated: ``approve``, ``untick:SCOPE``, ``deny``). The step
counter lives in ``DRIVER_STATE``; one line per authorization is appended to ``DRIVER_LOG``:
``<step> <action> <the URL the browser ended on>``.

Usage (what the test does): BROWSER="python browser_driver.py %s" demo-client story --browser
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

# Run as a script (the BROWSER command) by the venv's interpreter, on whose path the repository
# root is (the project is installed editable), so the one definition of how Chromium is driven
# imports as ``tests.chromium``.
from tests.chromium import CHROMIUM, CHROMIUM_ARGS


def next_step(state: Path) -> int:
    """Atomically take the next step number (1-based)."""
    with state.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        step = int(handle.read() or 0) + 1
        handle.seek(0)
        handle.truncate()
        handle.write(str(step))
    return step


def act(url: str, action: str) -> str:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        if page.locator("input[name=password]").count():
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "wonderland")
            page.click("form button[type=submit]")
            page.wait_for_selector("input[type=checkbox][name=scope]")
        if action.startswith("untick:"):
            page.uncheck(f"input[name=scope][value='{action.split(':', 1)[1]}']")
        decision = "deny" if action == "deny" else "approve"
        page.click(f"button[name=decision][value={decision}]")
        page.wait_for_load_state()
        final_url = page.url
        browser.close()
    return final_url


def main() -> None:
    url = sys.argv[1]
    if os.fork():
        return  # the launcher returns at once, as xdg-open does; the child plays the user
    plan = os.environ["DRIVER_PLAN"].split(",")
    step = next_step(Path(os.environ["DRIVER_STATE"]))
    action = plan[step - 1] if step <= len(plan) else "unplanned"
    try:
        final_url = act(url, action) if action != "unplanned" else url
    except Exception as error:  # recorded in the log for the test to report
        final_url = f"ERROR {type(error).__name__}: {error}".replace("\n", " ")
    with open(os.environ["DRIVER_LOG"], "a") as log:
        log.write(f"{step} {action} {final_url}\n")


if __name__ == "__main__":
    main()
