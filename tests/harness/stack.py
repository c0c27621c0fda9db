"""A real AS and a real RS in this process, each on its own loopback socket (tests/serving.py),
the AS on a SQLite file that the tests also open to prove that a refused request wrote nothing.

The AS serves two resources: the RS's ``/mcp`` and ``/other-mcp`` on the same origin, which no
server answers; the second exists for resource-swap and audience attacks (RFC 8707).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from serving import bind_loopback_socket, serve_app, serve_on_socket, socket_base_url
from sqlalchemy.engine import Engine

from .db_rows import open_engine

OTHER_RESOURCE_PATH = "/other-mcp"
INTROSPECTION_SECRET = "battery-introspection-secret"


@dataclass(frozen=True)
class Stack:
    """Where the servers are and how to look into the AS's database."""

    as_url: str
    rs_url: str
    resource: str
    other_resource: str
    database_url: str
    engine: Engine
    notes_database_url: str
    notes_engine: Engine


def as_settings(issuer: str, database_url: str, resources: list[str], **overrides: object):
    from demo_as.settings import Settings

    return Settings(
        issuer=issuer,
        database_url=database_url,
        resources=resources,
        port=int(issuer.rsplit(":", 1)[1]),
        **overrides,
    )


@contextlib.contextmanager
def running_stack(
    workdir: Path, rs_overrides: dict[str, object] | None = None, **as_overrides: object
) -> Iterator[Stack]:
    from demo_as.app import create_app as create_as
    from scoped_tools_server.app import create_app as create_rs
    from scoped_tools_server.settings import Settings as RSSettings

    database_url = f"sqlite:///{workdir / 'demo_as.db'}"
    notes_database_url = f"sqlite:///{workdir / 'notes.db'}"
    rs_sock = bind_loopback_socket()
    rs_url = socket_base_url(rs_sock)
    resource = f"{rs_url}/mcp"
    # A second resource the AS also serves, for resource-swap attacks (RFC 8707).
    other_resource = f"{rs_url}{OTHER_RESOURCE_PATH}"
    with contextlib.ExitStack() as stack:
        as_url = stack.enter_context(
            serve_app(
                lambda base: create_as(
                    as_settings(
                        base,
                        database_url,
                        [resource, other_resource],
                        **{
                            "introspection_secret": INTROSPECTION_SECRET,
                            "data_dir": workdir,
                            **as_overrides,
                        },
                    )
                )
            )
        )
        rs_app = create_rs(
            RSSettings(
                port=int(rs_url.rsplit(":", 1)[1]),
                resource_url=resource,
                auth_server=as_url,
                database_url=notes_database_url,
                # The AS writes its lab secret into its data directory; the RS reads it there.
                lab_secret_file=workdir / "lab-secret",
                **(rs_overrides or {}),
            )
        )
        stack.enter_context(serve_on_socket(rs_app, rs_sock))
        engine = open_engine(database_url)
        stack.callback(engine.dispose)
        notes_engine = open_engine(notes_database_url)
        stack.callback(notes_engine.dispose)
        yield Stack(
            as_url,
            rs_url,
            resource,
            other_resource,
            database_url,
            engine,
            notes_database_url,
            notes_engine,
        )


@contextlib.contextmanager
def stack_builder(workdir: Path) -> Iterator[Callable[..., Stack]]:
    """``build(**as_overrides)`` starts another stack with other AS settings, each in its own
    folder under ``workdir``; all are closed when the block exits."""
    with contextlib.ExitStack() as exits:

        def build(**as_overrides: object) -> Stack:
            folder = workdir / f"stack{len(exits._exit_callbacks)}"
            folder.mkdir()
            return exits.enter_context(running_stack(folder, **as_overrides))

        yield build
