"""Where a kind's payload holds ids of other resources: the reference table derived from Vapi's spec.

``scripts/gen_schemas.py`` walks each kind's create payload in Vapi's OpenAPI spec (through every
``$ref``, ``oneOf``/``anyOf``/``allOf`` and array) and writes ``schemas/refs.json``: a graph whose
nodes are schemas (``CreateSquadDTO``, ``SquadMemberDTO``, ``AssistantOverrides``, ``OpenAIModel``
…) and whose edges are property names, ending at the id fields with the kinds they name
(:data:`ci_deployer.platform.kinds.ID_FIELDS`).  :func:`ref_sites` walks a payload along that graph,
so ``members[0].assistantOverrides.model.toolIds[1]`` of a squad is found exactly like a top-level
``model.toolIds[1]`` of an assistant, and free-form objects (``metadata``, ``variableValues``, tool
parameter schemas) are never searched: only properties the spec declares are followed.

A value may match several schemas at once (a ``model`` is one of 17 providers' models): the walk
carries the set of nodes, and transitions are cached per (set, key).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ci_deployer.paths import Path

REFS_FILE = "refs.json"

_Step = tuple[frozenset[str], tuple[str, ...]]  # (next nodes, target kinds of an id field)


@dataclass(frozen=True)
class RefSite:
    """A place in a payload that holds an id (or, in config, a slug): ``value`` at ``path`` names
    a resource of one of ``kinds`` (in lookup order; ``Credential`` is the env's credentials map)."""

    path: Path
    kinds: tuple[str, ...]
    value: Any


@dataclass
class RefTable:
    """The reference graph of every kind (see the module docstring)."""

    roots: dict[str, frozenset[str]]
    nodes: dict[str, dict[str, dict[str, list[str]]]]
    _cache: dict[tuple[frozenset[str], str], _Step] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RefTable:
        """Build from the content of ``refs.json``."""
        return cls(
            roots={kind: frozenset(names) for kind, names in data["roots"].items()},
            nodes=data["nodes"],
        )

    def _step(self, states: frozenset[str], key: str) -> _Step:
        cached = self._cache.get((states, key))
        if cached is not None:
            return cached
        nxt: set[str] = set()
        kinds: list[str] = []
        for state in states:
            edge = self.nodes.get(state, {}).get(key)
            if edge is None:
                continue
            nxt.update(edge.get("to", ()))
            kinds.extend(k for k in edge.get("ids", ()) if k not in kinds)
        step = (frozenset(nxt), tuple(kinds))
        self._cache[(states, key)] = step
        return step

    def sites(self, kind: str, payload: Any) -> Iterator[RefSite]:
        """Every id-holding place in ``payload`` (a ``kind`` create payload or PATCH body), in
        document order.  An id field holding a list yields one site per item."""
        roots = self.roots.get(kind)
        if not roots:
            return
        yield from self._walk(payload, roots, ())

    def _walk(self, node: Any, states: frozenset[str], path: Path) -> Iterator[RefSite]:
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from self._walk(item, states, (*path, index))
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if not isinstance(key, str):
                continue
            nxt, kinds = self._step(states, key)
            if kinds:
                yield from _leaves(value, (*path, key), kinds)
            elif nxt:
                yield from self._walk(value, nxt, (*path, key))


def _leaves(value: Any, path: Path, kinds: tuple[str, ...]) -> Iterator[RefSite]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index), kinds)
    else:
        yield RefSite(path, kinds, value)


@functools.cache
def ref_table() -> RefTable:
    """The committed table (read once, on first use)."""
    from ci_deployer.validate.schemas import schema_dir

    path = schema_dir() / REFS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:  # pragma: no cover - an incomplete installation
        raise FileNotFoundError(f"{path} is missing: the installation is incomplete; reinstall ci-deployer") from exc
    return RefTable.from_json(data)


def ref_sites(kind: str, payload: Any) -> list[RefSite]:
    """Every id-holding place of a ``kind`` payload (see :meth:`RefTable.sites`)."""
    return list(ref_table().sites(kind, payload))
