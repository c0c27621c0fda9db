"""The CLI lists every setting with its env var; settings parse env lists; OpenAPI is truthful;
repeated form parameters are refused."""

from pathlib import Path

import httpx2
import pytest
from authorization_server.as_toolbox import AuthServer
from harness.subprocess_servers import demo_as_process
from typer.testing import CliRunner

from demo_as.cli import app
from demo_as.settings import Settings

FLAG_FOR_FIELD = {"resources": "--resource", "scopes": "--scope", "demo_users": "--demo-user"}


def test_help_lists_every_setting_and_its_env_var() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "250", "TERM": "dumb"})
    assert result.exit_code == 0
    for field in Settings.model_fields:
        flag = FLAG_FOR_FIELD.get(field, "--" + field.replace("_", "-"))
        assert flag in result.output, flag
        assert f"DEMO_AS_{field.upper()}" in result.output, field
    assert "correct" in result.output and "omit" in result.output and "wrong" in result.output


def test_env_lists_are_space_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_AS_RESOURCES", "http://127.0.0.1:8000/mcp http://127.0.0.1:8001/mcp")
    monkeypatch.setenv("DEMO_AS_ISS_MODE", "omit")
    settings = Settings()
    assert settings.resources == ["http://127.0.0.1:8000/mcp", "http://127.0.0.1:8001/mcp"]
    assert settings.iss_mode.value == "omit"


def test_defaults_match_the_contract() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.issuer) == (
        "127.0.0.1",
        9000,
        "http://127.0.0.1:9000",
    )
    assert settings.effective_database_url.endswith("demo_as.db")
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.resources == ["http://127.0.0.1:8000/mcp"]
    assert settings.users == {"alice": "wonderland", "bob": "builder"}
    assert not settings.auto_approve and not settings.loopback_any_port
    assert settings.introspection_secret is None


@pytest.mark.parametrize(
    "bad", [{"issuer": "http://127.0.0.1:9000/?x=1"}, {"demo_users": ["nopassword"]}]
)
def test_invalid_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        Settings(**bad)


def test_openapi_documents_no_422(server: AuthServer) -> None:
    schema = server.http.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation["responses"], (path, method)
            assert "400" in operation["responses"], (path, method)


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_repeated_form_parameters_are_invalid_request(server: AuthServer, path: str) -> None:
    response = server.http.post(
        path,
        content=b"grant_type=refresh_token&token=a&token=b&refresh_token=a&refresh_token=b",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "authorization": "Bearer x",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "more than once" in response.json()["error_description"]


def test_the_command_serves_and_keeps_health_checks_out_of_the_access_log(tmp_path: Path) -> None:
    """`demo-as` really serves; the compose healthcheck's `/health` lines never bury the log."""
    server = demo_as_process(
        tmp_path,
        f"sqlite:///{tmp_path / 'as.db'}",
        resources=["http://127.0.0.1:8000/mcp"],
    )
    server.start()
    try:
        metadata = httpx2.get(f"{server.base_url}/.well-known/oauth-authorization-server")
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert metadata.json()["issuer"] == server.base_url
    assert "GET /.well-known/oauth-authorization-server" in log
    assert "/health" not in log
