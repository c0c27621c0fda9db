"""What uvicorn's access log may show.

"Nothing logs a full token": a client that wrongly puts its token in the query string
(`/mcp?access_token=…`, refused by RFC 6750 §2.3 / MCP D-IDX "Token Handling") would otherwise
have it written to the log. The query string is never needed to follow an MCP exchange, so it is
dropped from every line. Health checks (every 2 s under compose) are left out so the log stays
readable.
"""

from __future__ import annotations

import logging


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
