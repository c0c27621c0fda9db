"""Storage of the authorization flow's state: pending requests, consents, login sessions,
authorization codes, grants, refresh tokens and access-token records.

Every single-use transition (CSRF token, code redemption, refresh rotation) is one conditional
UPDATE/DELETE whose row count decides who won, so two concurrent requests cannot both succeed.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from demo_as.authorization_request import AuthorizationRequest
from demo_as.db import new_secret, now, secret_hash, session
from demo_as.models import (
    AccessTokenRecord,
    AuthorizationCode,
    Consent,
    Grant,
    LoginSession,
    PendingAuthorization,
    RefreshToken,
)
from demo_as.scopes import scope_union

PENDING_TTL = 600  # seconds a user has for login + consent
LOGIN_SESSION_TTL = 3600


# --- pending authorization requests and their CSRF tokens -------------------------------------


def create_pending(engine: Engine, request: AuthorizationRequest) -> PendingAuthorization:
    """Store a validated authorization request for the login/consent forms."""
    pending = PendingAuthorization(
        id=secrets.token_urlsafe(24),
        client_id=request.client.client_id,
        redirect_uri=request.redirect_uri,
        state=request.state,
        scopes=request.scopes,
        resource=request.resource,
        code_challenge=request.code_challenge,
        expires_at=now() + PENDING_TTL,
    )
    with session(engine) as db:
        # /authorize is unauthenticated: drop abandoned requests so they cannot pile up.
        db.exec(delete(PendingAuthorization).where(PendingAuthorization.expires_at <= now()))
        db.exec(delete(LoginSession).where(LoginSession.expires_at <= now()))
        db.add(pending)
        db.commit()
    return pending


def rotate_csrf_token(engine: Engine, pending_id: str, username: str | None = None) -> str:
    """A fresh CSRF token for the next form of this pending request (RFC 6749 §10.12; OAuth 2.1
    §7.10). Only its hash is stored, and each form gets a new one, so a token works once."""
    token = new_secret()
    values: dict = {"csrf_hash": secret_hash(token)}
    if username is not None:
        values["username"] = username
    with session(engine) as db:
        db.exec(
            update(PendingAuthorization)
            .where(PendingAuthorization.id == pending_id)
            .values(**values)
        )
        db.commit()
    return token


def pending_for_form(engine: Engine, pending_id: str, csrf_token: str) -> PendingAuthorization:
    """The pending request a form submission belongs to; LookupError names why it is refused.

    The CSRF token must be the one issued for *this* request (RFC 6749 §10.12: bound to the
    user-agent's authenticated state; here bound to the pending request it was rendered for).
    """
    with session(engine) as db:
        pending = db.get(PendingAuthorization, pending_id)
    if pending is None or pending.expires_at <= now():
        raise LookupError("this authorization request has expired or was already answered")
    if not pending.csrf_hash or not hmac.compare_digest(secret_hash(csrf_token), pending.csrf_hash):
        raise LookupError("the form's CSRF token is not valid for this authorization request")
    return pending


def consume_pending(engine: Engine, pending: PendingAuthorization) -> bool:
    """Delete the pending request if it is still as we read it (single use)."""
    with session(engine) as db:
        result = db.exec(
            delete(PendingAuthorization).where(
                PendingAuthorization.id == pending.id,
                PendingAuthorization.csrf_hash == pending.csrf_hash,
            )
        )
        db.commit()
    return result.rowcount == 1


# --- consents and login sessions ------------------------------------------------------------


def granted_scopes(engine: Engine, username: str, client_id: str) -> list[str]:
    """What this user has granted this client so far."""
    with session(engine) as db:
        consent = db.get(Consent, (username, client_id))
    return list(consent.scopes) if consent else []


def record_consent(engine: Engine, username: str, client_id: str, scopes: list[str]) -> None:
    """Add ``scopes`` to the user's consent record for the client."""
    with session(engine) as db:
        consent = db.get(Consent, (username, client_id))
        if consent is None:
            db.add(Consent(username=username, client_id=client_id, scopes=scopes))
        else:
            consent.scopes = scope_union(consent.scopes, scopes)
            db.add(consent)
        db.commit()


def create_login_session(engine: Engine, username: str) -> str:
    """A new login session; returns the cookie value (only its hash is stored)."""
    session_id = new_secret()
    with session(engine) as db:
        db.add(
            LoginSession(
                id_hash=secret_hash(session_id),
                username=username,
                expires_at=now() + LOGIN_SESSION_TTL,
            )
        )
        db.commit()
    return session_id


def login_session_user(engine: Engine, session_id: str | None, users: dict[str, str]) -> str | None:
    """The user of a live login session, if the cookie names one (and the user still exists)."""
    if not session_id or len(session_id) > 200:
        return None
    with session(engine) as db:
        row = db.get(LoginSession, secret_hash(session_id))
    if row is None or row.expires_at <= now() or row.username not in users:
        return None
    return row.username


# --- codes, grants and tokens ---------------------------------------------------------------


def issue_code(
    engine: Engine, pending: PendingAuthorization, username: str, scopes: list[str], ttl: int
) -> str:
    """OAuth 2.1 draft-13 §4.1.2: a random, short-lived, single-use code bound to the client,
    redirect URI, PKCE challenge, resource (RFC 8707) and the granted scopes; stored hashed."""
    code = new_secret()
    with session(engine) as db:
        db.add(
            AuthorizationCode(
                code_hash=secret_hash(code),
                client_id=pending.client_id,
                redirect_uri=pending.redirect_uri,
                scopes=scopes,
                resource=pending.resource,
                code_challenge=pending.code_challenge,
                username=username,
                expires_at=now() + ttl,
            )
        )
        db.commit()
    return code


def find_code(engine: Engine, code: str) -> AuthorizationCode | None:
    with session(engine) as db:
        return db.get(AuthorizationCode, secret_hash(code))


def new_grant(code: AuthorizationCode) -> Grant:
    """The (not yet stored) grant a code redemption creates."""
    return Grant(
        id=secrets.token_urlsafe(18),
        client_id=code.client_id,
        username=code.username,
        scopes=code.scopes,
        resource=code.resource,
        created_at=now(),
    )


def get_grant(engine: Engine, grant_id: str) -> Grant | None:
    with session(engine) as db:
        return db.get(Grant, grant_id)


def revoke_grant(engine: Engine, grant_id: str, reason: str) -> None:
    """Revoke a grant with every refresh and access token issued under it (OAuth 2.1 §4.1.3 code
    replay, §4.3.1 refresh reuse; RFC 7009 §2.1)."""
    at = now()
    with session(engine) as db:
        db.exec(
            update(Grant)
            .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
        )
        db.exec(
            update(RefreshToken).where(RefreshToken.grant_id == grant_id).values(status="revoked")
        )
        db.exec(
            update(AccessTokenRecord)
            .where(AccessTokenRecord.grant_id == grant_id, AccessTokenRecord.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        db.commit()


def find_refresh_token(engine: Engine, token: str) -> RefreshToken | None:
    with session(engine) as db:
        return db.get(RefreshToken, secret_hash(token))


@dataclass(frozen=True)
class IssuedTokens:
    """What one token response writes: the access token's jti and expiry, and the new refresh
    token (None when the client gets none)."""

    jti: str
    access_expires_at: int
    refresh_token: str | None
    refresh_ttl: int


def _add_issued(db: Session, grant: Grant, issued: IssuedTokens) -> None:
    db.add(
        AccessTokenRecord(
            jti=issued.jti,
            grant_id=grant.id,
            client_id=grant.client_id,
            expires_at=issued.access_expires_at,
        )
    )
    if issued.refresh_token is not None:
        db.add(
            RefreshToken(
                token_hash=secret_hash(issued.refresh_token),
                grant_id=grant.id,
                client_id=grant.client_id,
                created_at=now(),
                expires_at=now() + issued.refresh_ttl,
            )
        )


def commit_code_redemption(
    engine: Engine, code: AuthorizationCode, grant: Grant, issued: IssuedTokens
) -> bool:
    """In ONE transaction: mark the code used (only if it was unused), create its grant and record
    the tokens. False when a concurrent request redeemed the code first (nothing is written).

    One transaction means a crash can never leave a used code without its grant, or a grant
    without its tokens.
    """
    with session(engine) as db:
        result = db.exec(
            update(AuthorizationCode)
            .where(
                AuthorizationCode.code_hash == code.code_hash,
                AuthorizationCode.used_at.is_(None),
            )
            .values(used_at=now(), grant_id=grant.id)
        )
        if result.rowcount != 1:
            db.rollback()
            return False
        db.add(grant)
        _add_issued(db, grant, issued)
        db.commit()
    return True


def commit_refresh_rotation(
    engine: Engine, old: RefreshToken, grant: Grant, issued: IssuedTokens
) -> bool:
    """In ONE transaction (OAuth 2.1 §4.3.1): retire the presented refresh token (only if still
    active) and record its successor and the new access token. False when it was not active any
    more (a concurrent refresh won; nothing is written). A crash therefore leaves either the old
    token usable or the new one, never neither."""
    with session(engine) as db:
        result = db.exec(
            update(RefreshToken)
            .where(RefreshToken.token_hash == old.token_hash, RefreshToken.status == "active")
            .values(status="rotated")
        )
        if result.rowcount != 1:
            db.rollback()
            return False
        _add_issued(db, grant, issued)
        db.commit()
    return True


def access_token_revoked(engine: Engine, jti: str) -> bool:
    """True when the jti is unknown, revoked, or its grant is revoked."""
    with session(engine) as db:
        record = db.get(AccessTokenRecord, jti)
        if record is None or record.revoked_at is not None:
            return True
        grant = db.get(Grant, record.grant_id)
    return grant is None or grant.revoked_at is not None


def revoke_access_token(engine: Engine, jti: str) -> None:
    with session(engine) as db:
        db.exec(
            update(AccessTokenRecord)
            .where(AccessTokenRecord.jti == jti, AccessTokenRecord.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        db.commit()
