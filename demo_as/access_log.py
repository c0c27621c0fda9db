"""The AS's log: uvicorn's access log without the noise, and the AS's own lines beside it.

Under compose the healthcheck hits `/health` every 2 s, and the RS reports to the lab
(`POST /lab/api/rs-events`) every second; those lines would bury the exchanges a workshop
wants to watch, so successful ones are left out (a refused report still shows). The AS's query
strings (`/authorize?…`) carry no secret (codes travel in the redirect to the client and in
POST bodies to `/token`), so they are kept: they show what a client actually sent.

The AS's own lines (``demo_as.*``: each refusal with its rule and reason, probes fired, rules a
client failed in the lab) go to stderr at INFO in uvicorn's format.
"""

from __future__ import annotations

import logging

QUIET_PATHS = ("/health", "/lab/api/rs-events")


class QuietPathsFilter(logging.Filter):
    """Drops uvicorn.access records of a successful request to one of ``QUIET_PATHS``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access: (client_addr, method, full_path, http_version, status_code)
        if not (isinstance(args, tuple) and len(args) == 5):
            return True
        path = str(args[2]).split("?", 1)[0]
        return not (path in QUIET_PATHS and str(args[4]).startswith("2"))


def install_access_log_filter() -> None:
    logging.getLogger("uvicorn.access").addFilter(QuietPathsFilter())


def skip_unused_record_fields() -> None:
    """Every request writes one access line, and a log record gathered, by default, the caller's
    file, function and line (a walk up the stack), the thread's and the process's name: about a
    quarter of the line's CPU (20 -> 15 us measured), for fields no format here prints (uvicorn's
    ``levelprefix``/``client_addr``/``request_line``/``status_code``, ours ``levelname`` and
    ``message``). The switches are the ones the Logging HOWTO lists under "Optimization"
    (https://docs.python.org/3/howto/logging.html#optimization). For the ``demo-as`` process
    only (cli.py), not for a process that imports the app."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the HOWTO's switch for "current filename and line number"


def install_server_log() -> None:
    """``demo-as``: the ``demo_as.*`` lines on stderr next to uvicorn's, at INFO."""
    package = logging.getLogger("demo_as")
    if package.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    package.propagate = False
