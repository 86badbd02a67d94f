"""Paths into JSON-like data.

A concrete path is a tuple of keys and list indexes: ``("model", "toolIds", 0)``.  A *pattern*
is a dotted string where ``[]`` stands for every element of a list: ``"members[].assistantId"``.
The kinds table declares reference fields as patterns; everything else uses concrete paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d*)\]")


def parse_pattern(pattern: str) -> tuple[str | int | None, ...]:
    """``"a.b[].c[2]"`` → ``("a", "b", None, "c", 2)``; ``None`` is the wildcard ``[]``."""
    out: list[str | int | None] = []
    for name, index in _TOKEN.findall(pattern):
        if name:
            out.append(name)
        else:
            out.append(int(index) if index else None)
    return tuple(out)


def iter_pattern(data: Any, pattern: str | tuple[str | int | None, ...]) -> Iterator[tuple[Path, Any]]:
    """Yield ``(concrete_path, value)`` for every value in ``data`` the pattern matches."""
    steps = parse_pattern(pattern) if isinstance(pattern, str) else pattern

    def walk(node: Any, i: int, prefix: Path) -> Iterator[tuple[Path, Any]]:
        if i == len(steps):
            yield prefix, node
            return
        step = steps[i]
        if step is None:
            if isinstance(node, list):
                for j, item in enumerate(node):
                    yield from walk(item, i + 1, (*prefix, j))
        elif isinstance(step, int):
            if isinstance(node, list) and 0 <= step < len(node):
                yield from walk(node[step], i + 1, (*prefix, step))
        elif isinstance(node, dict) and step in node:
            yield from walk(node[step], i + 1, (*prefix, step))

    yield from walk(data, 0, ())


def format_path(path: Path, root: str = "") -> str:
    """``("model", "toolIds", 0)`` → ``"model.toolIds[0]"`` (prefixed with ``root.`` if given)."""
    out = root
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


def get_path(data: Any, path: Path) -> Any:
    for step in path:
        data = data[step]
    return data


def set_path(data: Any, path: Path, value: Any) -> None:
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value
