"""The distribution exposes the three programs as top-level packages."""

import importlib


def test_three_programs_are_importable() -> None:
    for name in ("demo_as", "scoped_tools_server", "demo_client"):
        assert importlib.import_module(name).__name__ == name
