"""Debian's Chromium, as every browser test drives it.

Playwright never downloads a browser here (`playwright install` needs a CDN this project does not
reach); it drives the Debian package that `.ci/install-browser.sh` installs. The flags keep a
headless root session quiet on a machine with no network beyond loopback.
"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
