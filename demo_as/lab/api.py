"""The lab's JSON API under ``/lab/api`` (DESIGN.md "The lab"; COORDINATION.md contracts).

Reading is open (the lab shows only fingerprints, never secrets). Changing something (POST/DELETE
of probes) requires ``Content-Type: application/json`` and refuses a foreign ``Origin``, so a web
page cannot forge it (a cross-site form cannot send JSON; a cross-site fetch of JSON needs a CORS
preflight this server never grants). Nothing here issues a token or changes a grant, except the
``revoke-grant`` probe. The RS reports to ``POST /lab/api/rs-events`` with the lab secret.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from demo_as.errors import NO_STORE
from demo_as.lab.ingest import ingest, parse_batch, refuse_unless_lab_secret
from demo_as.lab.request_guard import refuse_unless_json

router = APIRouter(prefix="/lab/api", tags=["lab"])


@router.post(
    "/rs-events",
    summary="The RS's batched journal report (Bearer lab secret); answers with RS probe state",
)
async def rs_events(
    request: Request, authorization: Annotated[str | None, Header(max_length=4000)] = None
) -> JSONResponse:
    lab = request.app.state.lab
    refuse_unless_lab_secret(lab, authorization)
    refuse_unless_json(request)
    batch = parse_batch(await request.body())
    answer, _touched = ingest(lab, batch)
    return JSONResponse(answer, headers=NO_STORE)


async def lab_error_response(_request: Request, exc: Exception) -> JSONResponse:
    """The lab's errors as ``{"error", "error_description"}`` (404 unknown client, 400 unknown
    probe)."""
    status = getattr(exc, "status_code", 400)
    error = getattr(exc, "error", "invalid_request")
    return JSONResponse(
        {"error": error, "error_description": str(exc)}, status_code=status, headers=NO_STORE
    )
