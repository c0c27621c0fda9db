"""What the server's logs show: uvicorn's access log, and this package's own lines.

The package's own logger (``scoped_tools_server``: one line per refusal, the lab journal's state,
key loading) gets its own plain one-line handler at INFO (``install_server_log``), independent of
the MCP SDK's logging, which stays at WARNING so it does not render a line per request.

Access log:

"Nothing logs a full token": a client that wrongly puts its token in the query string
(`/mcp?access_token=…`, refused by RFC 6750 §2.3 / MCP Authorization §Token Handling) would
otherwise have it written to the log. The query string is never needed to follow an MCP
exchange, so it is dropped from every line. Health checks (every 2 s under compose) are left out so
the log stays readable.
"""

from __future__ import annotations

import logging
import sys

SERVER_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class AccessLogFilter(logging.Filter):
    """Drops `/health` lines and strips query strings from uvicorn.access records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access: (client_addr, method, full_path, http_version, status_code)
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        path = str(args[2])
        if path.split("?", 1)[0] == "/health":
            return False
        if "?" in path:
            record.args = (args[0], args[1], path.split("?", 1)[0] + "?[query omitted]", *args[3:])
        return True


def install_access_log_filter() -> None:
    logging.getLogger("uvicorn.access").addFilter(AccessLogFilter())


def install_server_log() -> None:
    """INFO and up from ``scoped_tools_server.*`` to stderr, one record per line."""
    package = logging.getLogger("scoped_tools_server")
    if any(getattr(h, "scoped_tools_server_log", False) for h in package.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(SERVER_LOG_FORMAT))
    handler.scoped_tools_server_log = True  # type: ignore[attr-defined]
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    package.propagate = False  # the SDK's root handler (Rich, wrapped lines) must not repeat it
