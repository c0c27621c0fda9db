"""One length limit per stored text field, used by BOTH the request validation and the column
types (models.py), so every backend refuses the same inputs in the same way.

SQLite ignores ``VARCHAR(n)`` while PostgreSQL enforces it: a value the request validation
accepted but the column refused was a 500 on PostgreSQL only (issue #12.9, a 2001-character
``state``). The bad-input rule (DESIGN.md "Hardening": a clear 4xx, never a 500 and never a
half-written row) therefore needs the two limits to be one number.
"""

from __future__ import annotations

# RFC 6749 §4.1.1: ``state`` is opaque to the AS, which echoes it back; 2000 characters is
# more than any client needs (RFC 9700 §4.7.1 uses it for a CSRF nonce).
STATE = 2000
# RFC 3986 URIs the AS stores: registered redirect URIs and the RFC 8707 resource.
REDIRECT_URI = 2000
RESOURCE = 2000
# RFC 7591 §2 human-readable metadata and the registered scope string.
CLIENT_NAME = 200
SCOPE = 1000
# RFC 7591 §2 ``redirect_uris`` (a JSON column): at most this many, together this long.
REDIRECT_URIS = 10
REDIRECT_URIS_TOTAL = 4000
