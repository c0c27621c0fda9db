"""The AS checks its own tokens with keys held in memory: read once, and again only for a token
naming a key it has not loaded (one another process sharing the database created)."""

from __future__ import annotations

from joserfc import jws
from joserfc.jwk import ECKey, KeySet

from demo_as.key_cache import VerificationKeys, token_kid


def _token(key: ECKey) -> str:
    header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    return jws.serialize_compact(header, b"{}", key)


class Database:
    """Stands for the signing-key table: counts how often it is read."""

    def __init__(self, *keys: ECKey) -> None:
        self.keys = list(keys)
        self.reads = 0

    def load(self) -> KeySet:
        self.reads += 1
        return KeySet(list(self.keys))


def test_keys_are_read_once_for_any_number_of_known_tokens() -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    database = Database(key)
    cache = VerificationKeys()
    for _ in range(100):
        assert cache.for_token(_token(key), database.load).get_by_kid(key.kid)
    assert database.reads == 1


def test_a_token_signed_by_a_key_not_loaded_reloads_the_keys() -> None:
    first, second = (ECKey.generate_key("P-256", auto_kid=True) for _ in range(2))
    database = Database(first)
    now = [0.0]
    cache = VerificationKeys(min_reload_seconds=1.0, clock=lambda: now[0])
    cache.for_token(_token(first), database.load)
    database.keys.append(second)  # another process sharing the database created a key
    now[0] = 5.0
    assert cache.for_token(_token(second), database.load).get_by_kid(second.kid)
    assert database.reads == 2


def test_made_up_kids_reload_at_most_once_per_interval() -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    strangers = [ECKey.generate_key("P-256", auto_kid=True) for _ in range(20)]
    database = Database(key)
    now = [0.0]
    cache = VerificationKeys(min_reload_seconds=1.0, clock=lambda: now[0])
    cache.for_token(_token(key), database.load)
    for stranger in strangers:
        cache.for_token(_token(stranger), database.load)
    assert database.reads == 1
    now[0] = 1.5
    cache.for_token(_token(strangers[0]), database.load)
    assert database.reads == 2


def test_junk_names_no_kid_and_causes_no_read() -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    database = Database(key)
    cache = VerificationKeys()
    cache.for_token(_token(key), database.load)
    for junk in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        assert token_kid(junk) is None
        cache.for_token(junk, database.load)
    assert database.reads == 1
