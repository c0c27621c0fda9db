"""The documentation holds together: README.md stays a front page, every relative link and
anchor in README.md and docs/*.md leads somewhere, every test the security model cites exists,
and every documented switch command recreates only the service it names."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT_BYTES = 15 * 1024

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TEST_ID = re.compile(r"(tests/[\w/.-]+\.py)(?:::(\w+))?")


def prose_lines(page: Path) -> list[str]:
    """The page's lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in page.read_text().splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup and punctuation dropped, lower case, spaces to
    hyphens (underscores and hyphens kept)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose_lines(page):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    found.update(re.findall(r'<a (?:name|id)="([^"]+)"', page.read_text()))
    return frozenset(found)


def relative_links(page: Path) -> list[str]:
    links = []
    for line in prose_lines(page):
        line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
        for target in LINK.findall(line):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                links.append(target)
    return links


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    assert not broken, "\n".join(broken)


def test_the_readme_is_a_front_page_of_at_most_15_kb() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT_BYTES, f"README.md is {size} bytes; move details to docs/"


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_test_the_security_model_cites_exists() -> None:
    page = ROOT / "docs" / "security-model.md"
    cited = TEST_ID.findall(page.read_text())
    assert len(cited) > 50, "the protection → test index is expected to cite the tests"
    missing = []
    for file, name in cited:
        path = ROOT / file
        if not path.is_file():
            missing.append(f"{file}: no such file")
        elif name and name not in defined_tests(path):
            missing.append(f"{file}::{name}: no such test")
    assert not missing, "\n".join(missing)


SWITCH_COMMAND = re.compile(r"\b[A-Z][A-Z_]+=\S+ docker compose up\b[^`|\n]*")
RUN_COMMAND = re.compile(r"docker compose run\b[^`|\n]*")


def test_documented_switch_and_run_commands_recreate_only_what_they_name() -> None:
    """`VAR=x docker compose up -d <service>` and `docker compose run` without --no-deps also
    recreate dependencies whose settings differ from the shell's, silently dropping a switch
    set on one of them earlier (the compose walkthrough shows it happening)."""
    commands = [
        (page.name, command.strip())
        for page in [*PAGES, ROOT / "docker-compose.yml", ROOT / ".ci" / "compose-walkthrough.sh"]
        for pattern in (SWITCH_COMMAND, RUN_COMMAND)
        for command in pattern.findall(page.read_text())
    ]
    assert commands, "no switch command found in the docs"
    wrong = [f"{name}: {command}" for name, command in commands if "--no-deps" not in command]
    assert not wrong, "\n".join(wrong)
