"""Fixtures for tests/emulator (helpers live in emulator_helpers.py, importable by a unique name)."""

from emulator_helpers import api, connect, emulator  # noqa: F401
