"""Fixtures for tests/behaviour (helpers live in behaviour_helpers.py, importable by a unique name)."""

from behaviour_helpers import cli_env, served, tool_server  # noqa: F401
