"""ASGI middleware: request body size limit and security headers on every response."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demo_as.errors import InvalidRequest

SECURITY_HEADERS = [
    # OAuth 2.1 draft-13 §7.10 / RFC 6749 §10.13: the AS MUST prevent clickjacking.
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

SECURITY_NAMES = frozenset(name for name, _value in SECURITY_HEADERS)

# The lab pages (and only they) run one script, served by this AS, that polls the lab's JSON API
# for new steps: same-origin scripts and fetches, nothing inline, nothing from elsewhere.
LAB_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. It is an HTTPException so
    FastAPI's body parsing re-raises it and errors.py answers 413 in OAuth JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


def too_large_body(limit: int) -> bytes:
    return (
        InvalidRequest(f"request body larger than {limit} bytes").body().model_dump_json().encode()
    )


# How much of a refused body is read and thrown away before the 413 is sent (see BodySizeLimit).
DRAIN_LIMIT_BYTES = 1024 * 1024


class BodySizeLimit:
    """Refuse bodies over ``limit`` bytes with 413 in the OAuth error format.

    Checks ``Content-Length`` up front and counts streamed chunks too (chunked uploads have no
    length), so a huge body is never buffered by the form or JSON parsers.

    Before answering, the rest of the body is read and discarded (``drain``, at most
    ``DRAIN_LIMIT_BYTES``): closing a connection whose request was not read makes the kernel
    reset it (RFC 9112 §9.6), and a client still sending then sees "connection reset" instead of
    the 413 that says what was wrong. A body larger than that is cut off.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    await drain(receive, DRAIN_LIMIT_BYTES)
                    await self.refuse(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await drain(receive, DRAIN_LIMIT_BYTES)
                await self.refuse(send)

    async def refuse(self, send: Send) -> None:
        body = too_large_body(self.limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    (b"connection", b"close"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def drain(receive: Receive, limit: int) -> None:
    """Read and discard the request body until it ends, the client leaves, or ``limit`` bytes."""
    drained = 0
    while drained <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class SecurityHeaders:
    """Adds ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` (and friends) to every
    response, HTML or not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                own = [name.lower() for name, _ in headers if name.lower() in SECURITY_NAMES]
                extra = (
                    [(n, v) for n, v in SECURITY_HEADERS if n not in own]
                    if own
                    else SECURITY_HEADERS
                )
                message = {**message, "headers": [*headers, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
