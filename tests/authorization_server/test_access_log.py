"""The AS's access line is uvicorn's, byte for byte, whichever way it is written."""

import logging

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from demo_as.access_log import AccessLineFormatter

FORMAT = LOGGING_CONFIG["formatters"]["access"]["fmt"]


def access_record(level: int, *args: object) -> logging.LogRecord:
    """A record as uvicorn's h11 and httptools protocols log it."""
    return logging.LogRecord(
        "uvicorn.access", level, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )


@pytest.mark.parametrize(
    "args",
    [
        ("127.0.0.1:50123", "POST", "/introspect", "1.1", 200),
        ("[::1]:443", "GET", "/authorize?client_id=a%20b&state=%22x%22", "1.0", 302),
        ("127.0.0.1:1", "POST", "/token", "1.1", 400),
        ("127.0.0.1:1", "POST", "/register", "1.1", 503),
        ("127.0.0.1:1", "GET", "/odd", "1.1", 599),  # no phrase: uvicorn leaves a space
    ],
)
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_the_line_is_uvicorns(args: tuple, level: int) -> None:
    ours = AccessLineFormatter(FORMAT, use_colors=False).format(access_record(level, *args))
    theirs = AccessFormatter(FORMAT, use_colors=False).format(access_record(level, *args))
    assert ours == theirs


@pytest.mark.parametrize(
    "formatter",
    [
        AccessLineFormatter(FORMAT, use_colors=True),
        AccessLineFormatter("%(client_addr)s %(status_code)s", use_colors=False),
    ],
)
def test_colours_or_another_format_are_uvicorns_own_path(formatter: AccessFormatter) -> None:
    args = ("127.0.0.1:50123", "POST", "/introspect", "1.1", 200)
    uvicorn = AccessFormatter(formatter._fmt, use_colors=formatter.use_colors)
    assert formatter.format(access_record(logging.INFO, *args)) == uvicorn.format(
        access_record(logging.INFO, *args)
    )
