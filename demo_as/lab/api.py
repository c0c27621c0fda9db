"""The lab's JSON API under ``/lab/api`` (DESIGN.md "The lab"; COORDINATION.md contracts).

Reading is open (the lab shows only fingerprints, never secrets). Changing something (POST/DELETE
of probes) requires ``Content-Type: application/json`` and refuses a foreign ``Origin``, so a web
page cannot forge it (a cross-site form cannot send JSON; a cross-site fetch of JSON needs a CORS
preflight this server never grants). Nothing here issues a token or changes a grant, except the
``revoke-grant`` probe. The RS reports to ``POST /lab/api/rs-events`` with the lab secret.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from demo_as.errors import NO_STORE, OAuthErrorBody
from demo_as.lab import views
from demo_as.lab.errors import LabError, UnknownClient, UnknownProbe, malformed
from demo_as.lab.ingest import ingest, parse_batch, probe_answer, refuse_unless_lab_secret
from demo_as.lab.models import CLIENT_ID_LENGTH
from demo_as.lab.request_guard import refuse_foreign_origin, refuse_unless_json

router = APIRouter(prefix="/lab/api", tags=["lab"])
MAX_EVENT_ID = 2**62


def errors(*codes: int) -> dict:
    """The error answers a route declares (``{"error", "error_description"}`` JSON)."""
    return {code: {"model": OAuthErrorBody, "description": ERROR_MEANING[code]} for code in codes}


ERROR_MEANING = {
    400: "Malformed request, unknown probe",
    401: "Wrong or missing lab secret (RFC 6750 §3.1)",
    403: "Foreign Origin",
    404: "Unknown client",
    413: "Body too large",
    415: "Body is not application/json",
}


@router.post(
    "/rs-events",
    responses=errors(400, 401, 413, 415),
    summary="The RS's batched journal report (Bearer lab secret); answers with RS probe state",
)
async def rs_events(
    request: Request, authorization: Annotated[str | None, Header(max_length=4000)] = None
) -> JSONResponse:
    lab = request.app.state.lab
    refuse_unless_lab_secret(lab, authorization)
    refuse_unless_json(request)
    batch = parse_batch(await request.body())
    accepted = ingest(lab, batch)
    rs_probes = await anyio.to_thread.run_sync(probe_answer, lab, batch)
    return JSONResponse({"accepted": accepted, "rs_probes": rs_probes}, headers=NO_STORE)


def engine_of(request: Request):
    """The engine, once every event queued so far is written (reads see what just happened)."""
    request.app.state.lab.writer.flush()
    return request.app.state.engine


def unknown_client(client_id: str) -> UnknownClient:
    return UnknownClient(f"the lab has seen no client with client_id {client_id[:200]!r}")


@router.get("/clients", summary="Every client the lab has seen, ordered by first seen")
def clients(request: Request) -> JSONResponse:
    return JSONResponse(views.list_clients(engine_of(request)), headers=NO_STORE)


@router.get(
    "/clients/{client_id:path}/report", responses=errors(404), summary="A client's report card"
)
def report(request: Request, client_id: str) -> JSONResponse:
    body = views.client_report(engine_of(request), client_id)
    if body is None:
        raise unknown_client(client_id)
    return JSONResponse(body, headers=NO_STORE)


@router.get(
    "/clients/{client_id:path}/events",
    responses=errors(400, 404),
    summary="A client's events in time order (after=<event id>: only newer ones, for polling)",
)
def events(
    request: Request,
    client_id: str,
    after: Annotated[int | None, Query(ge=0, le=MAX_EVENT_ID)] = None,
) -> JSONResponse:
    return JSONResponse(views.client_events(engine_of(request), client_id, after), headers=NO_STORE)


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    probe: str = Field(max_length=60)
    client_id: str | None = Field(default=None, max_length=CLIENT_ID_LENGTH)
    once: bool = True


@router.get("/probes", summary="Active probes")
def probes(request: Request) -> JSONResponse:
    return JSONResponse(views.active_probes(engine_of(request)), headers=NO_STORE)


@router.post(
    "/probes",
    status_code=201,
    responses=errors(400, 403, 404, 413, 415),
    summary="Fire a probe (JSON body; same-origin only)",
)
async def fire(request: Request) -> JSONResponse:
    refuse_foreign_origin(request)
    refuse_unless_json(request)
    raw = await request.body()
    try:
        body = ProbeRequest.model_validate_json(raw)
    except ValidationError as error:
        raise malformed(error) from None
    probe = views.fire_probe(engine_of(request), body.probe, body.client_id, body.once)
    return JSONResponse(probe, status_code=201, headers=NO_STORE)


@router.delete(
    "/probes/{probe_id}",
    responses=errors(400, 403, 415),
    summary="Clear a probe (same-origin only)",
)
def clear(request: Request, probe_id: str) -> JSONResponse:
    refuse_foreign_origin(request)
    refuse_unless_json(request)
    if not views.clear_probe(engine_of(request), probe_id):
        raise UnknownProbe(f"no active probe with id {probe_id[:60]!r}")
    return JSONResponse({"cleared": probe_id}, headers=NO_STORE)


async def lab_error_response(_request: Request, exc: Exception) -> JSONResponse:
    """The one place the lab's errors become answers: ``{"error", "error_description"}`` with
    the error's status (and its challenge, for a wrong lab secret)."""
    assert isinstance(exc, LabError)
    headers = dict(NO_STORE)
    if exc.www_authenticate:
        headers["WWW-Authenticate"] = exc.www_authenticate
    return JSONResponse(
        {"error": exc.error, "error_description": str(exc)},
        status_code=exc.status_code,
        headers=headers,
    )
