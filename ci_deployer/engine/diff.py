"""Field-level differences between two canonical payloads.

Maps are compared key by key, lists of equal length element by element (so a prompt edit shows as
``model.messages[0].content``), lists of different length as one changed value.  The paths are
those of :func:`ci_deployer.paths.format_path`, which the plan JSON and the reports use.

A hand-written walk rather than deepdiff's tree: the plan needs exactly these paths and ops
(``add`` / ``remove`` / ``change``) in a stable order, with no type-coercion surprises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from ci_deployer.paths import Path, format_path

Op = Literal["add", "remove", "change"]
_MISSING = object()


@dataclass(frozen=True)
class FieldChange:
    """One changed field; ``secret`` set (changed / unchanged / unknown) means old and new are hidden."""

    path: Path
    op: Op
    old: Any = None
    new: Any = None
    secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The plan JSON shape (docs/formats.md): secret fields carry no values."""
        out: dict[str, Any] = {"path": format_path(self.path), "op": self.op}
        if self.secret is not None:
            out["secret"] = self.secret
        else:
            if self.op != "add":
                out["old"] = self.old
            if self.op != "remove":
                out["new"] = self.new
        return out


def diff(old: Any, new: Any, path: Path = ()) -> list[FieldChange]:
    """Every field where ``new`` differs from ``old``, in sorted key order."""
    if old == new and (text := _json(old)) is not None and text == _json(new):
        # Equal as JSON (Python's == alone takes 1 for 1.0 and True): nothing to walk.
        return []
    out: list[FieldChange] = []
    _walk(old, new, path, out)
    return out


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # one, not one per call


def _json(value: Any) -> str | None:
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError):
        return None  # not JSON (a set, NaN's cousins): the walk decides


def _walk(old: Any, new: Any, path: Path, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            if a is _MISSING:
                out.append(FieldChange((*path, key), "add", None, b))
            elif b is _MISSING:
                out.append(FieldChange((*path, key), "remove", a, None))
            else:
                _walk(a, b, (*path, key), out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, (*path, index), out)
        return
    if old != new or type(old) is not type(new):
        out.append(FieldChange(path, "change", old, new))


def top_level_keys(changes: list[FieldChange]) -> set[str]:
    """The top-level keys touched by ``changes`` (PATCH replaces whole top-level subtrees)."""
    return {str(change.path[0]) for change in changes if change.path}
