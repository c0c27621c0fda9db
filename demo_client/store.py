"""File store for `demo-client call`: the registration and tokens survive between runs.

Tokens are stored as `tokens[resource][issuer]` and looked up with the issuer that discovery
just found, so a token is never sent to a server whose authorization server changed (MCP
authorization, Token Handling: clients "MUST NOT send tokens to the MCP server other than
ones issued by the MCP server's authorization server"). Registrations are keyed by issuer
(SEP-2352: client credentials are bound to the issuer that issued them). The file is created
with mode 0600; refresh tokens are secrets (OAuth 2.1 §4.3: confidential in transit and storage).
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
        tokens = data.setdefault("tokens", {})
        for resource, entry in list(tokens.items()):
            if not isinstance(entry, dict) or "tokens" in entry:  # another layout: not used
                tokens.pop(resource)
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

    def tokens(self, resource: str, issuer: str) -> TokenSet | None:
        """The tokens stored for `resource` that `issuer` issued, if any."""
        entry = self._load()["tokens"].get(resource, {}).get(issuer)
        return TokenSet.from_json(entry) if entry else None

    def issuers_holding_tokens(self, resource: str) -> list[str]:
        """The issuers of every token set stored for `resource`."""
        return list(self._load()["tokens"].get(resource, {}))

    def save_tokens(self, resource: str, issuer: str, tokens: TokenSet | None) -> None:
        data = self._load()
        by_issuer = data["tokens"].setdefault(resource, {})
        if tokens is None:
            by_issuer.pop(issuer, None)
        else:
            by_issuer[issuer] = tokens.to_json()
        if not by_issuer:
            data["tokens"].pop(resource)
        self._save(data)
