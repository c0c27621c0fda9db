"""Render the client's events for people (rich) or for machines (`--json`, one object a line).

The OAuth core only emits `Event`s; this module decides how they look. JSON lines carry the
round number, the tool, and scopes as lists, so the story can be diffed or asserted on.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from demo_client.events import Event, EventKind

if TYPE_CHECKING:
    from rich.console import Console


def escape(text: str) -> str:
    """rich markup escaping, imported on first use: the story's first line (a plain note) is
    printed before rich (~0.2 s of imports) is needed."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _scopes(scopes: list[str] | None) -> str:
    """Scopes for rich output (escaped: rich would read "[notes:read]" as markup)."""
    return escape(" ".join(scopes)) if scopes else "(none)"


def _expiry(expires_at: float | None, now: float, clock_label: str = "") -> str:
    if expires_at is None:
        return "no expiry given"
    clock = time.strftime("%H:%M:%S", time.localtime(expires_at))
    on = f" {clock_label}" if clock_label else ""
    return f"expires {clock}{on} (in {expires_at - now:.0f} s)"


def lab_page_url(issuer: str, client_id: str) -> str:
    """The lab's page of one client (client ids may hold ':' and '/': encoded whole)."""
    return f"{issuer}/lab/clients/{quote(client_id, safe='')}"


class Narrator:
    """Collects events per round and prints them as they happen."""

    def __init__(
        self,
        *,
        json_lines: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.json_lines = json_lines
        self.stream = stream or sys.stdout
        self._console: Console | None = None
        self.clock = clock
        # Said after every expiry time once the story has moved its clock (round 4).
        self.clock_label = ""
        self.round = 0
        self.tool: str | None = None
        self.events: list[Event] = []
        # The issuer and client_id the story used, for the lab page that graded it.
        self.issuer: str | None = None
        self.client_id: str | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
        return self._console

    # -- structure -----------------------------------------------------------------------
    def start_round(self, number: int, title: str, rule: str) -> None:
        self.round, self.tool, self.events = number, None, []
        if self.json_lines:
            self._json(EventKind.ROUND_START, {"title": title, "rule": rule})
            return
        self.console.print()
        self.console.rule(f"[bold]Round {number}: {escape(title)}", align="left")
        self.console.print(f"[dim]rule: {escape(rule)}[/dim]")

    def call(self, tool: str, arguments: dict[str, Any]) -> None:
        self.tool = tool
        if self.json_lines:
            self._json(EventKind.CALL, {"arguments": arguments})
            return
        args = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
        self.console.print(f"[bold cyan]→ tools/call {tool}({escape(args)})[/bold cyan]")

    def note(self, text: str, **data: Any) -> None:
        if self.json_lines:
            self._json(EventKind.NOTE, {"text": text, **data})
        else:
            self.stream.write(f"  {text}\n")  # plain prose: no markup to render
            self.stream.flush()

    def result(self, ok: bool, text: str, problems: list[str] | None = None) -> None:
        if self.json_lines:
            self._json(EventKind.ROUND_RESULT, {"ok": ok, "text": text, "problems": problems or []})
            return
        if ok:
            self.console.print(f"[bold green]✓ {escape(text)}[/bold green]")
        else:
            self.console.print(f"[bold red]✗ {escape(text)}[/bold red]")
            for problem in problems or []:
                self.console.print(f"[red]    - {escape(problem)}[/red]")

    def skipped(self, text: str) -> None:
        if self.json_lines:
            self._json(EventKind.ROUND_SKIPPED, {"text": text})
            return
        self.console.print(f"[bold yellow]- {escape(text)}[/bold yellow]")

    def summary(
        self, ok: bool, rounds: int, failed: list[str], skipped: list[str] | None = None
    ) -> None:
        skipped = skipped or []
        if self.json_lines:
            self._json(
                EventKind.SUMMARY,
                {"ok": ok, "rounds": rounds, "failed_rounds": failed, "skipped_rounds": skipped},
            )
            return
        self.console.print()
        if not ok:
            self.console.print(f"[bold red]Story FAILED in: {', '.join(failed)}")
        elif skipped:
            self.console.print(
                f"[bold green]Story complete: {rounds - len(skipped)} of {rounds} rounds behaved "
                f"as expected[/bold green]; skipped: {', '.join(skipped)} (reason above)."
            )
        else:
            self.console.print(
                f"[bold green]Story complete: all {rounds} rounds behaved as expected."
            )

    def lab_page(self) -> None:
        """Point the reader to the AS's lab page for this client: the run, graded rule by rule."""
        if self.issuer is None or self.client_id is None:
            return
        url = lab_page_url(self.issuer, self.client_id)
        if self.json_lines:
            self._json(EventKind.LAB_PAGE, {"url": url})
            return
        self.console.print(
            f"The authorization server's lab graded this run rule by rule: {escape(url)}\n"
            "  (round 4 replays a rotated refresh token on purpose: expect "
            "refresh-rotation-followed to fail there)"
        )

    # -- the observer ----------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if event.kind == EventKind.DISCOVERY:
            self.issuer = event.data["issuer"]
        elif event.kind == EventKind.REGISTRATION and self.client_id is None:
            self.client_id = event.data["client_id"]
        if self.json_lines:
            self._json(event.kind, event.data)
            return
        render = getattr(self, f"_render_{event.kind}", None)
        if render is not None:
            render(event.data)

    def _json(self, kind: EventKind, data: dict[str, Any]) -> None:
        line = {"round": self.round, "tool": self.tool, "event": kind, **data}
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()

    def _render_mcp_response(self, d: dict[str, Any]) -> None:
        status = d["status"]
        label = f"tools/call {d['tool']}" if d.get("tool") else d.get("method")
        if d.get("method") == "server/discover":
            label = "server/discover (the SDK client's first request when it connects)"
        if status < 400 and d.get("method") != "tools/call":
            return  # protocol chatter (discover, tools/list) is not part of the story
        colour = "green" if status < 400 else "yellow"
        line = f"  ← [{colour}]HTTP {status}[/{colour}] for {escape(str(label))}"
        challenge = d.get("challenge")
        if challenge:
            parts = [f"error={challenge['error']}"] if challenge.get("error") else []
            parts.append(f'scope="{_scopes(challenge.get("scope"))}"')
            if challenge.get("error_description"):
                parts.append(f'error_description="{challenge["error_description"]}"')
            line += f"\n    challenge: Bearer {escape(', '.join(parts))}"
        self.console.print(line)

    def _render_discovery(self, d: dict[str, Any]) -> None:
        self.console.print(
            f"  discovery: PRM {escape(d['resource_metadata'])} → resource {escape(d['resource'])}"
            f", issuer {escape(d['issuer'])} (iss parameter "
            f"{'advertised' if d['iss_parameter_supported'] else 'not advertised'})"
        )

    def _render_registration(self, d: dict[str, Any]) -> None:
        self.console.print(
            f"  registered once ({d.get('kind', 'dcr')}): client_id {escape(d['client_id'])}, "
            "application_type native, grant_types authorization_code refresh_token"
        )

    def _render_registration_rejected(self, d: dict[str, Any]) -> None:
        self.console.print(
            f"  [yellow]the authorization server no longer accepts the stored client_id "
            f"{escape(d['client_id'])}[/yellow] (was its database reset?): "
            f"{escape(d['reason'])}\n  → registering again"
        )

    def _render_scope_union(self, d: dict[str, Any]) -> None:
        decision = (
            "strict superset of granted → full authorization (a refresh cannot widen scope)"
            if d["strict_superset"]
            else "nothing new → refresh first"
        )
        self.console.print(
            f"  union: requested {{{_scopes(d['previously_requested'])}}} ∪ granted "
            f"{{{_scopes(d['granted'])}}} ∪ challenged {{{_scopes(d['challenged'])}}}\n"
            f"       = {{[bold]{_scopes(d['union'])}[/bold]}} — {decision}"
        )

    def _render_authorization_request(self, d: dict[str, Any]) -> None:
        why = ""
        if "offline_access" in d.get("added", []):
            why = (
                " (offline_access added: the AS lists it and refresh_token is registered, SEP-2207)"
            )
        self.console.print(f'  authorization request: scope="{_scopes(d["requested"])}"{why}')

    def _render_tokens(self, d: dict[str, Any]) -> None:
        expiry = _expiry(d.get("expires_at"), self.clock(), self.clock_label)
        if d["how"] == "refresh_token":
            rotated = "rotated" if d.get("rotated") else "NOT rotated"
            self.console.print(
                f"  refreshed ({escape(d['reason'])}): granted [bold]{_scopes(d['granted'])}"
                f"[/bold], {expiry}; refresh token {d['old_refresh_token']} → "
                f"{d['refresh_token']} ({rotated})"
            )
        else:
            self.console.print(
                f"  granted: [bold]{_scopes(d['granted'])}[/bold], {expiry}, refresh token "
                f"{d['refresh_token'] or 'none'}"
            )

    def _render_token_expired(self, d: dict[str, Any]) -> None:
        self.console.print(
            "  access token has expired on the client's clock → refresh before the call"
        )

    def _render_refresh_refused(self, d: dict[str, Any]) -> None:
        detail = f": {d['description']}" if d.get("description") else ""
        token = f" of {d['refresh_token']}" if d.get("refresh_token") else ""
        self.console.print(
            f"  refresh{token} refused ({escape(d['reason'])}) → {escape(d['error'] + detail)}"
        )

    def _render_insufficient_scope_error(self, d: dict[str, Any]) -> None:
        self.console.print(f"  [bold magenta]InsufficientScopeError[/]: {escape(d['message'])}")
