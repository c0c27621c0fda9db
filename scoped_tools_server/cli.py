"""``scoped-tools-server``: run the MCP resource server (typer + uvicorn).

Every ``Settings`` field is a flag with its ``SCOPED_TOOLS_*`` environment variable, derived from
settings.py by settings_cli.py; a flag left out falls back to the environment, then to the default
in ``settings.py``.
"""

from __future__ import annotations

from typing import Any

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.panel import Panel

from scoped_tools_server.access_log import install_access_log_filter, install_server_log
from scoped_tools_server.app import GATE_DISABLED_WARNING, create_app
from scoped_tools_server.settings import Settings
from scoped_tools_server.settings_cli import settings_command

console = Console(stderr=True)
app = typer.Typer(add_completion=False, rich_markup_mode=None, help=__doc__)


def serve(given: dict[str, Any]) -> None:
    """Serve the scoped-tools MCP resource server."""
    try:
        settings = Settings(**given)
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
    install_server_log()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, lifespan="on")


app.command("serve")(settings_command(Settings, serve))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
