"""What a partial plan covers: the documents asked for (``--only``) or touched since a git ref
(``--changed-since``) with their neighbours.  A plain value, shown in every format and hashed.

A partial plan plans the resources of ``keys`` only: their creates, updates, renames, drift, and
the deletes of scoped documents that are gone.  Resources outside it are *context*: the resources
scoped ones reference, identified so their ids are known, never planned.  Nothing outside the scope
is listed as unmanaged or deleted.  The hash covers the scope (its keys are part of it), so a
partial plan never has a full plan's hash; apply plans in full and, for a reviewed partial plan,
also replans that scope to compare hashes (and refuses, in a protected env, any change outside it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ci_deployer.engine.canonical import iter_ref_tokens
from ci_deployer.platform.kinds import CREDENTIAL, owner_of


@dataclass(frozen=True)
class Scope:
    """The ``"Kind/slug"`` keys a partial plan covers and why (docs/formats.md "scope")."""

    keys: frozenset[str]
    only: tuple[str, ...] = ()  # --only, as asked
    changed_since: str | None = None  # --changed-since, as asked (a ref or sha)
    files: tuple[str, ...] = ()  # the config files touched since then (relative to the config root)

    @property
    def reason(self) -> str:
        if self.changed_since is not None:
            touched = len(self.files)
            return f"documents changed since {self.changed_since} ({touched} file(s)) and their neighbours"
        return "--only " + " ".join(self.only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "partial": True,
            "keys": sorted(self.keys),
            "only": list(self.only),
            "changedSince": self.changed_since,
            "files": list(self.files),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Scope | None:
        """The scope of a plan file or a comment marker (``None``: a full plan)."""
        if not isinstance(data, Mapping) or not data.get("partial"):
            return None
        return cls(
            keys=frozenset(str(k) for k in data.get("keys") or []),
            only=tuple(str(o) for o in data.get("only") or []),
            changed_since=data.get("changedSince"),
            files=tuple(str(f) for f in data.get("files") or []),
        )


def targets(spec: Any) -> set[str]:
    """The ``"Kind/slug"`` keys a desired spec references (a knowledge base's search tool is its base;
    env credentials are no documents)."""
    return {f"{owner_of(kind)}/{slug}" for _, kind, slug in iter_ref_tokens(spec) if kind != CREDENTIAL}


def context_keys(specs: Mapping[str, Any], keys: Iterable[str]) -> set[str]:
    """The keys the resources of ``keys`` reference that are not among them (``specs``: key → spec)."""
    wanted = set(keys)
    found: set[str] = set()
    for key in wanted:
        spec = specs.get(key)
        if spec is not None:
            found |= targets(spec)
    return found - wanted
