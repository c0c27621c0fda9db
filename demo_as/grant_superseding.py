"""A new grant supersedes the earlier live grants of the same client, user and resource
(issue #12, "Also": one run of the step-up ladder used to end with 17 grants and 14 live refresh
tokens for one client).

The decision: when a code is redeemed, every earlier, unrevoked grant for the same
``(client_id, username, resource)`` is revoked with its refresh and access tokens (reason
"superseded"), in the transaction that creates the new grant. Why:

* OAuth 2.1 draft-13 §3.2.3: refresh tokens "MUST be bound to the scope and resource servers as
  consented by the resource owner". The consent in force is the latest one, and it may be
  narrower: a user who unticks ``notes:write`` at a step-up has withdrawn it, which an old grant
  that still refreshes ``notes:write`` would ignore.
* §7.1.4 "Access Token Privilege Restriction": privileges SHOULD be restricted to the minimum.
  A step-up client asks for the union (SEP-835), so the new grant already holds everything the
  client needs; the old one is only extra authority and extra rows.
* A correct client keeps the newest tokens only (§4.3.2: the client "MUST discard the old
  refresh token"); one that keeps refreshing a superseded token gets ``invalid_grant`` and
  re-authorizes, which is what the lab's refresh rules expect.

Grants for another resource (another audience) or of another user are independent consents
and stay untouched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session

from demo_as.queries import SUPERSEDED_GRANT_IDS

SUPERSEDED = "superseded by a newer grant for the same client, user and resource"


def superseded_grant_ids(db: Connection | Session, newest: Any) -> list[str]:
    """The live grants ``newest`` (a grant row or ``store.NewGrant``) supersedes (same client,
    user and resource; not itself). The statement is built once (queries.py): built per call it
    cost more than running it."""
    keys = {
        "client_id": newest.client_id,
        "username": newest.username,
        "resource": newest.resource,
        "grant_id": newest.id,
    }
    return list(db.execute(SUPERSEDED_GRANT_IDS, keys).scalars().all())
