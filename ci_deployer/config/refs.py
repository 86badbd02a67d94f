"""Slug references in a spec (DESIGN §2): the id fields Vapi's spec declares and ``{ref: kind/slug}``.

A ``{ref: "tool/jira"}`` map (exactly that one key) may appear anywhere; it is replaced by the slug
and recorded with its one kind.  The kind part is matched loosely: ``tool``, ``Tool``,
``structured-output``, ``StructuredOutput``, ``knowledge_base`` …, and ``credential`` names the
environment's ``credentials`` map.  Values at id fields (:mod:`ci_deployer.platform.reftable`:
derived from Vapi's spec, nested ones included — a squad member's ``assistantOverrides.model.toolIds``,
a handoff destination's ``assistantId``, a phone number's ``squadId``) are references unless they
are UUIDs (an id written by hand is passed through as is).  The config side only records where
references are; the engine turns each into a ref token, whatever its depth.
"""

from __future__ import annotations

import re
from typing import Any

from ci_deployer.config._util import did_you_mean
from ci_deployer.config.model import Reference
from ci_deployer.paths import Path
from ci_deployer.platform.kinds import CREDENTIAL, KINDS
from ci_deployer.platform.reftable import ref_sites

REF_KEY = "ref"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_REF_KINDS = (*KINDS, CREDENTIAL)


def _normal(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


_BY_NORMAL = {_normal(k): k for k in _REF_KINDS}


class RefProblem(Exception):
    """A malformed ``{ref: …}`` at ``path`` (inside spec)."""

    def __init__(self, path: Path, message: str, hint: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint


def replace_generic_refs(spec: Any) -> tuple[Any, list[Reference], list[RefProblem]]:
    """Replace every ``{ref: kind/slug}`` map by its slug (``Verbatim`` values are leaves: left alone)."""
    refs: list[Reference] = []
    problems: list[RefProblem] = []

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            if len(node) == 1 and REF_KEY in node:
                parsed = _parse_ref(node[REF_KEY], path)
                if isinstance(parsed, RefProblem):
                    problems.append(parsed)
                    return node
                refs.append(Reference(path, (parsed[0],), parsed[1]))
                return parsed[1]
            return {k: walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        return node

    return walk(spec, ()), refs, problems


def _parse_ref(value: Any, path: Path) -> tuple[str, str] | RefProblem:
    if not isinstance(value, str) or value.count("/") != 1:
        return RefProblem(path, f"{{ref: {value!r}}} is not `kind/slug`", "write e.g. {ref: tool/jira}")
    kind_name, slug = value.split("/")
    kind = _BY_NORMAL.get(_normal(kind_name))
    if kind is None:
        return RefProblem(
            path,
            f"{{ref: {value}}} names unknown kind {kind_name!r}{did_you_mean(kind_name, _REF_KINDS)}",
            f"kinds: {', '.join(_REF_KINDS)}",
        )
    if not slug:
        return RefProblem(path, f"{{ref: {value}}} has no slug", "write e.g. {ref: tool/jira}")
    return kind, slug


def table_refs(kind: str, spec: Any, skip: set[Path]) -> list[Reference]:
    """References at the id fields of a ``kind`` spec, at any depth (paths in ``skip`` excluded)."""
    if kind not in KINDS:
        return []
    out: list[Reference] = []
    for site in ref_sites(kind, spec):
        value = site.value
        if isinstance(value, str) and value and site.path not in skip and not UUID.match(value):
            out.append(Reference(site.path, site.kinds, value))
    return out
