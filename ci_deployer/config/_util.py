"""Small helpers shared by the config modules: findings with positions, did-you-mean, deep merge."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable
from typing import Any

from ci_deployer.findings import Finding, Level
from ci_deployer.paths import Path, format_path


def finding(
    file: str,
    mark: tuple[int, int] | tuple[int | None, int | None] | None,
    code: str,
    message: str,
    hint: str,
    *,
    level: Level = "error",
    path: Path = (),
) -> Finding:
    """A finding in ``file`` (relative to the config root) at ``mark`` (1-based line, column)."""
    line, column = mark if mark is not None else (None, None)
    return Finding(
        path=file,
        line=line,
        column=column,
        code=code,
        message=message,
        level=level,
        hint=hint,
        json_path=format_path(path),
    )


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return f" (did you mean {lowered[word.lower()]!r}?)"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Verbatim:
    """A value that must pass through unchanged: included file content or a ``$literal``.

    Templates are not rendered and ``{ref: …}`` maps are not replaced inside it; the policy merge
    treats it as a leaf.  :func:`unwrap` replaces it by its value at the end of rendering.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Verbatim({self.value!r})"


def unwrap(value: Any) -> Any:
    """Deep copy of ``value`` with every :class:`Verbatim` replaced by (a copy of) its content."""
    if isinstance(value, Verbatim):
        return copy.deepcopy(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def deep_merge(base: Any, override: Any) -> Any:
    """DESIGN §2 policy merge: maps merge recursively, lists and scalars are replaced (later wins).

    Returns a new structure; neither argument is modified (shared leaves are copied)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = {k: copy.deepcopy(v) for k, v in base.items()}
        for key, value in override.items():
            out[key] = deep_merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)
