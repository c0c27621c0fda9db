"""``demo-as``: run the demo authorization server with uvicorn.

Every ``Settings`` field is a flag with a ``DEMO_AS_*`` environment variable (shown in ``--help``),
derived from demo_as/settings.py by demo_as/settings_cli.py. List flags repeat
(``--resource A --resource B``); their environment variables take comma- or space-separated values.
"""

from __future__ import annotations

from typing import Any

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from demo_as.access_log import (
    install_access_log_filter,
    install_server_log,
    skip_unused_record_fields,
    uvicorn_log_config,
)
from demo_as.settings import Settings
from demo_as.settings_cli import settings_command

app = typer.Typer(add_completion=False, rich_markup_mode=None, help=__doc__)
console = Console(stderr=True)


def serve(values: dict[str, Any]) -> None:
    """Serve the demo OAuth 2.1 authorization server."""
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
        f"{'on' if settings.loopback_any_port else 'off'}, iss-mode {settings.iss_mode.value}, "
        f"cimd-allowed-host {' '.join(settings.cimd_allowed_hosts) or 'none'}, "
        f"lab {'on at /lab' if settings.lab else 'off'})"
    )
    install_access_log_filter()
    install_server_log()
    skip_unused_record_fields()
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=uvicorn_log_config(),
        # The client address is the TCP peer's: uvicorn would otherwise take it from an
        # X-Forwarded-For header sent from 127.0.0.1, and every caller here is on loopback, so
        # each could name a new source and pass the per-source registration rate (RFC 7591 §3,
        # registration_bounds.py). Behind the workshop's TLS proxy every request counts as the
        # proxy's (docs/security-model.md).
        proxy_headers=False,
    )


app.command("serve")(settings_command(Settings, serve))


def main() -> None:
    app()
