"""The stack under attack: a real AS and a real RS on loopback sockets, the AS on a SQLite file
that the tests also open (read-only in spirit) to prove that a refused request wrote nothing.

``stack`` is shared by the tests of one module (servers start once per file); every test gets a
fresh cookie jar (``http``) and registers its own clients, so tests do not see each other's state.
``make_stack`` builds another stack with other AS settings (e.g. ``loopback_any_port``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from harness.db_rows import open_engine
from serving import bind_loopback_socket, serve_app, serve_on_socket, socket_base_url
from sqlalchemy.engine import Engine

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
def running_stack(workdir: Path, **as_overrides: object) -> Iterator[Stack]:
    from demo_as.app import create_app as create_as
    from scoped_tools_server.app import create_app as create_rs
    from scoped_tools_server.settings import Settings as RSSettings

    database_url = f"sqlite:///{workdir / 'demo_as.db'}"
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
                        **{"introspection_secret": INTROSPECTION_SECRET, **as_overrides},
                    )
                )
            )
        )
        rs_app = create_rs(
            RSSettings(
                port=int(rs_url.rsplit(":", 1)[1]),
                resource_url=resource,
                auth_server=as_url,
                database_url=f"sqlite:///{workdir / 'notes.db'}",
            )
        )
        stack.enter_context(serve_on_socket(rs_app, rs_sock))
        engine = open_engine(database_url)
        stack.callback(engine.dispose)
        yield Stack(as_url, rs_url, resource, other_resource, database_url, engine)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build a stack with different AS settings (closed at the end of the test)."""
    with contextlib.ExitStack() as exits:

        def build(**as_overrides: object) -> Stack:
            workdir = tmp_path / f"stack{len(exits._exit_callbacks)}"
            workdir.mkdir()
            return exits.enter_context(running_stack(workdir, **as_overrides))

        yield build


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    """A fresh user agent: its own cookie jar, never follows redirects (we inspect them)."""
    with httpx2.Client(timeout=15.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def introspect() -> Callable[[Stack, str], dict]:
    """RFC 7662 §2: what the AS says about a token now (revocation is visible here)."""

    def ask(stack: Stack, token: str) -> dict:
        response = httpx2.post(
            f"{stack.as_url}/introspect",
            data={"token": token},
            headers={"Authorization": f"Bearer {INTROSPECTION_SECRET}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    return ask
