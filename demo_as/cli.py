"""``demo-as``: run the demo authorization server with uvicorn.

Every Settings field is a flag with a ``DEMO_AS_*`` environment variable (shown in ``--help``).
List flags repeat (``--resource A --resource B``); their environment variables take
space-separated values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from demo_as.access_log import install_access_log_filter
from demo_as.settings import (
    DEFAULT_DEMO_USERS,
    DEFAULT_RESOURCES,
    DEFAULT_SCOPES,
    IssMode,
    Settings,
)

app = typer.Typer(add_completion=False, help=__doc__)
console = Console(stderr=True)


def opt(env: str, help_text: str, **kwargs):
    return typer.Option(envvar=f"DEMO_AS_{env}", help=help_text, show_envvar=True, **kwargs)


@app.command()
def serve(
    host: Annotated[str, opt("HOST", "Interface to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, opt("PORT", "TCP port.")] = 9000,
    issuer: Annotated[
        str, opt("ISSUER", "Issuer identifier, used byte for byte in metadata, iss and tokens.")
    ] = "http://127.0.0.1:9000",
    data_dir: Annotated[Path, opt("DATA_DIR", "Directory of the default SQLite database.")] = Path(
        "./data"
    ),
    database_url: Annotated[
        str | None,
        opt("DATABASE_URL", "SQLAlchemy URL (default: sqlite:///DATA_DIR/demo_as.db)."),
    ] = None,
    resource: Annotated[
        list[str] | None,
        opt(
            "RESOURCES",
            f"Resource the AS issues tokens for (repeatable; default: "
            f"{' '.join(DEFAULT_RESOURCES)}).",
        ),
    ] = None,
    auto_approve: Annotated[
        bool, opt("AUTO_APPROVE", "Skip login and consent (first demo user, all scopes asked).")
    ] = False,
    loopback_any_port: Annotated[
        bool,
        opt("LOOPBACK_ANY_PORT", "RFC 8252 §7.3: ignore the port of loopback http redirect URIs."),
    ] = False,
    access_token_ttl: Annotated[int, opt("ACCESS_TOKEN_TTL", "Access token lifetime, s.")] = 300,
    refresh_token_ttl: Annotated[
        int, opt("REFRESH_TOKEN_TTL", "Refresh token lifetime, s.")
    ] = 86400,
    code_ttl: Annotated[int, opt("CODE_TTL", "Authorization code lifetime, s.")] = 60,
    scope: Annotated[
        list[str] | None,
        opt("SCOPES", f"Supported scope (repeatable; default: {' '.join(DEFAULT_SCOPES)})."),
    ] = None,
    demo_user: Annotated[
        list[str] | None,
        opt(
            "DEMO_USERS",
            f"Demo user name:password (repeatable; default: {' '.join(DEFAULT_DEMO_USERS)}).",
        ),
    ] = None,
    introspection_secret: Annotated[
        str | None,
        opt(
            "INTROSPECTION_SECRET",
            "Bearer secret resource servers use at /introspect "
            "(unset: /introspect refuses everyone).",
        ),
    ] = None,
    iss_mode: Annotated[
        IssMode,
        opt(
            "ISS_MODE",
            "RFC 9207 iss in authorization responses: correct, or omit/wrong to "
            "test clients' checks (metadata still advertises support).",
        ),
    ] = IssMode.correct,
    max_body_bytes: Annotated[
        int, opt("MAX_BODY_BYTES", "Largest accepted request body (413 beyond).")
    ] = 65536,
) -> None:
    """Serve the demo OAuth 2.1 authorization server."""
    values = {
        "host": host,
        "port": port,
        "issuer": issuer,
        "data_dir": data_dir,
        "database_url": database_url,
        "auto_approve": auto_approve,
        "loopback_any_port": loopback_any_port,
        "access_token_ttl": access_token_ttl,
        "refresh_token_ttl": refresh_token_ttl,
        "code_ttl": code_ttl,
        "introspection_secret": introspection_secret,
        "iss_mode": iss_mode,
        "max_body_bytes": max_body_bytes,
        "resources": resource or DEFAULT_RESOURCES,
        "scopes": scope or DEFAULT_SCOPES,
        "demo_users": demo_user or DEFAULT_DEMO_USERS,
    }
    try:
        settings = Settings(**values)
    except ValidationError as error:
        console.print(f"[red]invalid settings:[/red] {error}")
        raise typer.Exit(2) from None

    from demo_as.app import create_app

    application = create_app(settings)
    console.print(
        f"demo_as issuer [bold]{settings.issuer}[/bold] on http://{settings.host}:{settings.port}"
        f" (auto-approve {'on' if settings.auto_approve else 'off'}, loopback-any-port "
        f"{'on' if settings.loopback_any_port else 'off'}, iss-mode {settings.iss_mode.value})"
    )
    install_access_log_filter()
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="info")


def main() -> None:
    app()
