"""Derive ``scoped-tools-server``'s options and its documented options table from ``Settings``.

The settings model is the one home of each option's name, default and help text; this module only
reads ``Settings.model_fields``. Naming rules:

- a field ``field_name`` is the flag ``--field-name``, its environment variable
  ``SCOPED_TOOLS_FIELD_NAME``;
- a list field is a repeatable singular flag (``allowed_hosts`` → ``--allowed-host``); in the
  environment it takes comma- or space-separated values;
- a bool field is a ``--name/--no-name`` pair;
- a field may name its flags itself: ``Field(..., json_schema_extra={"cli_flags": "--a/--b"})``.

Flags left out are not passed to ``Settings`` at all, so pydantic-settings falls back to the
environment and then to the model's default: the CLI cannot disagree with the model.
"""

from __future__ import annotations

import inspect
import types
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import typer
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings


def _without_none(annotation: Any) -> Any:
    """``X | None`` → ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _is_list(annotation: Any) -> bool:
    return get_origin(_without_none(annotation)) is list


def flag_name(name: str, field: FieldInfo) -> str:
    """The option's long flag (a list field's flag is its singular)."""
    if _is_list(field.annotation) and name.endswith("s"):
        name = name[:-1]
    return "--" + name.replace("_", "-")


def env_name(model: type[BaseSettings], name: str) -> str:
    return f"{model.model_config.get('env_prefix', '')}{name.upper()}"


def default_text(field: FieldInfo) -> str:
    """The default as a reader types it; ``unset`` for None."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return " ".join(str(item) for item in value) or "none"
    return str(value)


def _option_type(field: FieldInfo) -> Any:
    base = _without_none(field.annotation)
    if get_origin(base) is list:
        return list[str] | None
    if isinstance(base, type) and issubclass(base, (Enum, Path, bool, int, float)):
        return base | None
    return str | None


def _metavar(field: FieldInfo) -> str | None:
    base = _without_none(field.annotation)
    if get_origin(base) is list or base is str:
        return "TEXT"
    if isinstance(base, type) and issubclass(base, Enum):
        return "|".join(str(member.value) for member in base)
    if base is Path:
        return "PATH"
    if base in (int, float):
        return "N"
    return None


def help_text(model: type[BaseSettings], name: str, field: FieldInfo) -> str:
    """The description, then (repeatable,) default and environment variable."""
    repeat = " Repeatable." if _is_list(field.annotation) else ""
    return (
        f"{field.description or ''}{repeat} "
        f"[default: {default_text(field)}; env: {env_name(model, name)}]"
    )


def flag_declaration(name: str, field: FieldInfo) -> str:
    """The flag as typer declares it (``--name/--no-name`` for a bool)."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "cli_flags" in extra:
        return str(extra["cli_flags"])
    flag = flag_name(name, field)
    return f"{flag}/--no-{flag[2:]}" if _without_none(field.annotation) is bool else flag


def _parameter(model: type[BaseSettings], name: str, field: FieldInfo) -> inspect.Parameter:
    decl = flag_declaration(name, field)
    option = typer.Option(
        decl, help=help_text(model, name, field), show_default=False, metavar=_metavar(field)
    )
    annotation = Annotated[_option_type(field), option]
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
    )


def settings_command(model: type[BaseSettings], run: Any) -> Any:
    """A typer command whose options are ``model``'s fields; it calls ``run(given)`` with the
    options given on the command line (the rest come from the environment or the defaults)."""
    parameters = [_parameter(model, name, field) for name, field in model.model_fields.items()]

    def command(**given: Any) -> None:
        run({name: value for name, value in given.items() if value not in (None, [])})

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = run.__doc__
    command.__name__ = run.__name__
    return command


def options_markdown(model: type[BaseSettings]) -> str:
    """The options table of the docs, one row per field, generated from the model."""
    rows = ["| flag | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        flag = flag_declaration(name, field)
        description = (field.description or "").replace("|", "\\|")
        if _is_list(field.annotation):
            description += " Repeatable."
        rows.append(
            f"| `{flag}` | `{env_name(model, name)}` | `{default_text(field)}` | {description} |"
        )
    return "\n".join(rows) + "\n"
