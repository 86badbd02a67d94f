"""The plan as a reviewer reads it: one view-model for every face of a plan (the PR comment, the job
summary, ``plan --markdown`` and the terminal text).  The faces differ only in surface syntax
(:mod:`ci_deployer.report.markdown`, :mod:`ci_deployer.report.plan`): what is shown for each field
is decided here, once.

- A **create** reads as the document: YAML in the config's own key order (the plan keeps it), long
  strings and prompts as text blocks below it, references as ``slug (kind)``, secrets as their
  ``secrets://NAME`` placeholders (or a status, never a value).
- An **update** (also adopt, rename, and drift: recorded → live) shows each changed field once, by
  path: a scalar as ``old → new``; a prompt or other long string as a unified diff; a list of
  references (or of short scalars) as what was added and removed; a map or list element added or
  removed as YAML.  A changed list of maps is aligned element by element, so adding a message to a
  prompt's list never re-prints the whole list.
- A **delete** names what goes and what still references it (``referencedBy`` in the plan JSON).
- A knowledge base's **documents** (``documents`` in the plan JSON): each added, changed or removed
  file by path and content hash, a changed text file with its unified diff.

Built from the plan JSON (docs/formats.md), so a plan file read back renders as the live one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ci_deployer.engine.canonical import canonical_json, parse_ref_token, ref_token
from ci_deployer.engine.diff import diff
from ci_deployer.paths import Path, format_path, parse_pattern
from ci_deployer.report import values

WRITE_ACTIONS = ("create", "update", "delete", "adopt", "rename")


@dataclass(frozen=True)
class Item:
    """A changed field on one line.  ``sign``: ``+`` added, ``-`` removed, ``~`` changed,
    ``!`` a secret's status (``note``).  Values are display text (:func:`values.scalar`); a list
    change names the elements ``added`` and ``removed`` instead."""

    sign: str
    path: str
    old: str | None = None
    new: str | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Block:
    """A field on several lines: the document or a subtree (``yaml``), a long string (``text``) or a
    unified diff (``diff``, each line with its own ``+``/``-``/`` ``).  ``sign`` ``+``/``-``: every
    line was added / removed (an update's new or dropped subtree); ``""``: the lines as they are."""

    style: Literal["yaml", "text", "diff"]
    title: str
    lines: tuple[str, ...]
    sign: str = ""
    note: str = ""


Part = Item | Block


# What a delete's referrer reads as, by its fate in this plan (and whether that deserves a ⚠️).
REFERRER_SAYS = {
    "drops": "refers to it; this plan's change to it removes the reference",
    "deleted": "refers to it and is deleted too",
    "keeps": "refers to it and keeps the reference: the delete may be refused or leave it pointing at nothing",
    "unmanaged": "refers to it: the delete may be refused or leave it pointing at nothing",
}
REFERRER_WARNS = {"drops": False, "deleted": False, "keeps": True, "unmanaged": True}


@dataclass(frozen=True)
class Referrer:
    """A live resource that names a resource this plan deletes, and what this plan does to it."""

    kind: str
    slug: str | None
    name: str | None
    id: str
    fate: Literal["drops", "deleted", "keeps", "unmanaged"]


@dataclass(frozen=True)
class ResourceView:
    """One resource's block."""

    action: str
    kind: str
    slug: str
    name: str
    location: str
    blocked: str
    parts: tuple[Part, ...]
    referrers: tuple[Referrer, ...] | None = None  # a delete's (None: the plan does not say)
    missing: bool = False  # drift: deleted outside ci-deployer


@dataclass(frozen=True)
class PlanView:
    """Everything the faces show, in the order they show it."""

    env: str
    org: str
    has_changes: bool
    summary: Mapping[str, int]
    deletes: tuple[tuple[str, str], ...]  # (kind, slug) of deletes that will run
    blocked: int
    warnings: tuple[str, ...]
    changes: tuple[ResourceView, ...]
    drift: tuple[ResourceView, ...]
    unmanaged: tuple[Mapping[str, Any], ...]
    secrets: tuple[Mapping[str, str], ...]
    hash: str
    sha: str


# -- the plan --------------------------------------------------------------------------------------


def plan_view(plan: Mapping[str, Any]) -> PlanView:
    """The view of a plan (its JSON, docs/formats.md)."""
    changes = [c for c in plan.get("changes") or [] if c.get("action") != "noop"]
    summary = {str(k): int(v or 0) for k, v in (plan.get("summary") or {}).items()}
    return PlanView(
        env=str(plan.get("env") or ""),
        org=str(plan.get("org") or ""),
        has_changes=bool(plan.get("hasChanges")),
        summary=summary,
        deletes=tuple(
            (str(c.get("kind")), str(c.get("slug") or c.get("name") or c.get("id")))
            for c in changes
            if c.get("action") == "delete" and not c.get("blocked")
        ),
        blocked=sum(1 for c in changes if c.get("blocked")),
        warnings=tuple(str(w) for w in plan.get("warnings") or []),
        changes=tuple(resource_view(c, changes) for c in changes),
        drift=tuple(resource_view(d, changes, action="drift") for d in plan.get("drift") or []),
        unmanaged=tuple(u for u in plan.get("unmanaged") or [] if isinstance(u, Mapping)),
        secrets=tuple(s for s in plan.get("secrets") or [] if isinstance(s, Mapping)),
        hash=str(plan.get("hash") or ""),
        sha=str(plan.get("sha") or ""),
    )


def resource_view(
    change: Mapping[str, Any], others: Sequence[Mapping[str, Any]] = (), *, action: str | None = None
) -> ResourceView:
    """One change (or, with ``action="drift"``, one drifted resource) as a reviewer reads it."""
    act = action or str(change.get("action") or "update")
    file, line = change.get("file"), change.get("line")
    location = f"{file}:{line}" if file and line else (str(file) if file else "")
    if change.get("previousSlug"):
        location = f"renamed from {change['previousSlug']}" + (f" · {location}" if location else "")
    slug = str(change.get("slug") or change.get("id") or "")
    name = str(change.get("name") or "")
    fields = [f for f in change.get("fields") or [] if isinstance(f, Mapping)]
    parts = document_parts(fields) if act == "create" else field_parts(fields)
    parts += documents_parts([d for d in change.get("documents") or [] if isinstance(d, Mapping)])
    referrers: tuple[Referrer, ...] | None = None
    if act == "delete" and "referencedBy" in change:
        token = ref_token(str(change.get("kind")), slug)
        referrers = tuple(_referrer(r, token, others) for r in change.get("referencedBy") or [])
    return ResourceView(
        action=act,
        kind=str(change.get("kind") or ""),
        slug=slug,
        name="" if name == slug else name,
        location=location,
        blocked=str(change.get("blocked") or ""),
        parts=tuple(parts),
        referrers=referrers,
        missing=bool(change.get("missing")),
    )


def _referrer(ref: Mapping[str, Any], token: str, changes: Sequence[Mapping[str, Any]]) -> Referrer:
    kind, slug = str(ref.get("kind") or ""), ref.get("slug")
    fate: Literal["drops", "deleted", "keeps", "unmanaged"] = "unmanaged" if not slug else "keeps"
    for change in changes:
        if not slug or change.get("kind") != kind or change.get("slug") != slug:
            continue
        if change.get("action") == "delete":
            fate = "deleted"
        elif any(_names(f.get("old"), token) and not _names(f.get("new"), token) for f in change.get("fields") or []):
            fate = "drops"
    return Referrer(kind, str(slug) if slug else None, ref.get("name"), str(ref.get("id") or ""), fate)


def _names(value: Any, token: str) -> bool:
    if isinstance(value, dict):
        return any(_names(v, token) for v in value.values())
    if isinstance(value, list):
        return any(_names(v, token) for v in value)
    return bool(value == token)


# -- a knowledge base's documents ------------------------------------------------------------------


def documents_parts(entries: Sequence[Mapping[str, Any]]) -> list[Part]:
    """A knowledge base's documents added (``+``), changed (``~``, old → new hash, then the text
    diff) and removed (``-``), by path (engine/documents.py)."""
    parts: list[Part] = []
    for entry in entries:
        path = f"documents: {entry.get('path')}"
        sha = _short_hash(entry.get("sha256"))
        size = f" · {_size(entry['bytes'])}" if isinstance(entry.get("bytes"), int) else ""
        said = [s for s in ("new upload" if entry.get("upload") else "", str(entry.get("note") or "")) if s]
        note = f" ({'; '.join(said)})" if said else ""
        op = entry.get("op")
        if op == "add":
            parts.append(Item("+", path, new=f"{sha}{size}{note}"))
        elif op == "remove":
            parts.append(Item("-", path, old=f"{sha or 'file ' + str(entry.get('id') or '')}{note}"))
        else:
            old = _short_hash(entry.get("oldSha256"))
            parts.append(Item("~", path, old=old, new=f"{sha}{size}", note="; ".join(said)))
            lines = entry.get("diff")
            if isinstance(lines, list) and lines:
                parts.append(Block("diff", str(entry.get("path")), tuple(str(line) for line in lines)))
    return parts


def _short_hash(value: Any) -> str:
    return f"sha256:{value[:12]}" if isinstance(value, str) and value else ""


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"


# -- a create: the document ------------------------------------------------------------------------


def _path(text: str) -> Path:
    return tuple(p for p in parse_pattern(text) if p is not None)


def document_parts(fields: Sequence[Mapping[str, Any]]) -> list[Part]:
    """A create's fields as one YAML document plus a text block per long string."""
    doc: dict[str, Any] = {}
    for item in fields:
        value = values.Secret(str(item["secret"])) if "secret" in item else item.get("new")
        _insert(doc, _path(str(item.get("path", ""))), value)
    lines, pulled = values.yaml_lines(doc)
    parts: list[Part] = [Block("yaml", "", tuple(lines))] if doc else []
    parts += [_text_block(format_path(p.path), p.text) for p in pulled]
    return parts


def _insert(doc: dict[str, Any], path: Path, value: Any) -> None:
    """``value`` placed at ``path`` in ``doc``, creating maps and lists on the way (in order)."""
    if not path:
        if isinstance(value, dict):
            doc.update(value)
        return
    node: Any = doc
    for step, after in zip(path, (*path[1:], None), strict=True):
        last = after is None
        if isinstance(node, dict):
            if last:
                node[step] = value
            else:
                node = node.setdefault(step, [] if isinstance(after, int) else {})
        elif isinstance(node, list) and isinstance(step, int):
            while len(node) <= step:
                node.append(None)
            if last:
                node[step] = value
            else:
                if node[step] is None:
                    node[step] = [] if isinstance(after, int) else {}
                node = node[step]
        else:
            return  # the path runs through a scalar: nothing sensible to show


def _text_block(title: str, text: str, sign: str = "") -> Block:
    lines, was_wrapped = values.wrapped(text)
    count = len(values.text_lines(text))
    said = [f"{count} lines"] if count > 1 else []
    note = ", ".join([*said, "long lines wrapped"] if was_wrapped else said)
    return Block("text", title, tuple(lines), sign=sign, note=note)


def _yaml_parts(title: str, path: Path, value: Any, sign: str) -> list[Part]:
    """A subtree added or removed in an update: its YAML and its long strings, every line signed."""
    lines, pulled = values.yaml_lines(value, path)
    parts: list[Part] = [Block("yaml", title, tuple(lines), sign=sign)]
    parts += [_text_block(format_path(p.path), p.text, sign) for p in pulled]
    return parts


# -- an update: changed fields ---------------------------------------------------------------------


def field_parts(fields: Sequence[Mapping[str, Any]]) -> list[Part]:
    """An update's (or drift's) changed fields, each once, in the plan's order."""
    parts: list[Part] = []
    for item in _grouped(_refined(fields)):
        parts.extend(_field(item))
    return parts


def _refined(fields: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Container changes broken down to what changed in them (maps key by key, lists of maps
    element by element, aligned), so one edit never shows as a whole re-serialised subtree."""
    out: list[dict[str, Any]] = []
    for item in fields:
        old, new = item.get("old"), item.get("new")
        if "secret" in item or item.get("op", "change") != "change":
            out.append(dict(item))
        elif isinstance(old, dict) and isinstance(new, dict):
            out += _refined([c.to_dict() for c in diff(old, new, _path(str(item.get("path", ""))))])
        elif isinstance(old, list) and isinstance(new, list) and not _all_scalars(old + new):
            out += _refined(_aligned(_path(str(item.get("path", ""))), old, new))
        else:
            out.append(dict(item))
    return out


def _all_scalars(items: list[Any]) -> bool:
    return all(values.is_scalar(v) and not values.is_long(v) for v in items)


def _aligned(path: Path, old: list[Any], new: list[Any]) -> list[dict[str, Any]]:
    """Two lists matched element by element (equal elements kept, edited ones paired)."""
    out: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(
        a=[canonical_json(v) for v in old], b=[canonical_json(v) for v in new], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            for offset in range(i2 - i1):
                out += [c.to_dict() for c in diff(old[i1 + offset], new[j1 + offset], (*path, j1 + offset))]
            continue
        out += [{"path": format_path((*path, i)), "op": "remove", "old": old[i]} for i in range(i1, i2)]
        out += [{"path": format_path((*path, j)), "op": "add", "new": new[j]} for j in range(j1, j2)]
    return out


def _grouped(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Element-wise changes of one list of references (``toolIds[0]``, ``toolIds[1]``) as one
    change of the list, so it reads as what was added and removed."""
    out: list[dict[str, Any]] = []
    for item in fields:
        path = _path(str(item.get("path", "")))
        is_ref_edit = (
            item.get("op") == "change"
            and "secret" not in item
            and len(path) > 1
            and isinstance(path[-1], int)
            and parse_ref_token(item.get("old")) is not None
            and parse_ref_token(item.get("new")) is not None
        )
        if is_ref_edit and out and out[-1].get("_list") == path[:-1]:
            out[-1]["old"].append(item["old"])
            out[-1]["new"].append(item["new"])
        elif is_ref_edit:
            out.append({"path": format_path(path[:-1]), "op": "change", "old": [item["old"]], "new": [item["new"]]})
            out[-1]["_list"] = path[:-1]
        else:
            out.append(item)
    return out


def _field(item: Mapping[str, Any]) -> list[Part]:
    path = str(item.get("path") or "") or "(whole resource)"
    op = item.get("op", "change")
    if "secret" in item:
        status = str(item["secret"])
        note = {
            "rotated": "rotated outside git: sent again",
            "live-differs": "differs in the org from the value here (rotated, or edited outside): sent again",
        }.get(status, status)
        return [Item("!", path, note=f"secret {note}")]
    old, new = item.get("old"), item.get("new")
    if op == "add":
        return _added(path, new, "+")
    if op == "remove":
        return _added(path, old, "-")
    if isinstance(old, list) and isinstance(new, list):
        return [_list_change(path, old, new)]
    if isinstance(old, str) and isinstance(new, str) and (values.is_long(old) or values.is_long(new)):
        return [_text_diff(path, old, new)]
    if values.is_scalar(old) and values.is_scalar(new) and not values.is_long(old) and not values.is_long(new):
        return [Item("~", path, old=values.scalar(old), new=values.scalar(new))]
    # a type change (a map became a string, …): what went, then what came
    return _added(path, old, "-") + _added(path, new, "+")


def _added(path: str, value: Any, sign: str) -> list[Part]:
    if isinstance(value, (dict, list)) and value:
        return _yaml_parts(path, _path(path), value, sign)
    if values.is_long(value):
        return [_text_block(path, str(value), sign)]
    shown = values.scalar(value)
    return [Item(sign, path, new=shown) if sign == "+" else Item(sign, path, old=shown)]


def _list_change(path: str, old: list[Any], new: list[Any]) -> Item:
    olds, news = [values.scalar(v) for v in old], [values.scalar(v) for v in new]
    added = tuple(v for v in news if v not in olds)
    removed = tuple(v for v in olds if v not in news)
    if added or removed:
        return Item("~", path, added=added, removed=removed)
    return Item("~", path, old=values.scalar(old), new=values.scalar(new), note="reordered")


def _text_diff(path: str, old: str, new: str) -> Part:
    before, _ = values.wrapped(old)
    after, _ = values.wrapped(new)
    lines = list(difflib.unified_diff(before, after, lineterm="", n=3))[2:]  # the title names the field
    if not lines:  # only whitespace at a wrap point, or a trailing newline
        lines = list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), lineterm="", n=3))[2:]
        lines = [line.rstrip("\n") + (" ⏎" if line.endswith("\n") else "") for line in lines]
    if not lines:
        return Item("~", path, note="only line endings changed")
    return Block("diff", path, tuple(lines))
