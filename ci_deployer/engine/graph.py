"""Apply order from the reference graph.

A write must wait for every resource it references that this apply creates (its id is not known
before).  Resources are put in levels (longest path from a source); a level runs concurrently.
Reference cycles — a handoff tool pointing back at the assistant that uses it (DESIGN §2) — are
broken by creating one resource without the cyclic reference fields and patching them in a last
level.  The resource broken is the one latest in the kinds' apply order (an assistant rather than
its tool): dropping an id from ``model.toolIds`` leaves a valid payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_deployer.engine.canonical import iter_ref_tokens, ref_token
from ci_deployer.paths import Path
from ci_deployer.platform.kinds import KINDS, owner_of


@dataclass
class Schedule:
    """``levels``: lists of ``"Kind/slug"`` keys to write, in order; ``deferred``: key → ref paths
    left out of its first write and patched in after the last level."""

    levels: list[list[str]] = field(default_factory=list)
    deferred: dict[str, list[Path]] = field(default_factory=dict)


def _order(key: str) -> tuple[int, str]:
    return (KINDS[key.split("/", 1)[0]].order, key)


def schedule(payloads: Mapping[str, dict[str, Any]], creating: set[str]) -> Schedule:
    """Levels for writing ``payloads`` (key → canonical desired payload with ref tokens).

    ``creating``: keys created in this apply (the resources others must wait for).  References to
    anything else (existing resources, credentials) impose no order.
    """
    deps: dict[str, dict[str, list[Path]]] = {key: {} for key in payloads}
    for key, payload in payloads.items():
        for path, kind, slug in iter_ref_tokens(payload):
            target = ref_token(owner_of(kind), slug).removeprefix("ref:")
            if target != key and target in creating and target in payloads:
                deps[key].setdefault(target, []).append(path)
    out = Schedule()
    done: set[str] = set()
    remaining = set(payloads)
    while remaining:
        ready = sorted((k for k in remaining if all(d in done for d in deps[k])), key=_order)
        if not ready:
            # A cycle: of the nodes on one, the latest in apply order is created without its
            # references back into the cycle (a node merely waiting on a cycle is not touched).
            def reaches(start: str, goal: str) -> bool:
                seen, stack = set(), [start]
                while stack:
                    node = stack.pop()
                    if node == goal:
                        return True
                    if node not in seen:
                        seen.add(node)
                        stack.extend(t for t in deps[node] if t in remaining)
                return False

            on_cycle = [k for k in remaining if any(reaches(t, k) for t in deps[k] if t in remaining)]
            breaker = max(on_cycle, key=_order)
            for target in [t for t in deps[breaker] if t in remaining and reaches(t, breaker)]:
                out.deferred.setdefault(breaker, []).extend(deps[breaker].pop(target))
            continue
        level = ready
        out.levels.append(level)
        done.update(level)
        remaining.difference_update(level)
    for paths in out.deferred.values():
        paths.sort(key=lambda p: [str(s) for s in p])
    return out


def without_paths(payload: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """``payload`` without the values at ``paths``: an id in a list of ids is removed from the list;
    an id field inside a list item (``destinations[0].assistantId``) removes that item; any other
    id field removes the key."""
    import copy

    out = copy.deepcopy(payload)
    cuts: list[Path] = []
    for path in paths:
        parent = _get(out, path[:-1])
        if isinstance(parent, list):
            cuts.append(path)
        elif len(path) >= 2 and isinstance(path[-2], int):
            cuts.append(path[:-1])
        else:
            cuts.append(path)
    for cut in sorted(set(cuts), key=lambda p: [(0, s) if isinstance(s, int) else (1, s) for s in p], reverse=True):
        parent = _get(out, cut[:-1])
        last = cut[-1]
        if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
            del parent[last]
        elif isinstance(parent, dict):
            parent.pop(last, None)
    return out


def _get(data: Any, path: Path) -> Any:
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data
