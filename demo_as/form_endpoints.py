"""The form endpoints (``/token``, ``/introspect``, ``/revoke``) as plain Starlette routes.

They are the AS's hot paths: every token a client gets and every introspection a resource server
asks for. As FastAPI routes most of their CPU went to the framework, not to OAuth: per request
FastAPI solved the dependencies and re-inspected every form parameter's annotation, and the route
plus two of its dependencies ran in the thread pool (four hops). bench/profiling.md §4 has the
profiles and the figures. Here each endpoint is one sync function, ``handler(request, form)``,
run in the thread pool once (it does database work, which blocks); the form is read here. An
endpoint that only reads (``reads_only``: /introspect) runs in the event loop itself when the
database is SQLite, whose reads never wait (db.create_event_loop_reader): on this machine a
thread-pool hop cost more CPU than the whole introspection.

What FastAPI's form handling did, and what ``read_form`` does instead, rule by rule:

* RFC 6749 §4.1.3 / §6, RFC 7009 §2.1, RFC 7662 §2.1: the parameters come in an
  ``application/x-www-form-urlencoded`` body (a ``multipart/form-data`` body is read too, as
  before; any other body carries no parameters, so the handler says which one is missing).
* OAuth 2.1 draft-13 §3.1 and §3.2: a parameter sent more than once is ``invalid_request``
  (``parameters.py``; any of the three endpoints' parameters, at each of them).
* Each parameter, and the ``Authorization`` header, has a length limit: longer is
  ``invalid_request`` (RFC 6749 §5.2) naming the parameter, as FastAPI's validation said it.
* An empty value counts as absent, as FastAPI's ``Form(None)`` treated it.

Errors the handler raises go to errors.py's handlers, as from any route: the one place errors
become responses. ``/openapi.json`` still describes these endpoints: ``documented_route`` builds
the FastAPI route the same declaration would have been, for the document only (``app.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Form, Header
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from demo_as.errors import InvalidRequest, OAuthErrorBody
from demo_as.loop_writes import run_writing
from demo_as.parameters import TOKEN_ENDPOINT_PARAMETERS, repeated_parameters

AUTHORIZATION_HEADER_LENGTH = 4000
# What each form endpoint documents besides its success: RFC 6749 §5.2 error bodies.
FORM_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorBody},
    401: {"model": OAuthErrorBody},
    413: {"model": OAuthErrorBody},
}


@dataclass(frozen=True)
class FormParameters:
    """The declared parameters of one request (None when absent or empty), and its
    ``Authorization`` header."""

    values: dict[str, str | None]
    authorization: str | None

    def __getitem__(self, name: str) -> str | None:
        return self.values[name]


FormHandler = Callable[[Request, FormParameters], Response]


@dataclass(frozen=True)
class FormEndpoint:
    """A ``POST`` endpoint taking form parameters: its path, its sync handler, each parameter's
    length limit, its OpenAPI description (``APIRoute`` keyword arguments), and whether it only
    reads the database (then the handler opens ``store.reading_store``)."""

    path: str
    handler: FormHandler
    limits: dict[str, int]
    documentation: dict[str, Any] = field(default_factory=dict)
    reads_only: bool = False
    # Set for an endpoint that writes and may run on the event loop (loop_writes.py): whether
    # this request may (nothing in it would write through a second connection).
    on_loop: Callable[[Request, FormParameters], bool] | None = None

    def route(self) -> Route:
        async def endpoint(request: Request) -> Response:
            form = await read_form(request, self.limits)
            if self.reads_only and request.app.state.event_loop_reader is not None:
                return self.handler(request, form)  # reads through store.reading_store
            if self.on_loop is not None:
                return await run_writing(request, self.on_loop(request, form), self.handler, form)
            return await run_in_threadpool(self.handler, request, form)

        return Route(self.path, endpoint, methods=["POST"], name=self.handler.__name__)

    def documented_route(self) -> APIRoute:
        """The FastAPI route this endpoint would be, for ``/openapi.json`` only (it is never
        routed: ``route`` serves the requests)."""

        def undocumented(**_parameters: str | None) -> None:
            raise RuntimeError(f"{self.path} is served by {self.handler.__qualname__}")

        parameters = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, Form(max_length=limit)],
            )
            for name, limit in self.limits.items()
        ]
        parameters.append(
            inspect.Parameter(
                "authorization",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, Header(max_length=AUTHORIZATION_HEADER_LENGTH)],
            )
        )
        undocumented.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        undocumented.__name__ = self.handler.__name__  # the operationId FastAPI derives
        return APIRoute(self.path, undocumented, methods=["POST"], **self.documentation)


async def form_items(request: Request) -> list[tuple[str, Any]]:
    """The body's parameters in order, repeats included."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        # Starlette's parser read the bytes as latin-1 and percent-decoded as UTF-8; so does this.
        return parse_qsl((await whole_body(request)).decode("latin-1"), keep_blank_values=True)
    if content_type == "multipart/form-data":
        return (await request.form()).multi_items()
    return []


async def whole_body(request: Request) -> bytes:
    """The request's body, read from the ASGI ``receive`` channel as ``Request.body`` does, without
    its async generator (a few percent of an introspection's CPU, bench/profiling.md §6); kept
    where ``Request.body`` keeps it, so a later read gets the same bytes."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await request.receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
    body = request._body = b"".join(chunks)
    return body


async def read_form(request: Request, limits: dict[str, int]) -> FormParameters:
    """The declared parameters of ``request``, checked against the rules in the module
    docstring; raises ``InvalidRequest``."""
    items = await form_items(request)
    distinct = len({name for name, _value in items}) == len(items)  # the usual case, cheaply
    if not distinct and (repeated := repeated_parameters(items, TOKEN_ENDPOINT_PARAMETERS)):
        raise InvalidRequest(f"parameter(s) sent more than once: {', '.join(repeated)}")
    values: dict[str, str | None] = dict.fromkeys(limits)
    for name, value in items:
        if name not in limits or value == "":
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"{name}: Input should be a valid string")
        values[name] = too_long_check(name, value, limits[name])
    authorization = request.headers.get("authorization") or None
    if authorization is not None:
        too_long_check("header.authorization", authorization, AUTHORIZATION_HEADER_LENGTH)
    return FormParameters(values, authorization)


def too_long_check(name: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidRequest(f"{name}: String should have at most {limit} characters")
    return value
