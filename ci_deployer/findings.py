"""A finding: one problem found in the config, with where it is and what to do about it.

Modelled on yamllint's ``LintProblem`` and check-jsonschema's results: validation collects every
finding instead of stopping at the first, and reporters (text, json, github) render them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem. ``path`` is relative to the config root (or the cwd) when possible."""

    path: str
    line: int | None
    column: int | None
    code: str
    message: str
    level: Level = "error"
    hint: str | None = None
    json_path: str = field(default="", compare=False)

    def location(self) -> str:
        if self.line is None:
            return self.path
        if self.column is None:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.column}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.level == "error" for f in findings)
