"""How field values are shown in every rendering of a plan (terminal text, PR comment, job summary):
one compact JSON line for short values, lines (for unified diffs) for long ones such as prompts."""

from __future__ import annotations

import json
from typing import Any


def compact(value: Any) -> str:
    """One line of JSON, keys sorted (stable across runs)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def text_lines(value: Any) -> list[str]:
    """The lines a unified diff compares: a string's own lines, else indented JSON."""
    if isinstance(value, str):
        return value.splitlines() or [""]
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2).splitlines()


def is_long(value: Any, limit: int) -> bool:
    """Multi-line strings and values longer than ``limit`` characters are shown as diffs."""
    if value is None:
        return False
    if isinstance(value, str):
        return "\n" in value or len(value) > limit
    return len(compact(value)) > limit
