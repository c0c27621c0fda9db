"""What a person sees when they run the three programs: `--help` that reads at 80 columns, and
`uv run` printing nothing the person did not ask for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOX = "│╭╮╰╯─┃━"  # rich's panel borders: not words


def help_text(program: str, *args: str) -> str:
    script = Path(sys.executable).with_name(program)
    result = subprocess.run(
        [str(script), *args, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"},
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize(
    "command", [["demo-as"], ["scoped-tools-server"], ["demo-client", "story"]], ids=" ".join
)
def test_help_reads_at_80_columns(command: list[str]) -> None:
    """Help text wraps into lines of several words. (Rich's boxed layout at 80 columns fit the
    width but squeezed the help into a narrow column: about two words a line. The width itself
    is checked with each program's CLI tests.)"""
    lines = [line.strip(BOX + " ") for line in help_text(*command).splitlines()]
    lines = [line for line in lines if line]
    assert len(lines) > 10
    words_per_line = sum(len(line.split()) for line in lines) / len(lines)
    assert words_per_line >= 3.5, f"{words_per_line:.1f} words a line"


def test_uv_run_prints_only_what_the_program_prints() -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH (tests are normally run with `uv run pytest`)")
    result = subprocess.run(
        [uv, "run", "--project", str(ROOT), "demo-client", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert result.stdout.startswith("Usage: demo-client")
    assert "Bytecode compiled" not in result.stderr, result.stderr
