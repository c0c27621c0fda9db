"""Misbehaviour on demand: the RS-side lab probes, as the AS's last report answer describes them.

A tester fires a probe on the lab page (or ``POST /lab/api/probes``); the AS hands the RS the
active ones in its answer to the next report (``rs_probes``), at least once a second. Two kinds:

- ``rs-invalid-token``: the next MCP request (of one client, or of any) is answered 401
  ``invalid_token`` although its token is fine. A correct client drops the token and gets a new
  one (refresh, or authorize again) instead of retrying the same token forever (RFC 6750 §3.1,
  OAuth 2.1 §5.3). A ``once`` probe is consumed by the first request it answers, and the RS says
  so in its next report (``consumed_probes``); until then it never fires twice.
- ``rs-challenge-operation`` / ``rs-challenge-cumulative``: the 403 challenge mode switched live;
  ``null`` means "the startup ``--challenge-scope``".

Only the request path reads this object and only the reporter's task writes it, both on the
server's event loop, so no lock is needed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from scoped_tools_server.settings import ChallengeScope
from scoped_tools_server.token_errors import TokenRejected

INVALID_TOKEN_PROBE = "rs-invalid-token"
CHALLENGE_PROBES = {
    ChallengeScope.operation: "rs-challenge-operation",
    ChallengeScope.cumulative: "rs-challenge-cumulative",
}
MAX_REMEMBERED_CONSUMED = 1024


class LabProbeToken(TokenRejected):
    """The ``rs-invalid-token`` probe: the token may be perfectly good; the lab says refuse it."""

    default_description = (
        "Lab probe rs-invalid-token: this resource server was told to refuse the next request's "
        "access token; get a new token (refresh or authorize again) and retry once"
    )
    rule = "lab probe rs-invalid-token (react as to any RFC 6750 §3.1 invalid_token)"


@dataclass(frozen=True)
class InvalidTokenProbe:
    id: str
    client_id: str | None
    once: bool

    def targets(self, client_id: str | None) -> bool:
        return self.client_id is None or self.client_id == client_id


def invalid_token_probes(rs_probes: dict[str, Any]) -> list[InvalidTokenProbe]:
    """Parse ``rs_probes.invalid_token``; entries of the wrong shape are ignored, never fatal."""
    entries = rs_probes.get("invalid_token")
    probes = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        client_id = entry.get("client_id")
        probes.append(
            InvalidTokenProbe(
                id=entry["id"],
                client_id=client_id if isinstance(client_id, str) else None,
                once=entry.get("once") is not False,
            )
        )
    return probes


def challenge_mode(rs_probes: dict[str, Any]) -> ChallengeScope | None:
    value = rs_probes.get("challenge_scope")
    try:
        return ChallengeScope(value) if value is not None else None
    except ValueError:
        return None


class LabProbes:
    """The RS's copy of the active RS-side probes."""

    def __init__(self, startup_challenge_scope: ChallengeScope) -> None:
        self.startup_challenge_scope = startup_challenge_scope
        self._invalid_token: list[InvalidTokenProbe] = []
        self._lab_challenge_scope: ChallengeScope | None = None
        self._consumed: OrderedDict[str, None] = OrderedDict()
        self._unreported: list[str] = []

    def update(self, rs_probes: Any) -> None:
        """Take the state from an AS answer (the AS is the source of truth for what is active)."""
        if not isinstance(rs_probes, dict):
            return
        self._invalid_token = [
            p for p in invalid_token_probes(rs_probes) if p.id not in self._consumed
        ]
        self._lab_challenge_scope = challenge_mode(rs_probes)

    def invalid_token_probe(self, client_id: str | None) -> InvalidTokenProbe | None:
        """The probe that answers this client's request now, consuming it if it fires once."""
        for probe in self._invalid_token:
            if probe.targets(client_id):
                if probe.once:
                    self._consume(probe)
                return probe
        return None

    def _consume(self, probe: InvalidTokenProbe) -> None:
        self._invalid_token.remove(probe)
        self._consumed[probe.id] = None
        while len(self._consumed) > MAX_REMEMBERED_CONSUMED:
            self._consumed.popitem(last=False)
        self._unreported.append(probe.id)

    def take_consumed(self) -> list[str]:
        """Consumed probe ids not yet reported (the reporter puts them in its next POST)."""
        taken, self._unreported = self._unreported, []
        return taken

    def has_unreported(self) -> bool:
        return bool(self._unreported)

    def return_consumed(self, probe_ids: list[str]) -> None:
        """A report failed: say it again next time."""
        self._unreported = probe_ids + self._unreported

    def challenge_scope(self) -> tuple[ChallengeScope, str | None]:
        """The 403 mode in force, and the probe that set it (None: the startup setting)."""
        if self._lab_challenge_scope is None:
            return self.startup_challenge_scope, None
        return self._lab_challenge_scope, CHALLENGE_PROBES[self._lab_challenge_scope]
