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

from sqlalchemy import Connection, select
from sqlmodel import Session

from demo_as.models import Grant

SUPERSEDED = "superseded by a newer grant for the same client, user and resource"
GRANTS = Grant.__table__  # type: ignore[attr-defined]


def superseded_grant_ids(db: Connection | Session, newest: Grant) -> list[str]:
    """The live grants ``newest`` supersedes (same client, user and resource; not itself)."""
    statement = select(GRANTS.c.id).where(
        GRANTS.c.client_id == newest.client_id,
        GRANTS.c.username == newest.username,
        GRANTS.c.resource == newest.resource,
        GRANTS.c.id != newest.id,
        GRANTS.c.revoked_at.is_(None),
    )
    return list(db.execute(statement).scalars().all())
