"""The signing key: an ES256 (P-256) key created on first start and kept in the database, so a
restart (or a second process on the same database) keeps verifying earlier tokens. Published at
``/jwks`` (RFC 7517) with its ``kid`` (RFC 7638 thumbprint)."""

from __future__ import annotations

from collections.abc import Iterable

from joserfc.jwk import ECKey, KeySet
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from demo_as.db import now, session
from demo_as.jwt_access_tokens import ALGORITHM
from demo_as.models import SigningKey


def load_or_create_signing_key(engine: Engine) -> ECKey:
    """The oldest stored signing key, creating one if the table is empty.

    Two processes starting together may both create a key; both rows are kept and published, and
    everyone then signs with the oldest, so no token ever becomes unverifiable.
    """
    with session(engine) as db:
        if (row := _oldest(db)) is None:
            key = ECKey.generate_key("P-256", auto_kid=True)
            db.add(SigningKey(kid=key.kid, private_jwk=key.as_dict(private=True), created_at=now()))
            try:
                db.commit()
            except IntegrityError:  # pragma: no cover - thumbprint collision is impossible
                db.rollback()
            row = _oldest(db)
        assert row is not None
        return ECKey.import_key(row.private_jwk)


def _oldest(db) -> SigningKey | None:
    statement = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
    return db.exec(statement).first()


def key_set(rows: Iterable[SigningKey]) -> KeySet:
    """The stored keys as a joserfc key set (public parts are used for /jwks and verification)."""
    return KeySet([ECKey.import_key(row.private_jwk) for row in rows])


def jwks_document(keys: KeySet) -> dict:
    """RFC 7517 §5 JWK Set of the public keys, each with ``kid``, ``use`` and ``alg``."""
    return {
        "keys": [key.as_dict(private=False) | {"use": "sig", "alg": ALGORITHM} for key in keys.keys]
    }
