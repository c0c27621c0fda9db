"""The rules of the report card and the probes, with the spec section each one rests on and what
a correct client does. Rule ids and probe ids are fixed interfaces (DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    spec: str
    correct: str


@dataclass(frozen=True)
class Probe:
    id: str
    title: str
    server: Literal["as", "rs"]
    correct_reaction: str
    graded_rule: str
    per_client: bool = True  # False: the probe changes the whole server (client_id ignored)


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in [
        Rule(
            "registers-once",
            "Registers once and reuses its client_id",
            "RFC 7591 §3; MCP authorization, Dynamic Client Registration",
            "Register once, store the client_id (and secret) per authorization server, and reuse "
            "it for every later authorization instead of registering again.",
        ),
        Rule(
            "pkce-s256",
            "PKCE with S256 on every authorization request",
            "OAuth 2.1 draft-13 §4.1.1, §7.5.1; RFC 7636 §4.2",
            "Send a fresh code_challenge with code_challenge_method=S256 on every authorization "
            "request, and the matching code_verifier at /token.",
        ),
        Rule(
            "state",
            "Sends an unguessable state",
            "RFC 6749 §10.12; OAuth 2.1 draft-13 §7.12; MCP authorization, Security "
            "Considerations (Open Redirection)",
            "Send a fresh random state (16 or more random characters) on every authorization "
            "request and drop any response whose state does not match.",
        ),
        Rule(
            "resource-matches-prm",
            "resource equals the PRM resource exactly, at /authorize and /token",
            "RFC 8707 §2; RFC 9728 §3.3; MCP authorization, Resource Parameter Implementation",
            "Send resource= with the protected resource metadata's resource value, byte for "
            "byte, on the authorization request and on every token request (code and refresh).",
        ),
        Rule(
            "first-scope-from-challenge",
            "First authorization asks for the challenged scope",
            "MCP authorization, Scope Selection Strategy (SEP-835); RFC 6750 §3",
            "Ask for the scope named in the 401 challenge (else PRM scopes_supported); asking "
            "for everything at once is not least privilege.",
        ),
        Rule(
            "offline-access",
            "Asks for offline_access only when the AS lists it",
            "MCP authorization, Refresh Tokens (SEP-2207); OpenID Connect Core §11",
            "Add offline_access to the requested scope only when the AS metadata's "
            "scopes_supported lists it.",
        ),
        Rule(
            "token-in-header",
            "Sends the access token in the Authorization header",
            "OAuth 2.1 draft-13 §5.2; RFC 6750 §2.1; MCP authorization, Token Requirements",
            "Send Authorization: Bearer <token> on every MCP request, never the token in the "
            "query string.",
        ),
        Rule(
            "step-up-union",
            "Step-up asks for granted ∪ challenged scopes",
            "MCP authorization, Step-Up Authorization Flow (SEP-2350); RFC 6750 §3.1",
            "On 403 insufficient_scope, re-authorize with the union of the previously "
            "requested, the granted and the challenged scopes, so nothing already allowed is "
            "lost.",
        ),
        Rule(
            "no-refresh-to-widen",
            "Does not refresh to get more scope",
            "RFC 6749 §6; OAuth 2.1 draft-13 §4.3.1",
            "When a 403 names a scope the grant lacks, send the user to /authorize again: a "
            "refresh can never widen a grant, so refreshing and retrying only repeats the 403.",
        ),
        Rule(
            "retry-cap",
            "Stops after a bounded number of step-ups",
            "MCP authorization, Step-Up Authorization Flow (clients SHOULD implement retry limits)",
            "When the same 403 comes back after a step-up (the user did not grant the scope), "
            "stop and report the error after a small, fixed number of attempts instead of "
            "looping.",
        ),
        Rule(
            "refresh-before-reauth",
            "Refreshes an expired access token instead of re-authorizing",
            "OAuth 2.1 draft-13 §4.3; RFC 6749 §6",
            "Holding a valid refresh token, refresh when the access token expires; send the "
            "user back to log in only when the refresh is refused.",
        ),
        Rule(
            "refresh-rotation-followed",
            "Uses the rotated refresh token",
            "OAuth 2.1 draft-13 §4.3.1; RFC 9700 §4.14.2",
            "After each refresh, store the new refresh token and discard the old one; "
            "presenting a rotated token looks like theft and revokes the whole grant.",
        ),
        Rule(
            "iss-checked",
            "Checks iss in the authorization response",
            "RFC 9207 §2.4; MCP authorization, Authorization Response Validation (SEP-2468)",
            "Compare the response's iss with the issuer of the AS metadata (exact string) and "
            "refuse the response, without redeeming the code, when it differs or is missing "
            "while the metadata advertises authorization_response_iss_parameter_supported.",
        ),
        Rule(
            "drops-rejected-token",
            "Does not resend a token the RS refused with 401",
            "RFC 6750 §3.1 (invalid_token); MCP authorization, Token Handling",
            "After 401 invalid_token, refresh or re-authorize and retry with the new token; "
            "never send the refused token again.",
        ),
    ]
}

PROBES: dict[str, Probe] = {
    probe.id: probe
    for probe in [
        Probe(
            "iss-wrong",
            "Next authorization response carries a wrong iss",
            "as",
            "Refuse the response (RFC 9207 §2.4) and do not redeem its code.",
            "iss-checked",
        ),
        Probe(
            "iss-omit",
            "Next authorization response carries no iss",
            "as",
            "Refuse the response: the metadata advertises the iss parameter, so a response "
            "without it must be rejected (RFC 9207 §2.4). Do not redeem its code.",
            "iss-checked",
        ),
        Probe(
            "short-token",
            "Next access token lives 10 seconds",
            "as",
            "When it expires, refresh it (holding a refresh token) instead of sending the user "
            "back to log in.",
            "refresh-before-reauth",
        ),
        Probe(
            "revoke-grant",
            "Revoke the client's grants now",
            "as",
            "On the next 401 invalid_token, try the refresh token once (refused: invalid_grant), "
            "then re-authorize; never resend the revoked token.",
            "drops-rejected-token",
        ),
        Probe(
            "rs-invalid-token",
            "RS answers the next MCP request 401 invalid_token",
            "rs",
            "Refresh (or re-authorize) and retry once with the new token; do not resend the "
            "refused token or loop.",
            "drops-rejected-token",
        ),
        Probe(
            "rs-challenge-cumulative",
            "RS challenges name granted ∪ required scopes",
            "rs",
            "Keep computing requested ∪ granted ∪ challenged; the result is the same as in "
            "per-operation mode.",
            "step-up-union",
            per_client=False,
        ),
        Probe(
            "rs-challenge-operation",
            "RS challenges name only the scope the tool needs",
            "rs",
            "Add the challenged scope to what was requested and granted (union), never replace it.",
            "step-up-union",
            per_client=False,
        ),
    ]
}

ISS_PROBES = ("iss-wrong", "iss-omit")
CHALLENGE_PROBES = ("rs-challenge-cumulative", "rs-challenge-operation")
SHORT_TOKEN_SECONDS = 10
