"""Shared pytest configuration. Program-specific fixtures live in each test folder's conftest.

Helper modules that several test folders use (``serving.py``) sit in ``tests/`` and are importable
as top-level modules because ``pythonpath = ["tests"]`` is set in pyproject.toml.
"""
