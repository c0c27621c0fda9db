"""A throwaway PostgreSQL cluster on 127.0.0.1 for the AS storage and concurrency tests.

Uses Debian's server binaries (``/usr/lib/postgresql/<version>/bin/initdb`` and ``pg_ctl``;
``.ci/install-postgres.sh`` installs them on a fresh machine). PostgreSQL refuses to run as root,
so when the tests run as root the cluster is created and started as the ``postgres`` user via
``runuser``, in a temporary directory that user owns. The cluster listens on a free loopback port
only (no Unix socket in a shared place), uses password authentication, and is deleted afterwards.

If ``DEMO_AS_TEST_POSTGRES_URL`` is set (``postgresql+psycopg://user:pw@host:port/db``), that server
is used instead and no cluster is started: each test still gets its own fresh database.

Missing binaries: the tests are skipped with a reason on a developer machine, but FAIL when the
environment variable ``CI`` is ``true`` (a CI run must never silently skip PostgreSQL).
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from .subprocess_servers import free_loopback_port

SUPERUSER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    """Where a running PostgreSQL server is and how to log in as a superuser."""

    host: str
    port: int
    user: str
    password: str

    def url(self, database: str) -> str:
        """The SQLAlchemy URL the AS takes in ``--database-url``."""
        return (
            f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    def admin_conninfo(self) -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname=postgres"
        )

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = "demo_as_" + secrets.token_hex(6)
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server binary directory, or None when not installed."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def skip_or_fail(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where PostgreSQL coverage is required."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI is set, so this is a failure; run .ci/install-postgres.sh)")
    pytest.skip(f"{reason}; run .ci/install-postgres.sh or set DEMO_AS_TEST_POSTGRES_URL")


def _as_cluster_owner(argv: list[str]) -> list[str]:
    """PostgreSQL will not run as root: drop to the ``postgres`` user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--", *argv]
    return argv


def _run(argv: list[str], cwd: str) -> None:
    result = subprocess.run(
        _as_cluster_owner(argv), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{argv[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PostgresServer]:
    """initdb + pg_ctl: a private cluster on a free 127.0.0.1 port; stopped and deleted after."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        skip_or_fail("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    root = tempfile.mkdtemp(prefix="demo-as-pg-")
    data_dir = os.path.join(root, "data")
    password = secrets.token_urlsafe(16)
    pwfile = os.path.join(root, "pwfile")
    Path(pwfile).write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, user=SUPERUSER)
        shutil.chown(pwfile, user=SUPERUSER)
    os.chmod(root, 0o700)
    port = free_loopback_port()
    started = False
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                data_dir,
                "--username",
                SUPERUSER,
                "--pwfile",
                pwfile,
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ],
            cwd=root,
        )
        # A test cluster: durability of PostgreSQL itself is not under test (the crash test
        # kills the AS, not the database), so trade fsync for speed.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        _run(
            [
                str(bin_dir / "pg_ctl"),
                "--pgdata",
                data_dir,
                "--log",
                os.path.join(root, "server.log"),
                "--options",
                options,
                "--wait",
                "--timeout=60",
                "start",
            ],
            cwd=root,
        )
        started = True
        yield PostgresServer(host="127.0.0.1", port=port, user=SUPERUSER, password=password)
    finally:
        if started:
            with contextlib.suppress(RuntimeError):
                _run(
                    [str(bin_dir / "pg_ctl"), "--pgdata", data_dir, "--mode=immediate", "stop"],
                    cwd=root,
                )
        shutil.rmtree(root, ignore_errors=True)


def server_from_url(url: str) -> PostgresServer:
    """An existing server named by ``DEMO_AS_TEST_POSTGRES_URL`` (its superuser credentials)."""
    parts = urlsplit(url)
    return PostgresServer(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or SUPERUSER,
        password=parts.password or "",
    )


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The configured server if ``DEMO_AS_TEST_POSTGRES_URL`` is set, else a throwaway cluster."""
    configured = os.environ.get("DEMO_AS_TEST_POSTGRES_URL")
    if configured:
        yield server_from_url(configured)
        return
    with throwaway_cluster() as server:
        yield server


def redact(url: str) -> str:
    """The URL without its password, for test ids and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
