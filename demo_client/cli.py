"""`demo-client`: the step-up story, a one-tool caller, and the conformance-suite entry.

Every option has an environment variable `DEMO_CLIENT_<OPTION>` (shown in `--help`).
"""

from __future__ import annotations

import gc
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from demo_client import settings as s

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="The MCP step-up story client: watch a client earn scopes round by round.",
)

ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--server-url",
        envvar=s.env("server_url"),
        help="MCP endpoint of running servers (e.g. docker compose). Without it the story "
        "starts demo_as (in a child process) and scoped_tools_server (in its own) on free "
        "loopback ports.",
    ),
]
MaxRetries = Annotated[
    int,
    typer.Option(
        "--max-step-up-retries",
        min=0,
        envvar=s.env("max_step_up_retries"),
        help="Step-up authorizations allowed per request before InsufficientScopeError "
        "(0 behaves like --on-insufficient-scope throw).",
    ),
]


class OnInsufficientScope(StrEnum):
    reauthorize = "reauthorize"
    throw = "throw"


OnInsufficient = Annotated[
    OnInsufficientScope,
    typer.Option(
        "--on-insufficient-scope",
        envvar=s.env("on_insufficient_scope"),
        help="reauthorize: step up on 403 insufficient_scope; throw: raise InsufficientScopeError.",
    ),
]
Browser = Annotated[
    bool,
    typer.Option(
        "--browser/--headless",
        envvar=s.env("browser"),
        help="Log in with the system browser (a listener on 127.0.0.1 catches the callback) "
        "instead of the headless agent that fills in the AS's forms.",
    ),
]
CallbackPort = Annotated[
    int,
    typer.Option(
        "--callback-port",
        envvar=s.env("callback_port"),
        help="Port of the registered redirect URI http://127.0.0.1:PORT/callback.",
    ),
]
Username = Annotated[
    str,
    typer.Option(
        "--username", envvar=s.env("username"), help="Demo user the headless agent logs in as."
    ),
]
Password = Annotated[
    str,
    typer.Option("--password", envvar=s.env("password"), help="That demo user's password."),
]
BrowserTimeout = Annotated[
    float,
    typer.Option(
        "--browser-timeout",
        envvar=s.env("browser_timeout"),
        help="Seconds to wait for the browser callback.",
    ),
]


def _quiet_logs() -> None:
    # The servers' and HTTP libraries' INFO logs would drown the narration.
    logging.disable(logging.INFO)


@app.command()
def story(
    server_url: ServerUrl = None,
    json_lines: Annotated[
        bool,
        typer.Option(
            "--json", envvar=s.env("json"), help="Print one JSON object per event instead of prose."
        ),
    ] = False,
    browser: Browser = False,
    max_step_up_retries: MaxRetries = s.DEFAULT_MAX_STEP_UP_RETRIES,
    on_insufficient_scope: OnInsufficient = OnInsufficientScope.reauthorize,
    callback_port: CallbackPort = s.DEFAULT_CALLBACK_PORT,
    username: Username = s.DEFAULT_USERNAME,
    password: Password = s.DEFAULT_PASSWORD,
    browser_timeout: BrowserTimeout = s.DEFAULT_BROWSER_TIMEOUT,
    client_metadata_url: Annotated[
        str | None,
        typer.Option(
            "--client-metadata-url",
            envvar=s.env("client_metadata_url"),
            help="HTTPS URL of this client's metadata document, used as its client_id when the "
            "AS advertises client_id_metadata_document_supported (else it registers). The "
            "document must list http://127.0.0.1:PORT/callback (see docs/cimd.md).",
        ),
    ] = None,
) -> None:
    """Run the step-up story and check it: exit 0 only if every round behaved as expected.

    --max-step-up-retries and --on-insufficient-scope apply to the "partial grant" what-if round.
    """
    from demo_client.narration import Narrator

    _quiet_logs()
    narrator = Narrator(json_lines=json_lines)

    def run(url: str) -> bool:
        import anyio

        from demo_client.story import StoryOptions, run_story

        options = StoryOptions(
            server_url=url,
            browser=browser,
            browser_timeout=browser_timeout,
            callback_port=callback_port,
            username=username,
            password=password,
            max_step_up_retries=max_step_up_retries,
            on_insufficient_scope=on_insufficient_scope.value,  # type: ignore[arg-type]
            client_metadata_url=client_metadata_url,
        )
        return anyio.run(run_story, options, narrator)

    try:
        if server_url:
            ok = run(server_url)
            narrator.lab_page()  # the servers keep running: their lab shows this run
        else:
            from demo_client.embedded import EmbeddedStack, embedded_stack

            def announce(stack: EmbeddedStack) -> None:
                narrator.note(
                    f"embedded mode: starting demo_as at {stack.issuer}, "
                    f"scoped_tools_server at {stack.server_url}",
                    issuer=stack.issuer,
                    server_url=stack.server_url,
                )

            def import_the_story() -> None:
                import anyio  # noqa: F401

                import demo_client.story  # noqa: F401

            with embedded_stack(on_bound=announce, while_starting=import_the_story) as stack:
                ok = run(stack.server_url)
    except Exception as exc:  # a crash is a failed self-check, said loudly
        from rich.console import Console

        err = Console(stderr=True, highlight=False)
        err.print(f"[bold red]Story FAILED: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(0 if ok else 1)


@app.command()
def call(
    tool: Annotated[str, typer.Argument(help="Tool to call, e.g. create_note.")],
    arguments: Annotated[
        list[str] | None,
        typer.Argument(help="key=value arguments (values parsed as JSON if they can be)."),
    ] = None,
    server_url: Annotated[
        str, typer.Option("--server-url", envvar=s.env("server_url"), help="MCP endpoint to call.")
    ] = s.DEFAULT_SERVER_URL,
    consent: Annotated[
        str,
        typer.Option(
            "--consent",
            envvar=s.env("consent"),
            help="What the headless user grants: all, deny, or scopes (e.g. 'notes:read').",
        ),
    ] = "all",
    store: Annotated[
        Path,
        typer.Option(
            "--store", envvar=s.env("store"), help="File keeping the registration and tokens."
        ),
    ] = s.DEFAULT_STORE,
    browser: Browser = False,
    max_step_up_retries: MaxRetries = s.DEFAULT_MAX_STEP_UP_RETRIES,
    on_insufficient_scope: OnInsufficient = OnInsufficientScope.reauthorize,
    callback_port: CallbackPort = s.DEFAULT_CALLBACK_PORT,
    username: Username = s.DEFAULT_USERNAME,
    password: Password = s.DEFAULT_PASSWORD,
    browser_timeout: BrowserTimeout = s.DEFAULT_BROWSER_TIMEOUT,
) -> None:
    """Call one tool, stepping up as needed; registration and tokens persist in --store."""
    from demo_client.manual import CallOptions, call_tool
    from demo_client.user_agents import ConsentChoice

    _quiet_logs()
    try:
        choice = ConsentChoice.parse(consent)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--consent") from exc
    options = CallOptions(
        server_url=server_url,
        tool=tool,
        arguments=arguments or [],
        consent=choice,
        store=store,
        browser=browser,
        browser_timeout=browser_timeout,
        max_step_up_retries=max_step_up_retries,
        on_insufficient_scope=on_insufficient_scope.value,  # type: ignore[arg-type]
        callback_port=callback_port,
        username=username,
        password=password,
    )
    import anyio

    raise typer.Exit(anyio.run(call_tool, options))


@app.command()
def conformance(
    server_url: Annotated[str, typer.Argument(help="MCP server URL (the suite passes it last).")],
    callback_port: CallbackPort = s.DEFAULT_CALLBACK_PORT,
) -> None:
    """Client entry for the official MCP conformance suite (reads MCP_CONFORMANCE_SCENARIO and
    MCP_CONFORMANCE_CONTEXT)."""
    from demo_client.conformance import main as conformance_main

    raise typer.Exit(conformance_main(server_url, callback_port))


def main() -> None:
    try:
        app()
    finally:
        # The process is about to exit: without this the collector's passes during interpreter
        # shutdown walk every object the servers and the SDK created (~1 s of CPU after a story)
        # to free memory the operating system takes back anyway.
        gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
