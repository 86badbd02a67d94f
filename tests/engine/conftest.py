"""Fixtures for tests/engine (helpers live in engine_helpers.py, importable by a unique name)."""

from engine_helpers import org, served_repo  # noqa: F401
