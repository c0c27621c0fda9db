"""Defaults of the demo client. Every CLI option has an env var `DEMO_CLIENT_<NAME>`; the
names and defaults live here once and `cli.py` reads them."""

from __future__ import annotations

from pathlib import Path

ENV_PREFIX = "DEMO_CLIENT_"
DEFAULT_SERVER_URL = "http://127.0.0.1:8000/mcp"
# The registered redirect is http://127.0.0.1:<port>/callback (RFC 8252 §7.3, IP literal per
# §8.3). The headless agent never listens on it; the browser agent listens only during a login.
DEFAULT_CALLBACK_PORT = 8765
DEFAULT_STORE = Path(".demo-client/state.json")
DEFAULT_USERNAME = "alice"
# The demo user's password is public: demo_as lists it on its login page.
DEFAULT_PASSWORD = "wonderland"
DEFAULT_MAX_STEP_UP_RETRIES = 1
DEFAULT_BROWSER_TIMEOUT = 180.0


def env(name: str) -> str:
    return ENV_PREFIX + name.upper()
