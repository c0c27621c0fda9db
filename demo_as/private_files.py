"""The AS's files are private to its user (issue #12.8).

The SQLite database holds the ES256 private signing key, so whoever reads it can mint tokens
(RFC 8725 §3.1 assumes the key stays secret; RFC 7517 §9.2: private keys "MUST be protected").
With a default umask (022) a new directory is 0755 and a new file 0644. So: the data directory
is created 0700 (and tightened if an earlier version left it open), the database file is
created 0600 *before* SQLite opens it (no window in which it is readable), and its WAL, SHM and
journal files, which SQLite creates with the database file's mode, are tightened too (the lab
secret beside them is written 0600 by demo_as/lab).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger("demo_as.private_files")


def private_directory(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700, or tighten it to 0700 if it is ours."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    tighten(path, PRIVATE_DIRECTORY)


def private_sqlite_file(database: Path) -> None:
    """The database file exists with mode 0600 before SQLite opens it; companions tightened."""
    fd = os.open(database, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE)
    os.close(fd)
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_COMPANIONS)):
        if path.exists():
            tighten(path, PRIVATE_FILE)


def tighten(path: Path, wanted: int) -> None:
    """chmod ``path`` to ``wanted`` when it is ours and more open; one log line when we can't."""
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & ~wanted == 0:
        return
    if info.st_uid != os.getuid():
        log.warning(
            "%s is mode %o and owned by another user: it holds or guards the signing key and "
            "should be private (%o)",
            path,
            stat.S_IMODE(info.st_mode),
            wanted,
        )
        return
    os.chmod(path, wanted)
