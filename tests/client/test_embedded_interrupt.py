"""Ctrl-C during the story: the story stops its AS child and removes its temporary directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("at", ["Round 1", "Round 4"])
def test_ctrl_c_during_the_story_leaves_no_process_and_no_directory(
    tmp_path: Path, at: str
) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    story = subprocess.Popen(
        [sys.executable, "-c", "from demo_client.cli import main; main()", "story"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    assert story.stdout is not None
    seen = []
    for line in story.stdout:
        seen.append(line)
        if line.startswith(at):
            break
    assert seen and seen[-1].startswith(at), "".join(seen)
    as_child = children(story.pid)
    assert as_child, "the embedded AS runs in a child process"
    assert list(tmp_path.iterdir()), "the embedded servers' temporary directory"
    story.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
    story.stdout.read()
    assert story.wait(timeout=30) != 0
    for pid in as_child:
        # The child was reaped by the story (no zombie left either) or is gone.
        assert not running(pid)
    assert list(tmp_path.iterdir()) == []
