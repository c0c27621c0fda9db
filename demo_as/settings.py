"""Configuration of the demo authorization server (pydantic-settings, env prefix ``DEMO_AS_``).

Every field is also a ``demo-as`` flag (``--field-name``; the list fields are repeatable singular
flags: ``--resource``, ``--scope``, ``--demo-user``). docs/architecture.md fixes the field names.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SCOPES = ["notes:read", "notes:write", "notes:delete", "offline_access"]
DEFAULT_RESOURCES = ["http://127.0.0.1:8000/mcp"]
DEFAULT_DEMO_USERS = ["alice:wonderland", "bob:builder"]


class IssMode(StrEnum):
    """What the ``iss`` authorization response parameter carries (RFC 9207 §2).

    ``correct`` is the only conformant mode. ``omit`` and ``wrong`` are deliberate misbehaviour for
    people testing their client's RFC 9207 §2.4 checks: the metadata keeps advertising
    ``authorization_response_iss_parameter_supported: true``, so a conforming client must refuse.
    """

    correct = "correct"
    omit = "omit"
    wrong = "wrong"


def _split_words(value: object) -> object:
    """Environment values for list fields are whitespace- or comma-separated words."""
    if isinstance(value, str):
        return [word for word in value.replace(",", " ").split() if word]
    return value


class Settings(BaseSettings):
    """All knobs of ``demo_as``; one instance is handed to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="DEMO_AS_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=0, le=65535)
    issuer: str = "http://127.0.0.1:9000"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    resources: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [*DEFAULT_RESOURCES])
    auto_approve: bool = False
    loopback_any_port: bool = False
    access_token_ttl: int = Field(default=300, ge=1)
    refresh_token_ttl: int = Field(default=86400, ge=1)
    code_ttl: int = Field(default=60, ge=1)
    scopes: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [*DEFAULT_SCOPES])
    demo_users: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [*DEFAULT_DEMO_USERS]
    )
    introspection_secret: str | None = None
    iss_mode: IssMode = IssMode.correct
    max_body_bytes: int = Field(default=65536, ge=1024)

    _split = field_validator("resources", "scopes", "demo_users", mode="before")(_split_words)

    @field_validator("issuer")
    @classmethod
    def _issuer_has_no_query_or_fragment(cls, value: str) -> str:
        """RFC 8414 §2: the issuer is a URL with no query or fragment component."""
        if "?" in value or "#" in value or "://" not in value:
            raise ValueError("issuer must be an absolute URL without query or fragment")
        return value

    @field_validator("demo_users")
    @classmethod
    def _users_are_name_password_pairs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one demo user is needed")
        for entry in value:
            name, sep, password = entry.partition(":")
            if not sep or not name or not password:
                raise ValueError(f"demo user {entry!r} must look like name:password")
        return value

    @model_validator(mode="after")
    def _need_resources_and_scopes(self) -> Settings:
        if not self.resources:
            raise ValueError("at least one --resource is needed")
        if not self.scopes:
            raise ValueError("at least one --scope is needed")
        return self

    @property
    def effective_database_url(self) -> str:
        """``database_url`` if given, else a SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'demo_as.db'}"

    @property
    def users(self) -> dict[str, str]:
        """Demo users as ``{name: password}``, in the configured order."""
        return dict(entry.partition(":")[::2] for entry in self.demo_users)
