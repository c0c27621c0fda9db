"""The AS's files are private to its user (issue #12.8).

The SQLite database holds the ES256 private signing key (models.SigningKey): anyone who can read
it can mint access tokens every resource server accepts (RFC 8725 §3.1 rests on the key staying
secret; DEVELOPERS.md: "Files holding keys are private to their user"). With a default umask
(022) the data directory came out 0755 and the files 0644.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx2
from serving import serve_app


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def serve_once(data_dir: Path) -> None:
    """Start the AS on ``data_dir`` (default SQLite location) and register one client."""
    from demo_as.app import create_app
    from demo_as.settings import Settings

    with serve_app(lambda base: create_app(Settings(issuer=base, data_dir=data_dir))) as url:
        response = httpx2.post(
            f"{url}/register", json={"redirect_uris": ["http://127.0.0.1:1/cb"]}, timeout=15
        )
        assert response.status_code == 201
        database_files = sorted(data_dir.glob("demo_as.db*"))
        assert {p.name for p in database_files} >= {"demo_as.db", "demo_as.db-wal"}
        for path in database_files:
            assert mode(path) == 0o600, (path.name, oct(mode(path)))


def test_new_data_directory_is_0700_and_database_files_0600(tmp_path: Path) -> None:
    """Created under umask 022: directory 0700, the database and its WAL/SHM files 0600."""
    previous = os.umask(0o022)
    try:
        data_dir = tmp_path / "data"
        serve_once(data_dir)
        assert mode(data_dir) == 0o700
    finally:
        os.umask(previous)


def test_files_left_readable_by_an_older_version_are_tightened(tmp_path: Path) -> None:
    """A data directory from before the fix (0755, database 0644) is made private on start."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    (data_dir / "demo_as.db").touch()
    os.chmod(data_dir / "demo_as.db", 0o644)
    serve_once(data_dir)
    assert mode(data_dir) == 0o700
