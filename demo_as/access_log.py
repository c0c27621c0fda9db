"""What uvicorn's access log leaves out: health checks.

Under compose the healthcheck hits `/health` every 2 s; those lines would bury the exchanges a
workshop wants to watch. The AS's query strings (`/authorize?…`) carry no secret (codes travel in
the redirect to the client and in POST bodies to `/token`), so they are kept: they show what a
client actually sent.
"""

from __future__ import annotations

import logging


class HealthCheckFilter(logging.Filter):
    """Drops uvicorn.access records for `/health`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access: (client_addr, method, full_path, http_version, status_code)
        return not (
            isinstance(args, tuple) and len(args) == 5 and str(args[2]).startswith("/health")
        )


def install_access_log_filter() -> None:
    logging.getLogger("uvicorn.access").addFilter(HealthCheckFilter())
