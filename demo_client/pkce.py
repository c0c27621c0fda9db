"""PKCE with S256 (RFC 7636 §4.1–4.2; OAuth 2.1 §4.1.1). Teaching code, hand-written on purpose.

MCP clients "MUST use the S256 code challenge method" (MCP authorization, Authorization Code
Protection). A fresh verifier is made for every authorization request (OAuth 2.1 §7.5.2).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class PkcePair:
    verifier: str
    challenge: str
    method: str = "S256"

    @classmethod
    def generate(cls) -> PkcePair:
        """RFC 7636 §4.1: 32 random octets, base64url-encoded, give a 43-character verifier."""
        verifier = _b64url(secrets.token_bytes(32))
        return cls(verifier=verifier, challenge=s256_challenge(verifier))


def new_state() -> str:
    """OAuth 2.1 §7.5.2 / RFC 6749 §10.12: an unguessable value bound to this one request."""
    return secrets.token_urlsafe(24)
