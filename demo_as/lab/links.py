"""The URLs of the lab's pages and JSON API for one client: one place for how a client id goes
into a path.

A client id may contain ``:`` and ``/`` (a CIMD client id is an https URL), so links carry the
whole id percent-encoded (``quote(id, safe="")``), and a page request is parsed from the raw path,
where an encoded ``%2F`` inside the id still differs from the literal ``/`` before a subpage.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

CLIENTS_PREFIX = "/lab/clients/"
API_CLIENTS_PREFIX = "/lab/api/clients/"
# What may follow a client id in a /lab/clients/... path, after a literal (unencoded) slash.
CLIENT_SUBPAGES = ("report.md",)


def client_path(client_id: str, subpage: str = "") -> str:
    """The page URL of a client (or of its ``subpage``)."""
    url = CLIENTS_PREFIX + quote(client_id, safe="")
    return f"{url}/{subpage}" if subpage else url


def api_client_path(client_id: str, what: str) -> str:
    """A client's JSON API URL (``events``, ``report``)."""
    return f"{API_CLIENTS_PREFIX}{quote(client_id, safe='')}/{what}"


def parse_client_path(raw_path: str) -> tuple[str, str]:
    """``(client id, subpage or "")`` from the raw, still percent-encoded, request path.

    ``/lab/clients/x/report.md`` is the report of client ``x``; ``/lab/clients/x%2Freport.md`` is
    the page of a client whose id is ``x/report.md``: the decoded path cannot tell them apart."""
    rest = raw_path.removeprefix(CLIENTS_PREFIX)
    head, slash, last = rest.rpartition("/")
    if slash and last in CLIENT_SUBPAGES:
        return unquote(head), last
    return unquote(rest), ""
