"""PKCE (RFC 7636), S256 only. Hand-written because it is three lines and the point is to teach."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# RFC 7636 §4.1: code_verifier = 43*128unreserved; §4.2: the S256 challenge is base64url of a
# SHA-256 digest, always exactly 43 characters.
VERIFIER_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
S256_CHALLENGE_PATTERN = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def code_challenge_problem(challenge: str | None, method: str | None) -> str | None:
    """Why the authorization request's PKCE parameters are unacceptable, or None.

    OAuth 2.1 draft-13 §4.1.1/§4.1.2.1 and §7.5.2: a missing ``code_challenge`` is rejected
    (``invalid_request``). RFC 7636 §4.3 makes ``plain`` the default method; we reject ``plain``
    and a missing method, since S256 is the only method advertised (RFC 8414 §2
    ``code_challenge_methods_supported``) and ``plain`` leaks the verifier to whoever reads
    the authorization request.
    """
    if not challenge:
        return "code_challenge is required (PKCE, OAuth 2.1 §4.1.1)"
    if method != "S256":
        shown = "missing" if not method else repr(method[:20])
        return f"code_challenge_method {shown} is not supported: use S256 (RFC 7636 §4.2)"
    if not S256_CHALLENGE_PATTERN.fullmatch(challenge):
        return "code_challenge must be 43 base64url characters, the S256 of the verifier"
    return None


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), no padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: the server recomputes the challenge and compares (in constant time)."""
    if not VERIFIER_PATTERN.fullmatch(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)
