"""The lab secret the RS presents when it reports events (``Authorization: Bearer <secret>``).

Setting ``lab_secret`` (env ``DEMO_AS_LAB_SECRET``) wins; when it is unset the AS generates one at
first start and keeps it in ``lab_secret_file`` (default ``<data_dir>/lab-secret``; file 0600,
directory 0700), reusing it on restart, so an RS running as the same user can read it. Under
compose that file is on a volume of its own, so the RS is given the secret and nothing else of
the AS's (not its database, which holds the signing key).
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from demo_as.private_files import private_directory


def load_or_create_lab_secret(configured: str | None, path: Path) -> str:
    """The configured secret, else the one in the file at ``path``, else a new one written
    there."""
    if configured:
        return configured
    if path.exists():
        existing = path.read_text().strip()
        if existing:
            return existing
    if not path.parent.exists():
        # A directory we create is private; an existing one named by --lab-secret-file is left
        # as it is (it may be shared, /tmp say): the file itself is 0600 from its first byte.
        private_directory(path.parent)
    secret = secrets.token_urlsafe(32)
    # O_EXCL + 0600: never readable by others, not even for an instant; a concurrent first start
    # that lost the race reads the winner's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    return secret


def bearer_secret_ok(authorization: str | None, secret: str) -> bool:
    """RFC 6750 §2.1 bearer credential, compared in constant time (hmac.compare_digest)."""
    if not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), secret.encode())
