"""The official Python MCP SDK client (mcp 2.3.0, ``OAuthClientProvider``) through the notes
ladder against the real servers, in both protocol revisions, graded by the lab: it passes every
rule it is seen exercising. The user is played on the AS's real login and consent pages by
demo_client's HeadlessUserAgent. Under the iss-wrong probe the SDK refuses the response
(RFC 9207 §2.4) without redeeming its code, and the application authorizes again: iss-checked
passes (the TypeScript v1 client fails it, test_typescript_sdk_v1.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest
from lab.clients.conftest import Lab, explain, with_verdict
from mcp.shared.auth import AuthorizationCodeResult
from sdk_client import sdk_session
from sdk_token_storage import MemoryStorage

from demo_client.user_agents import HeadlessUserAgent

REDIRECT_URI = "http://127.0.0.1:47932/callback"


class PagesUser:
    """The SDK's redirect and callback handlers: the demo user on the AS's pages."""

    def __init__(self) -> None:
        self.agent = HeadlessUserAgent()
        self.pending: AuthorizationCodeResult | None = None
        self.responses: list[dict[str, str]] = []

    async def redirect_handler(self, authorization_url: str) -> None:
        location = await self.agent.authorize(authorization_url, REDIRECT_URI)
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        self.responses.append(params)
        self.pending = AuthorizationCodeResult(
            code=params["code"], state=params["state"], iss=params.get("iss")
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.pending is not None
        result, self.pending = self.pending, None
        return result


async def ladder(lab: Lab, mode: str, storage: MemoryStorage, user: PagesUser) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with sdk_session(
        lab.stack.resource,
        mode=mode,
        client_name=f"python sdk ladder ({mode}, {len(user.responses)})",
        redirect_uri=REDIRECT_URI,
        storage=storage,
        redirect_handler=user.redirect_handler,
        callback_handler=user.callback_handler,
    ) as session:
        results["protocol_version"] = session.protocol_version
        results["list_notes"] = await session.call_tool("list_notes", {})
        created = await session.call_tool("create_note", {"title": "groceries", "body": "milk"})
        results["create_note"] = created
        note = created.structured_content["id"]
        results["delete_note"] = await session.call_tool("delete_note", {"note_id": note})
        results["after"] = await session.call_tool("list_notes", {})
    return results


def run(lab: Lab, mode: str) -> tuple[dict[str, Any], MemoryStorage, PagesUser, list[str]]:
    """The ladder; an application that meets an authorization error starts it again once."""
    storage, errors = MemoryStorage(), []

    async def main() -> tuple[dict[str, Any], PagesUser]:
        user = PagesUser()
        try:
            try:
                return await ladder(lab, mode, storage, user), user
            except Exception as error:  # what the SDK raised when it refused a response
                errors.append(repr(error))
                return await ladder(lab, mode, storage, user), user
        finally:
            await user.agent.aclose()

    results, user = anyio.run(main)
    return results, storage, user, errors


@pytest.mark.parametrize("mode", ["2025-11-25", "2026-07-28"])
def test_passes_every_observed_rule(lab: Lab, mode: str) -> None:
    results, storage, _, errors = run(lab, mode)
    assert errors == []
    assert results["protocol_version"] == mode
    for step in ("list_notes", "create_note", "delete_note", "after"):
        assert not results[step].is_error, (step, results[step])
    assert storage.client_info is not None
    rules = lab.settled_verdicts(storage.client_info.client_id)
    assert with_verdict(rules, "fail") == set(), explain(rules)
    assert with_verdict(rules, "warn") == set(), explain(rules)
    # What this ladder exercises, each seen and passed (the rest needs a probe or an expiry).
    assert with_verdict(rules, "pass") >= {
        "registers-once",
        "pkce-s256",
        "state",
        "resource-matches-prm",
        "first-scope-from-challenge",
        "offline-access",
        "token-in-header",
        "step-up-union",
        "no-refresh-to-widen",
    }, explain(rules)


def test_refuses_a_wrong_iss_and_authorizes_again(lab: Lab) -> None:
    probe = lab.fire_probe("iss-wrong", None, once=True)
    results, storage, user, errors = run(lab, "2025-11-25")
    assert len(errors) == 1, errors  # the first authorization, refused by the SDK
    assert user.responses[0]["iss"] != lab.issuer
    assert not results["after"].is_error
    assert storage.client_info is not None
    rules = lab.settled_verdicts(storage.client_info.client_id)
    assert rules["iss-checked"]["verdict"] == "pass", explain(rules)
    assert "never redeemed" in rules["iss-checked"]["detail"]
    assert with_verdict(rules, "fail") == set(), explain(rules)
    assert with_verdict(rules, "warn") == set(), explain(rules)
    assert probe["id"] not in {p["id"] for p in lab.http.get("/lab/api/probes").json()}
