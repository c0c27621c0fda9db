"""File store for `demo-client call`: the registration and tokens survive between runs.

Keyed by (resource, issuer) so a token minted for one server is never sent to another (MCP
authorization, Token Handling: clients "MUST NOT send tokens to the MCP server other than
ones issued by the MCP server's authorization server"). The file is created with mode 0600;
refresh tokens are secrets (OAuth 2.1 §4.3: confidential in transit and storage).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from demo_client.registration import ClientRegistration
from demo_client.tokens import TokenSet


class FileStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {"registrations": {}, "tokens": {}}
        data.setdefault("registrations", {})
        data.setdefault("tokens", {})
        return data

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        tmp.replace(self.path)

    def registration(self, issuer: str) -> ClientRegistration | None:
        entry = self._load()["registrations"].get(issuer)
        return ClientRegistration.from_json(entry) if entry else None

    def save_registration(self, registration: ClientRegistration) -> None:
        data = self._load()
        data["registrations"][registration.issuer] = registration.to_json()
        self._save(data)

    def tokens(self, resource: str) -> tuple[str, TokenSet] | None:
        """(issuer, tokens) stored for `resource`."""
        entry = self._load()["tokens"].get(resource)
        return (entry["issuer"], TokenSet.from_json(entry["tokens"])) if entry else None

    def save_tokens(self, resource: str, issuer: str, tokens: TokenSet | None) -> None:
        data = self._load()
        if tokens is None:
            data["tokens"].pop(resource, None)
        else:
            data["tokens"][resource] = {"issuer": issuer, "tokens": tokens.to_json()}
        self._save(data)
