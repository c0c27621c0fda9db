"""Configuration of the demo authorization server (pydantic-settings, env prefix ``DEMO_AS_``).

This model is the one home of every setting's name, default and help: ``demo-as --help`` and the
options table in docs/authorization-server.md are derived from it (demo_as/cli.py). Every field is
a flag ``--field-name``; a list field is a repeatable singular flag (``resources`` →
``--resource``). docs/architecture.md fixes the field names.
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SCOPES = ["notes:read", "notes:write", "notes:delete", "offline_access"]
DEFAULT_RESOURCES = ["http://127.0.0.1:8000/mcp"]
DEFAULT_DEMO_USERS = ["alice:wonderland", "bob:builder"]


class SqliteSynchronous(StrEnum):
    """SQLite's ``PRAGMA synchronous`` (with WAL journaling; https://sqlite.org/pragma.html)."""

    normal = "normal"
    full = "full"


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

    host: str = Field(
        "127.0.0.1", description="Interface to bind (loopback only unless you change it)."
    )
    port: int = Field(9000, ge=0, le=65535, description="TCP port.")
    issuer: str = Field(
        "http://127.0.0.1:9000",
        description="Issuer identifier, used byte for byte in metadata, iss and tokens "
        "(no trailing slash).",
    )
    data_dir: Path = Field(
        Path("./data"),
        description="Where the default SQLite file lives (created 0700, its files 0600: it "
        "holds the signing key).",
    )
    database_url: str | None = Field(
        None,
        description="Any SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db (install the "
        "postgres extra). Unset: sqlite:///DATA_DIR/demo_as.db.",
    )
    sqlite_synchronous: SqliteSynchronous = Field(
        SqliteSynchronous.normal,
        description="SQLite durability: normal (WAL; no fsync per commit; a killed server loses "
        "nothing, a power cut may lose the last commits) or full (fsync every commit).",
    )
    resources: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [*DEFAULT_RESOURCES],
        description="Resource (RFC 8707) the AS issues tokens for.",
    )
    auto_approve: bool = Field(
        False,
        description="Skip login and consent: act as the first demo user and grant the "
        "requested scopes.",
    )
    loopback_any_port: bool = Field(
        False,
        description="Ignore the port when comparing loopback http redirect URIs (RFC 8252 §7.3).",
    )
    access_token_ttl: int = Field(300, ge=1, description="Access token lifetime, seconds.")
    refresh_token_ttl: int = Field(86400, ge=1, description="Refresh token lifetime, seconds.")
    code_ttl: int = Field(60, ge=1, description="Authorization code lifetime, seconds.")
    scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [*DEFAULT_SCOPES], description="Supported scope."
    )
    demo_users: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [*DEFAULT_DEMO_USERS],
        description="Demo user as name:password; the first one is used by --auto-approve.",
    )
    introspection_secret: str | None = Field(
        None,
        description="Bearer secret resource servers use at /introspect (unset: /introspect "
        "refuses everyone).",
    )
    iss_mode: IssMode = Field(
        IssMode.correct,
        description="RFC 9207 iss in authorization responses: correct, or omit/wrong to test "
        "clients' checks (metadata still advertises support).",
    )
    max_body_bytes: int = Field(
        65536, ge=1024, description="Largest accepted request body, bytes (413 beyond)."
    )
    cimd_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host whose client ID metadata documents may be fetched even from loopback "
        "or private addresses (workshops and tests only; docs/cimd.md).",
    )
    cimd_ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of extra CAs to trust when fetching client ID metadata documents "
        "(docs/cimd.md).",
    )
    registration_rate_per_minute: int = Field(
        120,
        ge=1,
        description="Registrations accepted per client address in any minute (429 beyond). "
        "Attendees behind one NAT or reverse proxy share one address: raise it for big rooms.",
    )
    max_clients: int = Field(
        5000, ge=1, description="Registered clients kept at most (400 beyond)."
    )
    unused_client_ttl: int = Field(
        3600,
        ge=1,
        description="Seconds after which a registered client that never completed an "
        "authorization is deleted.",
    )
    lab: bool = Field(
        True, description="The client-testing lab at /lab: journal, report cards, probes."
    )
    lab_secret: str | None = Field(
        None,
        description="Bearer secret the RS reports lab events with (unset: generated into "
        "the lab secret file, mode 0600).",
    )
    lab_secret_file: Path | None = Field(
        None,
        description="Where the generated lab secret is kept (unset: DATA_DIR/lab-secret); an RS "
        "reads it from there (compose shares only this file's volume with the RS).",
    )
    lab_max_events: int = Field(
        20000, ge=100, description="Journal retention: keep at most this many events."
    )
    lab_max_age_seconds: int = Field(
        7 * 86400, ge=60, description="Journal retention: drop events older than this, seconds."
    )

    _split = field_validator(
        "resources", "scopes", "demo_users", "cimd_allowed_hosts", mode="before"
    )(_split_words)

    @field_validator("issuer")
    @classmethod
    def _issuer_has_no_query_or_fragment(cls, value: str) -> str:
        """RFC 8414 §2: the issuer is a URL with no query or fragment component."""
        if "?" in value or "#" in value or "://" not in value:
            raise ValueError("issuer must be an absolute URL without query or fragment")
        return value

    @field_validator("cimd_ca_bundle")
    @classmethod
    def _ca_bundle_loads(cls, value: Path | None) -> Path | None:
        """A bad CA file is a start-up error, not a failure at the first document fetch."""
        if value is not None:
            try:
                ssl.create_default_context().load_verify_locations(cafile=str(value))
            except (OSError, ssl.SSLError) as error:
                raise ValueError(f"{value} is not a readable PEM file of CAs ({error})") from None
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
    def lab_secret_path(self) -> Path:
        """``lab_secret_file`` if given, else ``lab-secret`` under ``data_dir``."""
        return self.lab_secret_file or self.data_dir / "lab-secret"

    @property
    def users(self) -> dict[str, str]:
        """Demo users as ``{name: password}``, in the configured order."""
        return dict(entry.partition(":")[::2] for entry in self.demo_users)
