"""Schemathesis against the AS's own OpenAPI document, on a live loopback server.

The AS publishes ``/openapi.json`` (FastAPI, with the 422 responses replaced by the OAuth 400s it
really sends). Schemathesis generates requests from it (coverage phase: boundary and invalid
values of every parameter; fuzzing phase: random valid-shaped requests) and checks every answer:

* ``not_a_server_error``: bad input is a 4xx in the protocol's format, never a 5xx;
* ``status_code_conformance`` / ``content_type_conformance`` / ``response_headers_conformance`` /
  ``response_schema_conformance``: every answer is one the document declares, shaped as declared.

The CLI (``st run``) is used rather than the pytest plugin: it runs the whole document in one
process with a fixed seed and prints one summary we can assert on. At least 1000 generated cases.

The AS under test gets a 1 MiB body limit instead of 64 KiB: past the limit the AS answers 413 and
closes the connection before the client has finished uploading, which the fuzzer reports as a
connection reset, not as a response. The limit itself is tested explicitly in
tests/security/test_registration_attacks.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from serving import serve_app

MIN_CASES = 1000
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def schemathesis_cli() -> list[str]:
    script = Path(sys.executable).with_name("st")
    return [str(script)] if script.exists() else [sys.executable, "-m", "schemathesis.cli"]


def test_as_openapi_fuzzing_finds_no_server_error_and_no_schema_violation(
    tmp_path: Path,
) -> None:
    """RFC 6749 §5.2 / RFC 7591 §3.2.2 (errors in the protocol's own format) and the developers'
    guide: "Bad input gets a clear 4xx ..., never a 500"; and the OpenAPI document is truthful."""
    from demo_as.app import create_app
    from demo_as.settings import Settings

    def app_for(base_url: str):
        return create_app(
            Settings(
                issuer=base_url,
                port=int(base_url.rsplit(":", 1)[1]),
                database_url=f"sqlite:///{tmp_path / 'demo_as.db'}",
                max_body_bytes=1024 * 1024,
            )
        )

    with serve_app(app_for) as as_url:
        result = subprocess.run(
            [
                *schemathesis_cli(),
                "run",
                f"{as_url}/openapi.json",
                "--checks",
                CHECKS,
                "--phases",
                "coverage,fuzzing",
                "--max-examples",
                "170",
                "--seed",
                "20261123",
                "--workers",
                "2",
                "--generation-database",
                "none",
            ],
            capture_output=True,
            text=True,
            timeout=280,
            cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
            check=False,
        )
    output = result.stdout + result.stderr
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary, output[-3000:]
    generated, passed = int(summary.group(1)), int(summary.group(2))
    assert result.returncode == 0, output[-6000:]
    assert generated >= MIN_CASES, f"only {generated} cases generated"
    print(f"schemathesis: {generated} cases generated, {passed} passed")
    assert passed == generated, output[-6000:]
