"""``GET /authorize`` as a plain Starlette route (the user-facing validation and answers are
authorization.py's ``authorization_request``).

FastAPI's dependency solving and its thread-pool hop cost more than validating the request
(bench/profiling.md §4c). This route does what the FastAPI route did, rule by rule: the declared
query parameters' length limits on the last value of each (``QUERY_LIMITS``, as declared on the
FastAPI route, which stays for ``/openapi.json`` only); a malformed request or a refused client
ID metadata document is an HTML page, never a redirect (OAuth 2.1 draft-13 §4.1.2.1, as
errors.PageErrorRoute mapped them); GET only (no HEAD, as before). With SQLite it runs in the
event loop when it may (loop_writes.py), else in the thread pool.
"""

from __future__ import annotations

from typing import get_type_hints

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from demo_as import authorization
from demo_as.authorization import authorization_request
from demo_as.cimd_clients import looks_like_client_id_url
from demo_as.client_metadata_documents import ClientMetadataDocumentError
from demo_as.errors import document_page, malformed_page
from demo_as.loop_writes import lab_probes_active, loop_connection, run_writing
from demo_as.store import connection_store


def declared_limits() -> dict[str, int]:
    """The FastAPI route's declared query parameters and their ``max_length``, in declaration
    order (FastAPI checked them in it): read from its signature, so the two cannot differ."""
    hints = get_type_hints(authorization.authorize, include_extras=True)
    return {
        name: constraint.max_length
        for name, hint in hints.items()
        if hasattr(hint, "__metadata__")
        for constraint in hint.__metadata__[0].metadata
        if getattr(constraint, "max_length", None) is not None
    }


QUERY_LIMITS = declared_limits()


async def authorize_endpoint(request: Request) -> Response:
    """``GET /authorize``: the length limits, then the request on the loop or in the pool."""
    query = request.query_params
    if problems := over_limit(query):
        # As the FastAPI route answered: a page, never a redirect (OAuth 2.1 §4.1.2.1).
        raise malformed_page(
            "Request parameters must be single strings of the expected form.", problems
        )
    client_id = query.get("client_id")
    eligible = not (
        looks_like_client_id_url(client_id)  # its document may be fetched
        or request.app.state.periodic_purge.due()
        or lab_probes_active(request)
    )
    try:
        return await run_writing(request, eligible, authorize_now, client_id)
    except ClientMetadataDocumentError as exc:
        raise document_page(exc) from None


def over_limit(query: QueryParams) -> str:
    """FastAPI's checks of the declared parameters (the last value of a repeated one), worded
    as errors.describe_validation_error words them; empty when all are within their limits."""
    problems = [
        f"query.{name}: String should have at most {limit} characters"
        for name, limit in QUERY_LIMITS.items()
        if len(query.get(name) or "") > limit
    ]
    return "; ".join(problems[:5])


def authorize_now(request: Request, client_id: str | None) -> Response:
    # The parameters are read from the query as sent (``items``). One Core connection serves
    # the request (store.py). The purge writes through its own connection: never inside a
    # transaction on the event loop (the next request in the pool runs it).
    if loop_connection(request) is None:
        request.app.state.periodic_purge.maybe_run()  # codes made here, e.g. by auto-approve
    with connection_store(request) as store:
        return authorization_request(request, store, client_id)


ROUTE = Route("/authorize", authorize_endpoint, methods=["GET"], name="authorize")
ROUTE.methods = {"GET"}  # as the FastAPI route: Starlette would also answer HEAD
