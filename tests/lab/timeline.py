"""Builds a client's steps the way the journal records them (kinds and detail keys of
demo_as/lab/hooks.py and the RS contract), for the pure grading tests."""

from __future__ import annotations

from typing import Any

from demo_as.lab.grading import Context
from demo_as.lab.report import grade
from demo_as.lab.steps import Step

RESOURCE = "http://127.0.0.1:8000/mcp"
SUPPORTED = ["notes:read", "notes:write", "notes:delete", "offline_access"]


class Timeline:
    def __init__(self, client_id: str = "client-1") -> None:
        self.client_id = client_id
        self.steps: list[Step] = []
        self.clock = 1000.0
        self.tokens = 0

    def add(self, server: str, kind: str, token: str | None = None, **detail: Any) -> Step:
        self.clock += 0.5
        step = Step(len(self.steps) + 1, self.clock, server, kind, detail, self.client_id, token)
        self.steps.append(step)
        return step

    def wait(self, seconds: float) -> None:
        self.clock += seconds

    # -- RS ----------------------------------------------------------------------------------
    def challenge(self, status: int, scope: str, token: str | None = None, tool: str = "t"):
        error = "insufficient_scope" if status == 403 else ("invalid_token" if token else None)
        detail = {"status": status, "error": error, "scope": scope, "tool": tool}
        return self.add("rs", "challenge", token, **detail)

    def call(self, token: str, tool: str = "t", status: int = 200, token_in: str = "header"):
        return self.add("rs", "mcp-request", token, tool=tool, status=status, token_in=token_in)

    # -- AS ----------------------------------------------------------------------------------
    def register(self, **detail: Any) -> Step:
        return self.add("as", "registration", client_name="c", redirect_uris=["r"], **detail)

    def authorize(self, scope: str, **overrides: Any) -> Step:
        detail = {
            "scope": scope.split(),
            "resource": [RESOURCE],
            "code_challenge_method": "S256",
            "code_challenge_present": True,
            "state_length": 43,
            "scopes_supported": SUPPORTED,
            "known_resources": [RESOURCE],
        }
        detail.update(overrides)
        return self.add("as", "authorization-request", **detail)

    def respond(self, iss_status: str = "correct") -> str:
        code = f"sha256:code{len(self.steps):012d}"
        self.add(
            "as",
            "authorization-response",
            outcome="code",
            iss_status=iss_status,
            code_fingerprint=code,
            code_expires_at=self.clock + 60,
        )
        return code

    def issued(self, kind: str, scope: str, lifetime: float = 300, **detail: Any) -> str:
        self.tokens += 1
        token = f"sha256:at{self.tokens:014d}"
        self.add(
            "as",
            kind,
            token,
            outcome="issued",
            scope_granted=scope.split(),
            access_token_fingerprint=token,
            access_token_expires_at=self.clock + lifetime,
            refresh_token_fingerprint=f"sha256:rt{self.tokens:014d}",
            resource=RESOURCE,
            **detail,
        )
        return token

    def redeem(self, code: str, scope: str, **detail: Any) -> str:
        return self.issued("code-redemption", scope, code_fingerprint=code, **detail)

    def refresh(self, generation: int, scope: str, status: str = "active", **kw: Any) -> str:
        presented = f"sha256:rt{generation:014d}"
        if status != "active":
            self.add(
                "as",
                "refresh",
                outcome="invalid_grant",
                presented_refresh_fingerprint=presented,
                presented_status=status,
                resource=RESOURCE,
            )
            return ""
        return self.issued(
            "refresh",
            scope,
            presented_refresh_fingerprint=presented,
            presented_status="active",
            grant_type="refresh_token",
            **kw,
        )

    def full_authorization(self, scope: str, granted: str | None = None) -> str:
        self.authorize(scope)
        return self.redeem(self.respond(), granted or scope)

    def verdicts(self, now: float | None = None, **context: Any) -> dict[str, Any]:
        ctx = Context(now=now if now is not None else self.clock + 1, **context)
        return {v.rule: v for v in grade(self.steps, ctx)}
