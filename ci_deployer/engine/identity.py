"""Which live resource is which document (DESIGN §5 identity rules), for one kind.

In order: the assistant label ``metadata.ciDeployer`` (slug + env); the id recorded in the env's
snapshot (or in the journal of an interrupted apply: *recovered*); a ``previousNames`` slug (by label
or snapshot: a rename keeps the id); an unmanaged live resource whose canonical payload equals the
desired one (a create whose answer or whose apply was lost: *recovered*, in protected envs too —
identical means nothing is taken over that differs); the name (function tools: ``function.name``) —
adopted only when allowed, never in a protected env without ``--adopt``.

Two live resources claiming one slug (the dashboard's Duplicate copies metadata): the snapshot's
id wins, else the oldest; the other is unmanaged.  A live resource claimed by a slug no document
wants any more is an *orphan* (a delete candidate).  Ignored resources (ignore rules, generated
knowledge-base tools, Vapi's platform defaults) appear nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ci_deployer.engine.canonical import LABELS_KEY
from ci_deployer.engine.model import DesiredResource, IgnoreRules, display_name
from ci_deployer.platform.kinds import KINDS

How = Literal["label", "snapshot", "previous", "name", "recovered"]


@dataclass
class Match:
    """A desired resource and the live resource that is it (``how`` says by which rule)."""

    live: dict[str, Any]
    how: How
    previous_slug: str | None = None


@dataclass
class KindIdentity:
    """The outcome for one kind."""

    matches: dict[str, Match] = field(default_factory=dict)  # desired slug → match
    orphans: dict[str, dict[str, Any]] = field(default_factory=dict)  # former slug → live
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def label_of(obj: Mapping[str, Any], env: str) -> str | None:
    """The slug in an assistant's ``metadata.ciDeployer`` label when it belongs to ``env``."""
    metadata = obj.get("metadata")
    labels = metadata.get(LABELS_KEY) if isinstance(metadata, dict) else None
    if isinstance(labels, dict) and labels.get("env") == env and isinstance(labels.get("slug"), str):
        return str(labels["slug"])
    return None


def _age(obj: Mapping[str, Any]) -> tuple[str, str]:
    return (str(obj.get("createdAt") or ""), str(obj.get("id") or ""))


def match_kind(
    kind: str,
    desired: list[DesiredResource],
    live: list[dict[str, Any]],
    records: Mapping[str, str],
    env: str,
    *,
    allow_adopt: bool,
    ignore: IgnoreRules,
    same_payload: Callable[[DesiredResource, dict[str, Any]], bool] | None = None,
    journaled: Mapping[str, str] | None = None,
) -> KindIdentity:
    """Match ``live`` resources of ``kind`` to ``desired`` ones.

    ``records``: slug → id from the env's snapshot; ``journaled``: slug → id an interrupted apply
    created (its journal).  ``same_payload(desired, live)`` compares canonical payloads for the
    recovery rule; without it that rule is skipped.
    """
    journaled = {slug: rid for slug, rid in (journaled or {}).items() if slug not in records}
    records = {**records, **journaled}
    spec = KINDS[kind]
    out = KindIdentity()
    record_slug = {rid: slug for slug, rid in records.items()}
    visible: list[dict[str, Any]] = []
    for obj in sorted(live, key=_age):
        claimed = label_of(obj, env) if spec.labels else None
        claimed = claimed or record_slug.get(str(obj.get("id")))
        if ignore.ignores(kind, obj, claimed):
            out.ignored.append(obj)
        else:
            visible.append(obj)
    by_id = {str(obj["id"]): obj for obj in visible}
    by_label: dict[str, list[dict[str, Any]]] = {}
    if spec.labels:
        for obj in visible:
            slug = label_of(obj, env)
            if slug is not None:
                by_label.setdefault(slug, []).append(obj)
    taken: set[str] = set()

    def claim(slug: str) -> dict[str, Any] | None:
        candidates = [o for o in by_label.get(slug, []) if str(o["id"]) not in taken]
        recorded = records.get(slug)
        for obj in candidates:
            if str(obj["id"]) == recorded:
                return obj
        if candidates:
            return candidates[0]
        if recorded is not None and recorded in by_id and recorded not in taken:
            return by_id[recorded]
        return None

    ordered = sorted(desired, key=lambda d: d.slug)
    for res in ordered:  # current slugs first: a previous name never steals a current claim
        found = claim(res.slug)
        if found is not None:
            how: How = "label" if spec.labels and label_of(found, env) == res.slug else "snapshot"
            if how == "snapshot" and journaled.get(res.slug) == str(found["id"]):
                how = "recovered"
            out.matches[res.slug] = Match(found, how)
            taken.add(str(found["id"]))
    for res in ordered:
        if res.slug in out.matches:
            continue
        for former in res.previous_names:
            renamed = claim(former)
            if renamed is not None:
                out.matches[res.slug] = Match(renamed, "previous", previous_slug=former)
                taken.add(str(renamed["id"]))
                break
    wanted = {d.slug for d in desired} | {p for d in desired for p in d.previous_names}
    managed_elsewhere: set[str] = set()
    named: dict[str | None, list[dict[str, Any]]] = {}  # display name → visible resources, oldest first
    if any(res.slug not in out.matches for res in ordered):  # indexed only when a document is unmatched
        managed_elsewhere = {
            str(o["id"]) for o in visible if (label_of(o, env) if spec.labels else None) or str(o["id"]) in record_slug
        }
        for obj in visible:
            named.setdefault(display_name(kind, obj), []).append(obj)
    for res in ordered:
        if res.slug in out.matches:
            continue
        name = res.name
        pool = visible if name is None else named.get(name, [])  # indexed: no scan of the org per document
        free = [o for o in pool if str(o["id"]) not in taken and str(o["id"]) not in managed_elsewhere]
        if same_payload is not None:
            # The name is part of the payload: compare payloads only among same-named ones (linear).
            twins = [o for o in free if (name is None or display_name(kind, o) == name) and same_payload(res, o)]
            if twins:
                out.matches[res.slug] = Match(twins[0], "recovered")
                taken.add(str(twins[0]["id"]))
                continue
        if name is None:
            continue
        same = [o for o in free if display_name(kind, o) == name]
        rule: How = "name"
        if not same:
            continue
        # Phone numbers are bought outside ci-deployer: matching by number is the only way in.
        if allow_adopt or not spec.creatable:
            out.matches[res.slug] = Match(same[0], rule)
            taken.add(str(same[0]["id"]))
        else:
            what = f"named {name!r}"
            out.warnings.append(
                f"{kind}/{res.slug}: a live {kind} {what} exists (id {same[0]['id']}) but is not managed; "
                "plan with --adopt to take it over instead of creating a second one"
            )
    for obj in visible:
        rid = str(obj["id"])
        if rid in taken:
            continue
        slug = (label_of(obj, env) if spec.labels else None) or record_slug.get(rid)
        if slug is not None and slug not in wanted and slug not in out.orphans:
            out.orphans[slug] = obj
        else:
            out.unmanaged.append(obj)
    return out
