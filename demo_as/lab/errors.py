"""The lab's errors; api.lab_error_response maps them to JSON ``{"error", "error_description"}``
answers (the OAuth error shape, RFC 6749 §5.2, so every answer of the AS looks alike)."""

from __future__ import annotations

from pydantic import ValidationError


class LabError(Exception):
    """Base class: ``error`` is the JSON error code, the message its description."""

    error = "invalid_request"
    status_code = 400
    www_authenticate: str | None = None


class UnknownClient(LabError):
    """No event of the lab names this client_id (404)."""

    error = "unknown_client"
    status_code = 404


class UnknownProbe(LabError):
    """The probe (kind or id) does not exist (400)."""

    error = "unknown_probe"
    status_code = 400


class MalformedLabRequest(LabError):
    """A body that is not the JSON the endpoint takes (400)."""


class NotJson(LabError):
    """A body not declared ``application/json`` (415)."""

    status_code = 415


class ForeignOrigin(LabError):
    """A browser request from another origin may not change the lab (403)."""

    status_code = 403


class InvalidLabSecret(LabError):
    """RFC 6750 §3.1: the RS presented no lab secret, or the wrong one (401 + challenge)."""

    error = "invalid_token"
    status_code = 401
    www_authenticate = 'Bearer realm="demo_as lab", error="invalid_token"'


def malformed(error: ValidationError) -> MalformedLabRequest:
    """The first validation problem, as one readable sentence."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return MalformedLabRequest(f"{where}: {first.get('msg', 'invalid')}")
