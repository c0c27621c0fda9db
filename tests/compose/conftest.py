"""Checks that run from the host against the `docker compose` stack's published ports.

They need the stack up (127.0.0.1:9000 and 127.0.0.1:8000) and the Docker engine that runs it, to
restart services. ``.ci/compose-walkthrough.sh`` brings the stack up and runs them with
``COMPOSE_WALKTHROUGH=1``; anywhere else they skip, saying how to run them.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def compose_stack_is_up() -> None:
    if os.environ.get("COMPOSE_WALKTHROUGH") != "1":
        pytest.skip(
            "needs the compose stack: run `bash .ci/compose-walkthrough.sh` "
            "(it brings the stack up and sets COMPOSE_WALKTHROUGH=1)"
        )
