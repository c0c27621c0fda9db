"""The options table of docs/client.md, generated from the `demo-client` commands themselves.

Each option is declared once (flag, environment variable and help in `cli.py`, default in
`settings.py`); this walks the commands typer builds from them, so the documented table cannot
disagree with `--help` (tests/client/test_cli_options.py compares the two).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer.main

from demo_client.cli import app

# The conformance entry (`demo-client conformance URL`) is run by the suite, not by people; its
# one option is in the table through `story` and `call`.
DOCUMENTED_COMMANDS = ("story", "call")


def default_text(param: Any) -> str:
    """How a default reads in the table: ``unset``, ``on``/``off``, the chosen flag of a pair."""
    value = param.default
    if value is None:
        return "unset"
    if param.is_flag and param.secondary_opts:
        return (param.opts if value else param.secondary_opts)[0].lstrip("-")
    if param.is_flag:
        return "on" if value else "off"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{value}`" if isinstance(value, str) else str(value)


def flag_text(param: Any) -> str:
    return "/".join([*param.opts, *param.secondary_opts])


def options_markdown() -> str:
    """One row per option, in the order of first appearance; an option only some commands take
    names them, and a default that differs between commands is given per command."""
    group: Any = typer.main.get_command(app)
    rows: dict[str, dict[str, Any]] = {}
    takers = [name for name in DOCUMENTED_COMMANDS if _options(group.commands[name])]
    for name in takers:
        for param in _options(group.commands[name]):
            row = rows.setdefault(
                flag_text(param), {"env": param.envvar, "help": param.help, "defaults": {}}
            )
            row["defaults"][name] = default_text(param)
    lines = ["| option | env var | default | meaning |", "|---|---|---|---|"]
    for flag, row in rows.items():
        commands = list(row["defaults"])
        where = "" if len(commands) == len(takers) else f" ({', '.join(commands)})"
        defaults = set(row["defaults"].values())
        default = (
            defaults.pop()
            if len(defaults) == 1
            else "; ".join(f"{c}: {d}" for c, d in row["defaults"].items())
        )
        lines.append(f"| `{flag}`{where} | `{row['env']}` | {default} | {row['help']} |")
    return "\n".join(lines) + "\n"


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option"]
