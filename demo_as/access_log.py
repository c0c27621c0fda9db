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

import copy
import http
import logging
from typing import Any, ClassVar

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

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


class AccessLineFormatter(AccessFormatter):
    """uvicorn's access line, the same text, without uvicorn's per-line copy of the record.

    uvicorn's ``AccessFormatter`` copies each record, looks the status phrase up in
    ``http.HTTPStatus`` and formats through ``%``-style fields: about half of the line's CPU, and
    the line is written for every request (bench/profiling.md §6). Without colours (the output
    is not a terminal: compose, a workshop's log file, the benchmarks) and with uvicorn's own
    format, this writes the same line directly; otherwise it is uvicorn's formatter unchanged.
    tests/authorization_server/test_access_log.py holds the two byte-equal."""

    UVICORN_FORMAT: ClassVar[str] = LOGGING_CONFIG["formatters"]["access"]["fmt"]
    PHRASES: ClassVar[dict[int, str]] = {
        status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direct = not self.use_colors and self._fmt == self.UVICORN_FORMAT

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if (
            not self.direct
            or record.exc_info
            or record.stack_info
            or not (isinstance(args, tuple) and len(args) == 5)
        ):
            return super().format(record)
        client_addr, method, full_path, http_version, status_code = args
        status = int(status_code)  # type: ignore[call-overload]
        level = record.levelname
        return (
            f"{level}:{' ' * (8 - len(level))} {client_addr} - "
            f'"{method} {full_path} HTTP/{http_version}" {self.PHRASES.get(status, f"{status} ")}'
        )


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with ``AccessLineFormatter`` for the access lines."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"]["()"] = f"{__name__}.{AccessLineFormatter.__qualname__}"
    return config


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
