"""The lab's errors; api.py maps them to JSON ``{"error", "error_description"}`` answers."""

from __future__ import annotations


class LabError(Exception):
    """Base class: ``error`` is the JSON error code, the message its description."""

    error = "invalid_request"
    status_code = 400


class UnknownClient(LabError):
    """No event of the lab names this client_id (404)."""

    error = "unknown_client"
    status_code = 404


class UnknownProbe(LabError):
    """The probe (kind or id) does not exist (400)."""

    error = "unknown_probe"
    status_code = 400
