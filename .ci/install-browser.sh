#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (tests/browser/). The tests drive it through
# Playwright's `executable_path="/usr/bin/chromium"`; `playwright install` (which downloads a
# browser build from a CDN) is never used. Idempotent: does nothing when chromium is present.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-browser: installing Debian's chromium"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
