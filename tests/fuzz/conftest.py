"""Fixtures of the fuzz tests: one real AS + RS stack per module (see ``harness.stack``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running
