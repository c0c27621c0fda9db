"""Pure rules: the scope table, challenge strings and their quoting, PRM URL, Host/Origin checks."""

from __future__ import annotations

import pytest

from scoped_tools_server import challenges
from scoped_tools_server.prm import protected_resource_metadata
from scoped_tools_server.scopes import (
    OFFLINE_ACCESS,
    TOOL_SCOPES,
    challenge_scopes,
    required_scopes,
    scopes_satisfied,
    scopes_supported,
    server_instructions,
    tool_description,
    tool_meta,
)
from scoped_tools_server.settings import Settings
from scoped_tools_server.transport_security import (
    SessionOwners,
    allowed_host_set,
    host_is_allowed,
    origin_is_allowed,
)

PRM = "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"


def test_the_ladder_matches_the_design() -> None:
    assert required_scopes("whoami") == ()
    assert required_scopes("list_notes") == ("notes:read",)
    assert required_scopes("read_note") == ("notes:read",)
    assert required_scopes("create_note") == ("notes:write",)
    assert required_scopes("delete_note") == ("notes:delete",)
    assert required_scopes("no_such_tool") is None


def test_scopes_supported_is_the_tool_scopes_without_offline_access() -> None:
    assert scopes_supported() == ["notes:delete", "notes:read", "notes:write"]
    assert OFFLINE_ACCESS not in scopes_supported()


def test_scopes_are_flat_no_hierarchy() -> None:
    assert scopes_satisfied({"notes:read"}, ())
    assert scopes_satisfied({"notes:read", "notes:write"}, ("notes:write",))
    assert not scopes_satisfied({"notes:delete"}, ("notes:write",))


def test_operation_challenge_names_only_the_tools_scopes() -> None:
    assert challenge_scopes("operation", {"notes:read"}, ("notes:write",)) == {"notes:write"}


def test_cumulative_challenge_is_granted_union_required_without_offline_access() -> None:
    granted = {"notes:read", OFFLINE_ACCESS, "unrelated:scope"}
    assert challenge_scopes("cumulative", granted, ("notes:write",)) == {
        "notes:read",
        "notes:write",
    }


def test_every_tool_states_its_scope_in_description_and_meta() -> None:
    for tool, entry in TOOL_SCOPES.items():
        assert tool_meta(tool) == {"scoped-tools-server/requiredScopes": list(entry.scopes)}
        for scope in entry.scopes:
            assert scope in tool_description(tool)
    assert "any valid access token" in tool_description("whoami")


def test_the_instructions_are_written_from_the_table() -> None:
    instructions = server_instructions()
    assert "whoami (any valid token)" in instructions
    for tool, entry in TOOL_SCOPES.items():
        if entry.scopes:
            assert f"{tool}" in instructions.split(f"({' '.join(entry.scopes)})")[0]


def test_missing_token_challenge_exact() -> None:
    assert challenges.missing_token_challenge(PRM) == (
        f'Bearer resource_metadata="{PRM}", scope="notes:read"'
    )


def test_invalid_token_challenge_exact() -> None:
    assert challenges.invalid_token_challenge(PRM, "The access token expired") == (
        'Bearer error="invalid_token", error_description="The access token expired", '
        f'resource_metadata="{PRM}", scope="notes:read"'
    )


def test_insufficient_scope_challenge_exact() -> None:
    header = challenges.insufficient_scope_challenge(
        PRM, {"notes:write"}, "create_note requires notes:write"
    )
    assert header == (
        'Bearer error="insufficient_scope", scope="notes:write", '
        f'resource_metadata="{PRM}", error_description="create_note requires notes:write"'
    )


def test_description_cannot_break_out_of_its_quoted_string() -> None:
    """RFC 6750 §3: error_description excludes `"` and `\\`; control characters are not allowed."""
    hostile = 'x" , error="evil\\\r\nSet-Cookie: a=b ü'
    header = challenges.invalid_token_challenge(PRM, hostile)
    described = header.split('error_description="', 1)[1].split('"', 1)[0]
    assert described == "x? , error=?evil???Set-Cookie: a=b ?"
    assert header.count('"') == 8  # four params, each value opened and closed once


def test_offline_access_and_bad_tokens_never_reach_a_challenge_scope() -> None:
    header = challenges.insufficient_scope_challenge(
        PRM, {"notes:read", OFFLINE_ACCESS, 'bad"scope'}, "d"
    )
    assert 'scope="notes:read"' in header
    assert OFFLINE_ACCESS not in header


def test_an_auth_param_may_appear_only_once() -> None:
    with pytest.raises(ValueError, match="only once"):
        challenges.bearer_challenge([("scope", "a"), ("scope", "b")])


@pytest.mark.parametrize(
    ("resource", "prm"),
    [
        ("http://127.0.0.1:8000/mcp", PRM),
        ("http://127.0.0.1:8000/mcp/", PRM),
        (
            "https://example.com/public/mcp",
            "https://example.com/.well-known/oauth-protected-resource/public/mcp",
        ),
    ],
)
def test_prm_url_uses_rfc9728_path_insertion(resource: str, prm: str) -> None:
    assert Settings(resource_url=resource).resource_metadata_url == prm


@pytest.mark.parametrize(
    "bad", ["ftp://h/mcp", "http://h/mcp?x=1", "http://h/mcp#f", "http://h/", "/mcp"]
)
def test_resource_url_must_be_canonical(bad: str) -> None:
    with pytest.raises(ValueError):
        Settings(resource_url=bad)


def test_introspection_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="introspection_secret"):
        Settings(token_check="introspect")


def test_prm_document() -> None:
    document = protected_resource_metadata(Settings())
    assert document == {
        "resource": "http://127.0.0.1:8000/mcp",
        "authorization_servers": ["http://127.0.0.1:9000"],
        "scopes_supported": ["notes:delete", "notes:read", "notes:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": document["resource_name"],
    }
    assert document["resource_name"]


def test_host_must_be_the_resource_hosts_exact_host_and_port() -> None:
    allowed = allowed_host_set("http://127.0.0.1:8000/mcp", ["notes.internal:8000"])
    assert host_is_allowed("127.0.0.1:8000", allowed, "http")
    assert host_is_allowed("notes.internal:8000", allowed, "http")
    assert not host_is_allowed("127.0.0.1:8001", allowed, "http")
    assert not host_is_allowed("evil.example:8000", allowed, "http")
    assert not host_is_allowed("localhost:8000", allowed, "http")  # not configured
    assert not host_is_allowed(None, allowed, "http")
    assert not host_is_allowed("127.0.0.1:8000@evil", allowed, "http")


def test_default_ports_are_understood() -> None:
    allowed = allowed_host_set("https://mcp.example.com/mcp", [])
    assert host_is_allowed("mcp.example.com", allowed, "https")
    assert host_is_allowed("MCP.example.com:443", allowed, "https")


def test_origin_rules() -> None:
    resource = "http://127.0.0.1:8000/mcp"
    assert origin_is_allowed(None, resource, [])
    assert origin_is_allowed("http://localhost:6274", resource, [])  # e.g. the MCP Inspector
    assert origin_is_allowed("http://[::1]:3000", resource, [])
    assert origin_is_allowed("https://app.example", resource, ["https://app.example"])
    assert not origin_is_allowed("http://evil.example", resource, [])
    assert not origin_is_allowed("null", resource, [])
    assert not origin_is_allowed("http://127.0.0.1.evil.example", resource, [])


def test_session_owners_fail_closed() -> None:
    now = [0.0]
    owners = SessionOwners(max_sessions=2, idle_timeout=60, clock=lambda: now[0])
    alice = ("iss", "alice", "c1")
    bob = ("iss", "bob", "c1")
    assert owners.record("s1", alice)
    assert owners.may_use("s1", alice)
    assert not owners.may_use("s1", bob)
    assert not owners.may_use("never-opened", bob)
    # A flood of new sessions cannot push alice's entry out: the table refuses to grow instead.
    assert owners.record("s2", bob)
    assert not owners.record("s3", bob)
    assert not owners.may_use("s3", bob)
    assert not owners.may_use("s1", bob)
    # Activity keeps a session; idleness expires it (as the SDK's session does).
    now[0] = 50
    assert owners.may_use("s1", alice)
    now[0] = 100
    assert owners.may_use("s1", alice)  # refreshed at 50
    assert not owners.may_use("s2", bob)  # idle since 0
    now[0] = 200
    assert not owners.may_use("s1", alice)
    owners.record("s4", alice)
    owners.forget("s4")
    assert not owners.may_use("s4", alice)
