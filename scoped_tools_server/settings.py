"""Configuration of the resource server: one pydantic-settings object, env prefix ``SCOPED_TOOLS_``.

Every field is also a CLI flag (``cli.py`` builds the flags from this class), so ``--help`` and
this file cannot disagree. Derived values (the PRM URL, the resource path, the Host values the
server answers to) are computed here once and used everywhere else.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_RESOURCE_URL = "http://127.0.0.1:8000/mcp"
DEFAULT_AUTH_SERVER = "http://127.0.0.1:9000"


class ChallengeScope(StrEnum):
    """What a 403 challenge's ``scope`` names (see ``scopes.challenge_scopes``)."""

    operation = "operation"
    cumulative = "cumulative"


class TokenCheck(StrEnum):
    """How access tokens are validated: locally as JWTs, or by asking the AS (RFC 7662)."""

    jwt = "jwt"
    introspect = "introspect"


class Settings(BaseSettings):
    """Settings of ``scoped_tools_server`` (see docs/architecture.md for the contract)."""

    model_config = SettingsConfigDict(env_prefix="SCOPED_TOOLS_", extra="forbid")

    host: str = Field("127.0.0.1", description="Interface to bind (loopback by default).")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on.")
    resource_url: str = Field(
        DEFAULT_RESOURCE_URL,
        description="Canonical URL of the MCP endpoint: the PRM `resource` and the required `aud`.",
    )
    auth_server: str = Field(
        DEFAULT_AUTH_SERVER,
        description="Issuer of the authorization server, compared byte for byte with `iss`.",
    )
    auth_server_internal_url: str | None = Field(
        None,
        description="Base URL to fetch AS metadata/JWKS/introspection from when the issuer URL is "
        "not reachable from this process (containers). Tokens must still carry the public issuer.",
    )
    database_url: str = Field(
        "sqlite:///./data/scoped_tools_notes.db", description="SQLAlchemy URL of the notes store."
    )
    challenge_scope: ChallengeScope = Field(
        ChallengeScope.operation,
        description="403 scope: `operation` = the called tool's scopes (SEP-2350); "
        "`cumulative` = granted + required (2025-11-25 advice for non-accumulating clients).",
    )
    token_check: TokenCheck = Field(
        TokenCheck.jwt,
        description="`jwt` verifies signatures locally with the AS's JWKS; `introspect` asks the "
        "AS's /introspect on every request (immediate revocation, one round trip per request).",
    )
    introspection_secret: SecretStr | None = Field(
        None,
        description="Bearer secret for the AS's /introspect (for --token-check introspect).",
    )
    max_body_bytes: int = Field(
        256 * 1024, gt=0, description="Largest accepted request body in bytes; larger gets 413."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra Host header values accepted besides the resource URL's host:port "
        "(e.g. a container's published name). Each is `host:port`.",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra Origin values accepted besides loopback origins (e.g. https://app.example).",
    )
    clock_leeway_seconds: int = Field(
        30, ge=0, le=300, description="Allowed clock skew when checking `exp` and `nbf`."
    )
    jwks_min_refetch_seconds: float = Field(
        30.0,
        ge=0,
        description="At most one JWKS refetch for an unknown `kid` per this many seconds.",
    )
    lab_report: bool = Field(
        True,
        description="Report this server's protocol steps (PRM fetches, MCP requests, challenges, "
        "tool results) to the AS's lab, off the request path, and apply its RS-side probes.",
    )
    lab_secret: SecretStr | None = Field(
        None,
        description="Bearer secret for the AS's /lab/api/rs-events (the AS's lab secret); when "
        "unset it is read from lab_secret_file.",
    )
    lab_secret_file: Path = Field(
        Path("./data/lab-secret"),
        description="File holding the lab secret (the AS writes <data_dir>/lab-secret at its first "
        "start); re-read until it exists.",
    )
    gate_enabled: bool = Field(
        True,
        json_schema_extra={"cli_flags": "--gate-enabled/--no-gate"},
        description="BENCHMARKS ONLY. False serves MCP with no auth gate: every caller is the "
        "fixed subject 'anonymous-benchmark'. Never turn this off for anything else.",
    )

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        """Environment variables and flags may list values separated by commas or spaces."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            return value
        return [part for item in items for part in re.split(r"[,\s]+", str(item)) if part]

    @field_validator("resource_url")
    @classmethod
    def _resource_url_is_canonical(cls, value: str) -> str:
        """RFC 9728 §2 / MCP canonical URI: absolute http(s), a path, no query, no fragment."""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("resource_url must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("resource_url must not have a query or fragment (RFC 9728 §2)")
        if not parts.path or parts.path == "/":
            raise ValueError("resource_url must name the MCP endpoint path, e.g. /mcp")
        return value

    @field_validator("auth_server")
    @classmethod
    def _issuer_has_no_trailing_slash_surprise(cls, value: str) -> str:
        """RFC 8414 §2: the issuer is an http(s) URL with no query or fragment."""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("auth_server must be an absolute http(s) URL (the issuer)")
        if parts.query or parts.fragment:
            raise ValueError("auth_server must not have a query or fragment (RFC 8414 §2)")
        return value

    @model_validator(mode="after")
    def _introspection_needs_secret(self) -> Settings:
        if self.token_check is TokenCheck.introspect and self.introspection_secret is None:
            raise ValueError("token_check=introspect needs introspection_secret")
        return self

    @property
    def resource_path(self) -> str:
        """The path the MCP endpoint is served at (the resource URL's path)."""
        return urlsplit(self.resource_url).path.rstrip("/") or "/"

    @property
    def resource_metadata_url(self) -> str:
        """RFC 9728 §3.1: insert ``/.well-known/oauth-protected-resource`` between host and path.

        Any terminating slash after the host is removed before inserting.
        """
        parts = urlsplit(self.resource_url)
        path = parts.path.rstrip("/")
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{path}"

    @property
    def as_base_url(self) -> str:
        """Where this process reaches the AS: the internal URL when set, else the issuer."""
        return (self.auth_server_internal_url or self.auth_server).rstrip("/")
