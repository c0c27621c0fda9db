"""``scoped-tools-server``: run the MCP resource server (typer + uvicorn).

Every ``Settings`` field is a flag with its ``SCOPED_TOOLS_*`` environment variable; a flag left
out falls back to the environment, then to the default in ``settings.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.panel import Panel

from scoped_tools_server.access_log import install_access_log_filter
from scoped_tools_server.app import GATE_DISABLED_WARNING, create_app
from scoped_tools_server.settings import ChallengeScope, Settings, TokenCheck

console = Console(stderr=True)
app = typer.Typer(add_completion=False, help=__doc__)


def _env(field: str) -> str:
    return f"SCOPED_TOOLS_{field.upper()}"


def _help(field: str) -> str:
    return Settings.model_fields[field].description or ""


def _default(field: str) -> Any:
    return Settings.model_fields[field].get_default(call_default_factory=True)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(envvar=_env("host"), help=_help("host"), show_default="127.0.0.1")
    ] = None,
    port: Annotated[
        int | None, typer.Option(envvar=_env("port"), help=_help("port"), show_default="8000")
    ] = None,
    resource_url: Annotated[
        str | None,
        typer.Option(
            envvar=_env("resource_url"),
            help=_help("resource_url"),
            show_default=_default("resource_url"),
        ),
    ] = None,
    auth_server: Annotated[
        str | None,
        typer.Option(
            envvar=_env("auth_server"),
            help=_help("auth_server"),
            show_default=_default("auth_server"),
        ),
    ] = None,
    auth_server_internal_url: Annotated[
        str | None,
        typer.Option(
            envvar=_env("auth_server_internal_url"), help=_help("auth_server_internal_url")
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar=_env("database_url"),
            help=_help("database_url"),
            show_default=_default("database_url"),
        ),
    ] = None,
    challenge_scope: Annotated[
        ChallengeScope | None,
        typer.Option(
            envvar=_env("challenge_scope"), help=_help("challenge_scope"), show_default="operation"
        ),
    ] = None,
    token_check: Annotated[
        TokenCheck | None,
        typer.Option(envvar=_env("token_check"), help=_help("token_check"), show_default="jwt"),
    ] = None,
    introspection_secret: Annotated[
        str | None,
        typer.Option(envvar=_env("introspection_secret"), help=_help("introspection_secret")),
    ] = None,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            envvar=_env("max_body_bytes"),
            help=_help("max_body_bytes"),
            show_default=str(_default("max_body_bytes")),
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            envvar=_env("allowed_hosts"),
            help=_help("allowed_hosts") + " Repeatable.",
        ),
    ] = None,
    allowed_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-origin",
            envvar=_env("allowed_origins"),
            help=_help("allowed_origins") + " Repeatable.",
        ),
    ] = None,
    clock_leeway_seconds: Annotated[
        int | None,
        typer.Option(
            envvar=_env("clock_leeway_seconds"),
            help=_help("clock_leeway_seconds"),
            show_default="30",
        ),
    ] = None,
    jwks_min_refetch_seconds: Annotated[
        float | None,
        typer.Option(
            envvar=_env("jwks_min_refetch_seconds"),
            help=_help("jwks_min_refetch_seconds"),
            show_default="30",
        ),
    ] = None,
    gate_enabled: Annotated[
        bool | None,
        typer.Option(
            "--gate-enabled/--no-gate",
            envvar=_env("gate_enabled"),
            help=_help("gate_enabled"),
            show_default="enabled",
        ),
    ] = None,
) -> None:
    """Serve the scoped-tools MCP resource server."""
    given = {
        "host": host,
        "port": port,
        "resource_url": resource_url,
        "auth_server": auth_server,
        "auth_server_internal_url": auth_server_internal_url,
        "database_url": database_url,
        "challenge_scope": challenge_scope,
        "token_check": token_check,
        "introspection_secret": introspection_secret,
        "max_body_bytes": max_body_bytes,
        "allowed_hosts": allowed_host or None,
        "allowed_origins": allowed_origin or None,
        "clock_leeway_seconds": clock_leeway_seconds,
        "jwks_min_refetch_seconds": jwks_min_refetch_seconds,
        "gate_enabled": gate_enabled,
    }
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        console.print(f"[red]Invalid settings:[/red]\n{exc}")
        raise typer.Exit(2) from exc
    if not settings.gate_enabled:
        console.print(Panel(GATE_DISABLED_WARNING, title="WARNING", style="bold red"))
    console.print(
        f"MCP endpoint [bold]{settings.resource_url}[/bold] (listening on "
        f"{settings.host}:{settings.port}); authorization server {settings.auth_server}; "
        f"PRM {settings.resource_metadata_url}"
    )
    install_access_log_filter()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, lifespan="on")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
