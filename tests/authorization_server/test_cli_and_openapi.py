"""The CLI lists every setting with its env var; settings parse env lists; OpenAPI is truthful;
repeated form parameters are refused."""

import re
from pathlib import Path

import httpx2
import pytest
import typer
from authorization_server.as_toolbox import AuthServer
from harness.subprocess_servers import demo_as_process
from typer.testing import CliRunner

from demo_as.cli import app
from demo_as.settings import Settings
from demo_as.settings_cli import options_markdown, settings_command

FLAG_FOR_FIELD = {
    "resources": "--resource",
    "scopes": "--scope",
    "demo_users": "--demo-user",
    "cimd_allowed_hosts": "--cimd-allowed-host",
}
DOCS = Path(__file__).parents[2] / "docs" / "authorization-server.md"


def test_help_lists_every_setting_its_env_var_and_default() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "250", "TERM": "dumb"})
    assert result.exit_code == 0
    for field in Settings.model_fields:
        flag = FLAG_FOR_FIELD.get(field, "--" + field.replace("_", "-"))
        assert flag in result.output, flag
        assert f"DEMO_AS_{field.upper()}" in result.output, field
    assert "correct|omit|wrong" in result.output
    assert "[default: 9000; env: DEMO_AS_PORT]" in result.output


def test_help_fits_80_columns() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80", "TERM": "dumb"})
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "  --issuer TEXT" in result.output


def test_flags_reach_the_settings_and_unset_flags_fall_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Settings] = []

    def run(values: dict) -> None:
        seen.append(Settings(**values))

    monkeypatch.setenv("DEMO_AS_CODE_TTL", "42")
    command = typer.Typer()
    command.command()(settings_command(Settings, run))
    result = CliRunner().invoke(
        command,
        [
            "--resource",
            "http://127.0.0.1:1/mcp",
            "--resource",
            "http://127.0.0.1:2/mcp",
            "--auto-approve",
            "--iss-mode",
            "omit",
            "--port",
            "9100",
        ],
    )
    assert result.exit_code == 0, result.output
    [settings] = seen
    assert settings.resources == ["http://127.0.0.1:1/mcp", "http://127.0.0.1:2/mcp"]
    assert settings.auto_approve and settings.iss_mode.value == "omit" and settings.port == 9100
    assert settings.code_ttl == 42  # from the environment
    assert settings.scopes == Settings().scopes  # the model's default


def test_the_documented_options_table_is_the_generated_one() -> None:
    table = options_markdown(Settings)
    assert table in DOCS.read_text(), f"regenerate the table in {DOCS.name}:\n{table}"


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


def test_the_command_serves_logs_each_refusal_in_one_line_and_keeps_noise_out(
    tmp_path: Path,
) -> None:
    """`demo-as` really serves. Each refusal is one readable line naming the answer, the error
    code and why; the compose healthcheck's `/health` lines and the RS's accepted lab reports
    (every second) never bury the log."""
    lab_secret = "lab-secret-for-the-log-test"
    server = demo_as_process(
        tmp_path,
        f"sqlite:///{tmp_path / 'as.db'}",
        resources=["http://127.0.0.1:8000/mcp"],
        extra_args=["--lab-secret", lab_secret],
    )
    server.start()
    try:
        metadata = httpx2.get(f"{server.base_url}/.well-known/oauth-authorization-server")
        refused = httpx2.post(f"{server.base_url}/token", data={"grant_type": "password"})
        report = httpx2.post(
            f"{server.base_url}/lab/api/rs-events",
            json={"resource": "http://127.0.0.1:8000/mcp", "dropped": 0, "events": []},
            headers={"Authorization": f"Bearer {lab_secret}"},
        )
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert metadata.json()["issuer"] == server.base_url
    assert refused.status_code == 400 and report.status_code == 200, report.text
    # uvicorn's access lines, word for word (access_log.AccessLineFormatter writes them).
    assert re.search(
        r'^INFO:     127\.0\.0\.1:\d+ - "GET /\.well-known/oauth-authorization-server HTTP/1\.1"'
        r" 200 OK$",
        log,
        re.MULTILINE,
    ), log
    assert re.search(
        r'^INFO:     127\.0\.0\.1:\d+ - "POST /token HTTP/1\.1" 400 Bad Request$', log, re.M
    )
    refusal_lines = [line for line in log.splitlines() if "refused POST /token" in line]
    assert refusal_lines == [
        "INFO:     refused POST /token from an unidentified client: 400 unsupported_grant_type: "
        + refused.json()["error_description"]
    ]
    assert "/health" not in log
    assert "/lab/api/rs-events" not in log
