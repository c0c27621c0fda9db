"""The form endpoints (``/token``, ``/introspect``, ``/revoke``), ``POST /register`` and
``GET /authorize`` served past FastAPI's own layers.

Every request to a FastAPI app passes through its middleware stack: Starlette's
``ServerErrorMiddleware``, FastAPI's telemetry and body-limit layers, the app's own middleware
(``BodySizeLimit``, ``SecurityHeaders``), ``ExceptionMiddleware``, FastAPI's
``AsyncExitStackMiddleware`` (it closes uploaded files of FastAPI routes), and the router, which
tries the routes in order. For ``/introspect``, with its signature remembered, those layers cost
about as much CPU as the introspection itself (bench/profiling.md §4b); for registration and
authorization, 5-30 µs of CPU each (§12).

``FormLane`` is the outermost ASGI app: a request with the method and path of one of these
routes goes to a stack of its own, built from the same pieces minus FastAPI's three (telemetry
is not configured here, no body limit is set on FastAPI, and these routes are plain Starlette
routes that read no uploads): ``ServerErrorMiddleware`` with the app's 500 handler, the app's
middleware in the same order, ``ExceptionMiddleware`` with the app's exception handlers
(errors.py: the one place errors become responses), and the route. Everything else, other
methods on these paths included (405 as before), goes through the app's stack unchanged. A
request under a ``root_path`` (served behind a path prefix) takes the usual way too, so routing
stays the router's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send


class FormLane:
    """``<method> <path>`` of a lane's route to its own short stack; anything else to
    ``stack``."""

    def __init__(self, app: Starlette, stack: ASGIApp, routes: list[Route]) -> None:
        self.stack = stack
        self.lanes = {
            (method, route.path): _short_stack(app, _routed(app, route))
            for route in routes
            for method in route.methods or ()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            lane = self.lanes.get((scope["method"], scope["path"]))
            if lane is not None:
                await lane(scope, receive, send)
                return
        await self.stack(scope, receive, send)


def _routed(app: Starlette, route: Route) -> ASGIApp:
    """What the router does once ``route`` matched: the scope keys it sets, then the route."""

    if route.param_convertors or not route.methods:
        raise ValueError(f"{route.path}: only a route without path parameters takes a lane")

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        # Route.matches for this exact path and method: no parameters, a full match.
        scope.setdefault("router", app.router)
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        await route.handle(scope, receive, send)

    return routed


def _short_stack(app: Starlette, inner: ASGIApp) -> ASGIApp:
    """Starlette's own stack around ``inner``, with ``app``'s handlers and middleware."""
    error_handler: Callable[..., Any] | None = None
    handlers: dict[Any, Callable[..., Any]] = {}
    for key, value in app.exception_handlers.items():
        if key in (500, Exception):
            error_handler = value
        else:
            handlers[key] = value
    stack: ASGIApp = ExceptionMiddleware(inner, handlers=handlers, debug=app.debug)
    for cls, args, kwargs in reversed(app.user_middleware):
        stack = cls(stack, *args, **kwargs)
    return ServerErrorMiddleware(stack, handler=error_handler, debug=app.debug)
