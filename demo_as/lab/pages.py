"""The lab's HTML pages: every client seen, one client's live timeline, its Markdown report and
the probe form.

* ``GET /lab``: the instructor's view of a workshop room, one row per client.
* ``GET /lab/clients/{client_id}``: the client's steps across AS and RS as a sequence diagram and
  a table, the report card and the probes panel. ``?part=live`` answers only the parts that change
  (the page's script fetches it when ``/lab/api/clients/{id}/events?after=N`` has news).
* ``GET /lab/clients/{client_id}/report.md``: the report card as Markdown for a bug report.
* ``POST /lab/probes``: fire or clear a probe from the page (CSRF-protected form, 303 back).

Everything a client supplied (names, ids, metadata, event summaries) is rendered by autoescaping
templates; client ids in links are percent-encoded whole (links.py).
The data come from ``views`` (lab-core's API, the same dicts as the JSON API).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from demo_as.errors import PageError
from demo_as.lab import catalog, form_csrf, views
from demo_as.lab.api import engine_of
from demo_as.lab.errors import UnknownClient, UnknownProbe
from demo_as.lab.links import api_client_path, client_path, parse_client_path
from demo_as.lab.timeline import build_steps, last_event_id, rules_worst_first, when_of
from demo_as.middleware import LAB_PAGE_CSP

router = APIRouter(tags=["lab pages"])
log = logging.getLogger(__name__)

SCRIPT = Path(__file__).parent / "static" / "lab.js"
POLL_MILLISECONDS = 1500

FormText = Annotated[str, Form(max_length=4000)]
HTML = {"text/html": {}}
# Malformed parameters are answered by errors.py in JSON (RFC 6749 §5.2 shape); our own refusals
# of a form or an unknown client are HTML pages (errors.PageError).
BAD_INPUT = {"description": "Malformed parameters (JSON) or a refused form (HTML page)"}


def pretty(detail: Any) -> str:
    """An event's detail as indented JSON text (the template escapes it)."""
    return json.dumps(detail, indent=2, sort_keys=True, ensure_ascii=False)


def lab_response(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """Render a lab page with this browser's CSRF token and the CSP that lets lab.js run."""
    token, new_cookie = form_csrf.issue(request)
    response = request.app.state.pages.render(
        request,
        template,
        {
            **context,
            "csrf_token": token,
            "client_path": client_path,
            "when": when_of,
            "pretty": pretty,
            "rules": catalog.RULES,
            "probes": catalog.PROBES,
            "poll_ms": POLL_MILLISECONDS,
        },
    )
    response.headers["Content-Security-Policy"] = LAB_PAGE_CSP
    if new_cookie:
        form_csrf.set_cookie(request, response, new_cookie)
    return response


def unknown_client(client_id: str) -> PageError:
    return PageError(
        title="No such client in the lab",
        rule="The lab shows clients it has journal events for.",
        section="the lab (docs/lab.md)",
        explanation=f"The lab has no step of client {client_id[:200]!r}: it never reached this AS, "
        "or journal retention has dropped its events.",
        status_code=404,
    )


@router.get("/lab/static/lab.js", include_in_schema=False)
def lab_script() -> Response:
    """The pages' one script (hand-written, no build step, no CDN: it works offline)."""
    return Response(
        SCRIPT.read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/lab", response_class=HTMLResponse, summary="Every client the lab has seen")
def lab_index(request: Request, part: str | None = None) -> HTMLResponse:
    engine = engine_of(request)
    context = {
        "clients": views.list_clients(engine),
        "active": views.active_probes(engine),
        "client_id": None,
    }
    template = "lab/index_part.html" if part == "clients" else "lab/index.html"
    return lab_response(request, template, context)


@router.get(
    "/lab/clients/{client_id:path}",
    response_class=HTMLResponse,
    responses={
        200: {"content": {**HTML, "text/markdown": {}}},
        404: {"description": "No such client in the lab (HTML page)", "content": HTML},
    },
    summary="One client's timeline, report card and probes (or /report.md: the report)",
)
def lab_client(
    request: Request, client_id: str, part: str | None = None, after: int | None = None
) -> Response:
    # The decoded ``client_id`` cannot tell ``…/report.md`` from an id ending in "/report.md";
    # the raw path can (links.parse_client_path).
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    client_id, subpage = parse_client_path(raw_path)
    engine = engine_of(request)
    if subpage == "report.md":
        return report_markdown(engine, client_id)
    summary = views.client_summary(engine, client_id)
    if summary is None:
        raise unknown_client(client_id)
    events = views.client_events(engine, client_id)
    report = views.client_report(engine, client_id)
    correct = {rule_id: rule.correct for rule_id, rule in catalog.RULES.items()}
    context = {
        "client": summary,
        "client_id": client_id,
        "report": report,
        "report_rules": rules_worst_first(report),
        "steps": build_steps(events, report, correct, new_after=after),
        "after": last_event_id(events),
        "events_url": api_client_path(client_id, "events"),
        "report_json_url": api_client_path(client_id, "report"),
        "active": [p for p in views.active_probes(engine) if p["client_id"] in (None, client_id)],
    }
    template = "lab/client_part.html" if part == "live" else "lab/client.html"
    return lab_response(request, template, context)


def report_markdown(engine: Any, client_id: str) -> Response:
    markdown = views.report_markdown(engine, client_id)
    if markdown is None:
        raise unknown_client(client_id)
    return Response(
        markdown,
        media_type="text/markdown; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def refused_form(reason: str, status_code: int = 400) -> PageError:
    log.warning("lab: refused a probe form (%s): %s", status_code, reason)
    return PageError(
        title="This probe form cannot be used",
        rule="The probe form is posted from the lab page that issued it (CSRF token bound to "
        "this browser's lab_csrf cookie).",
        section="RFC 6749 §10.12 (CSRF); the lab (docs/lab.md)",
        explanation=f"{reason}. Reload the lab page and try again.",
        status_code=status_code,
    )


@router.post(
    "/lab/probes",
    response_class=RedirectResponse,
    status_code=303,
    responses={
        303: {"description": "Back to the lab page the form came from"},
        400: {**BAD_INPUT, "content": {**HTML, "application/json": {}}},
        403: {"description": "CSRF token not bound to this browser (HTML page)", "content": HTML},
        404: {"description": "Unknown client or no such active probe (HTML)", "content": HTML},
    },
    summary="Fire or clear a probe from the lab page (form post with CSRF token)",
)
def probe_form(
    request: Request,
    csrf_token: FormText = "",
    action: FormText = "",
    probe: FormText = "",
    probe_id: FormText = "",
    client_id: FormText = "",
    once: FormText = "true",
    back: FormText = "",
) -> Response:
    """``client_id`` is whom the probe is for (empty: every client); ``back`` is the client whose
    page posted the form (empty: /lab). Both are client ids, never URLs: the 303 goes to a lab
    page built from them, so the form cannot redirect anywhere else."""
    try:
        form_csrf.check(request, csrf_token)
    except form_csrf.CsrfRefused as refused:
        raise refused_form(str(refused), status_code=403) from None
    engine = engine_of(request)
    target = client_id or None
    try:
        if action == "fire":
            views.fire_probe(engine, probe, target, once=once == "true")
        elif action == "clear":
            if not views.clear_probe(engine, probe_id):
                raise refused_form(f"no active probe {probe_id!r}", status_code=404)
        else:
            raise refused_form(f"unknown action {action!r} (fire or clear)")
    except UnknownProbe:
        raise refused_form(f"unknown probe {probe!r}") from None
    except UnknownClient:
        raise unknown_client(client_id) from None
    page = back or client_id
    return RedirectResponse(f"{client_path(page) if page else '/lab'}#probes", status_code=303)
