"""Planning: desired resources + the live org (or the env's snapshot) + state → a :class:`Plan`.

DESIGN §5:
- *planned change*: the desired payload against the desired payload recorded at the last apply
  (server-added defaults never show); with no record, against live restricted to the keys the
  config sets;
- *drift*: live against the response recorded at the last apply;
- *unmanaged*: live, managed by no document, not ignored.

A :class:`Plan` is a plain value (``to_dict`` is the documented plan JSON) with a content hash over
the env, the desired payloads (secrets as keyed HMACs, ``unknown:<ref>`` when not resolvable here)
and the managed live state it was computed against — never over timestamps or the git sha, so
two plans of the same inputs have the same hash, and a plan against a snapshot hashes like a live
plan of an org that has not drifted.  :class:`PlanContext` carries what apply needs besides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_deployer import redact
from ci_deployer.config.model import Environment
from ci_deployer.config.secrets import SECRET_TOKEN, SecretResolver
from ci_deployer.engine.canonical import (
    SECRET_MARK,
    SecretMasker,
    content_hash,
    drop_mirrored,
    ids_to_refs,
    is_secret_path,
    parse_ref_token,
    ref_token,
    refs_to_ids,
    restrict_to,
    sort_keys,
    strip_server_fields,
)
from ci_deployer.engine.diff import FieldChange, diff
from ci_deployer.engine.identity import KindIdentity, Match, match_kind
from ci_deployer.engine.model import DesiredResource, IgnoreRules, display_name
from ci_deployer.engine.snapshot import Snapshot, SnapshotRecord
from ci_deployer.errors import StateError
from ci_deployer.paths import Path, format_path, get_path, parse_pattern
from ci_deployer.platform.kinds import CREDENTIAL, GENERATED_TOOL_TYPES, KINDS

FORMAT_VERSION = 1
ACTIONS = ("create", "update", "delete", "adopt", "rename", "noop")
WRITE_ACTIONS = frozenset({"create", "update", "delete", "adopt", "rename"})


@dataclass
class Change:
    """What happens to one resource.  ``send``/``unset``: top-level keys a PATCH sends / nulls."""

    action: str
    kind: str
    slug: str
    id: str | None = None
    name: str | None = None
    previous_slug: str | None = None
    file: str | None = None
    line: int | None = None
    fields: list[FieldChange] = field(default_factory=list)
    blocked: str | None = None
    send: tuple[str, ...] = ()
    unset: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.slug}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "slug": self.slug,
            "id": self.id,
            "name": self.name,
            "previousSlug": self.previous_slug,
            "file": self.file,
            "line": self.line,
            "fields": [f.to_dict() for f in self.fields],
            "blocked": self.blocked,
        }


@dataclass
class DriftItem:
    """A managed resource changed (or deleted: ``missing``) outside ci-deployer."""

    kind: str
    slug: str
    id: str
    fields: list[FieldChange] = field(default_factory=list)
    missing: bool = False
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "slug": self.slug,
            "id": self.id,
            "name": self.name,
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.missing:
            out["missing"] = True
        return out


@dataclass
class Plan:
    """The plan value (docs/formats.md "Plan")."""

    env: str
    org: str
    org_id: str | None
    against: str
    snapshot: dict[str, Any] | None
    sha: str | None
    hash: str
    logical_hash: str | None
    changes: list[Change] = field(default_factory=list)
    drift: list[DriftItem] = field(default_factory=list)
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            if change.blocked is None:
                counts[change.action] += 1
        counts["drift"] = len(self.drift)
        counts["unmanaged"] = len(self.unmanaged)
        counts["blockedDeletes"] = sum(1 for c in self.changes if c.action == "delete" and c.blocked)
        return counts

    @property
    def has_changes(self) -> bool:
        return any(c.action in WRITE_ACTIONS for c in self.changes)

    def writes(self) -> list[Change]:
        """The changes apply performs (blocked deletes included: apply refuses them)."""
        return [c for c in self.changes if c.action in WRITE_ACTIONS]

    def to_dict(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "kind": "plan",
            "env": self.env,
            "org": self.org,
            "orgId": self.org_id,
            "against": self.against,
            "snapshot": self.snapshot,
            "sha": self.sha,
            "hash": self.hash,
            "logicalHash": self.logical_hash,
            "summary": self.summary,
            "hasChanges": self.has_changes,
            "changes": [c.to_dict() for c in self.changes],
            "drift": [d.to_dict() for d in self.drift],
            "unmanaged": self.unmanaged,
            "secrets": self.secrets,
            "warnings": self.warnings,
        }

    def to_json(self) -> str:
        """The plan JSON, with every registered secret value masked (values never reach it anyway)."""
        return redact.redact(json.dumps(self.to_dict(), indent=2, ensure_ascii=False)) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Read a plan file back (for ``apply --plan`` and reports)."""
        if data.get("kind") != "plan" or "hash" not in data:
            raise StateError(
                "not a ci-deployer plan file (no \"kind\": \"plan\" with a hash)",
                hint="pass the file written by `ci-deployer plan --out plan.json`",
            )

        def fields(items: Any) -> list[FieldChange]:
            out = []
            for item in items or []:
                out.append(
                    FieldChange(
                        tuple(p for p in parse_pattern(str(item.get("path", ""))) if p is not None),
                        item.get("op", "change"),
                        item.get("old"),
                        item.get("new"),
                        item.get("secret"),
                    )
                )
            return out

        return cls(
            env=str(data.get("env")),
            org=str(data.get("org")),
            org_id=data.get("orgId"),
            against=str(data.get("against") or "live"),
            snapshot=data.get("snapshot"),
            sha=data.get("sha"),
            hash=str(data["hash"]),
            logical_hash=data.get("logicalHash"),
            changes=[
                Change(
                    action=c["action"],
                    kind=c["kind"],
                    slug=c["slug"],
                    id=c.get("id"),
                    name=c.get("name"),
                    previous_slug=c.get("previousSlug"),
                    file=c.get("file"),
                    line=c.get("line"),
                    fields=fields(c.get("fields")),
                    blocked=c.get("blocked"),
                )
                for c in data.get("changes") or []
            ],
            drift=[
                DriftItem(d["kind"], d["slug"], d["id"], fields(d.get("fields")), bool(d.get("missing")), d.get("name"))
                for d in data.get("drift") or []
            ],
            unmanaged=list(data.get("unmanaged") or []),
            secrets=list(data.get("secrets") or []),
            warnings=list(data.get("warnings") or []),
        )


@dataclass
class SecretPath:
    """A string in a desired spec holding placeholders: its template, refs and the HMAC of the
    value it resolves to here (``None``: some ref is not resolvable here)."""

    template: str
    refs: list[str]
    hmac: str | None


@dataclass
class PlanContext:
    """A plan plus what apply needs to carry it out."""

    plan: Plan
    environment: Environment
    desired: dict[str, DesiredResource]  # "Kind/slug" → resource
    desired_canonical: dict[str, dict[str, Any]]
    live: dict[str, list[dict[str, Any]]]  # kind → raw live objects as listed
    identity: dict[str, KindIdentity]
    ids: dict[str, str]  # ref token → live id (managed resources, KB tools, credentials)
    state: Snapshot | None
    masker: SecretMasker
    secret_paths: dict[str, dict[Path, SecretPath]]  # "Kind/slug" → path → secret
    secret_hmacs: dict[str, str]  # REF → HMAC of its value here (resolvable refs only)
    live_canonical: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Kind/slug" → canonical
    renamed: dict[str, str] = field(default_factory=dict)  # former ref token → current (renames)

    def follow_renames(self, data: Any) -> Any:
        """``data`` with references under a former slug rewritten to the current one."""
        return _rename_tokens(data, self.renamed) if self.renamed else data

    def expected_secrets(self, key: str) -> dict[Path, tuple[str, str | None]]:
        """Path → (placeholder template, HMAC of the value sent) for masking this resource's response."""
        return {path: (sp.template, sp.hmac) for path, sp in self.secret_paths.get(key, {}).items()}


def kind_order(kind: str) -> tuple[int, str]:
    return (KINDS[kind].order, kind)


def live_from_snapshot(state: Snapshot, environment: Environment) -> dict[str, list[dict[str, Any]]]:
    """Live objects as the snapshot recorded them (``--against snapshot``): ids restored from tokens."""
    ids = {ref_token(r.kind, r.slug): r.id for r in state.resources}
    ids.update({ref_token(CREDENTIAL, slug): cid for slug, cid in environment.credentials.items()})
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for rec in state.resources:
        if rec.kind not in KINDS:
            continue
        obj = refs_to_ids(rec.payload, lambda k, s: ids.get(ref_token(k, s), ref_token(k, s)))
        obj["id"] = rec.id
        out[rec.kind].append(obj)
    return out


def build_plan(
    environment: Environment,
    desired: list[DesiredResource],
    *,
    live: Mapping[str, list[dict[str, Any]]] | None,
    state: Snapshot | None,
    hmac_key: bytes,
    resolver: SecretResolver | None,
    allow_adopt: bool,
    allow_deletes: bool,
    sha: str | None = None,
    org_id: str | None = None,
    logical_hash: str | None = None,
    repair_drift: bool = False,
) -> PlanContext:
    """Plan ``desired`` against ``live`` (kind → listed objects), or against ``state`` when ``live``
    is ``None`` (``--against snapshot``: no API call, and the plan says so).

    ``repair_drift``: drifted fields become planned changes back to the desired values (rollback,
    ``apply --overwrite-drift``); otherwise drift is only reported."""
    env = environment.name
    masker = SecretMasker(hmac_key)
    against = "live"
    warnings: list[str] = []
    if live is None:
        if state is None:
            raise StateError(
                f"{env} has no snapshot to plan against",
                hint=f"apply to {env} once (or plan with --against live) to record its state",
            )
        against = "snapshot"
        live = live_from_snapshot(state, environment)
        org_id = org_id or state.org_id
    live_lists = {kind: list(live.get(kind) or []) for kind in KINDS}
    by_key = {res.key: res for res in desired}
    ignore = IgnoreRules(tuple(environment.ignore))

    # Secrets: resolve each ref once (values registered for redaction), keep only HMACs.
    secret_hmacs: dict[str, str] = {}
    unresolvable: set[str] = set()
    for res in desired:
        for sref in res.secrets:
            if sref.ref in secret_hmacs or sref.ref in unresolvable:
                continue
            value = resolver.resolve(sref.ref) if resolver is not None else None
            if value is None:
                unresolvable.add(sref.ref)
            else:
                redact.register(value)
                secret_hmacs[sref.ref] = masker.hmac(value)
    resolved_values = _ResolvedValues(resolver, secret_hmacs)
    secret_paths: dict[str, dict[Path, SecretPath]] = {}
    for res in desired:
        paths: dict[Path, SecretPath] = {}
        for path in {tuple(s.path) for s in res.secrets}:
            try:
                template = get_path(res.spec, path)
            except (KeyError, IndexError, TypeError):
                continue
            if not isinstance(template, str):
                continue
            refs = [m.group(1) for m in SECRET_TOKEN.finditer(template)]
            full = resolved_values.substitute(template, refs)
            paths[path] = SecretPath(template, refs, masker.hmac(full) if full is not None else None)
        if paths:
            secret_paths[res.key] = paths
    desired_canonical = {res.key: sort_keys(masker.mask_desired(res.spec)) for res in desired}

    # Identity, pass 1 (labels, snapshot ids, previous names, names).
    allow = allow_adopt
    identity: dict[str, KindIdentity] = {}
    records_of = {kind: (state.ids(kind) if state is not None else {}) for kind in KINDS}
    desired_of = {kind: [r for r in desired if r.kind == kind] for kind in KINDS}
    for kind in KINDS:
        identity[kind] = match_kind(
            kind, desired_of[kind], live_lists[kind], records_of[kind], env, allow_adopt=allow, ignore=ignore
        )
    ids, tokens = _id_index(identity, live_lists, environment)

    # Pass 2 for nameless kinds: a lost create is found by its payload.
    def canon(kind: str, obj: dict[str, Any], key: str | None, expected: Mapping[Path, tuple[str, str | None]]) -> Any:
        payload = ids_to_refs(strip_server_fields(kind, obj), tokens)
        payload = drop_mirrored(kind, payload, desired_canonical.get(key) if key else None)
        return sort_keys(masker.mask_live(payload, expected))

    def same_payload(res: DesiredResource, obj: dict[str, Any]) -> bool:
        mine = desired_canonical[res.key]
        theirs = restrict_to(canon(res.kind, obj, res.key, {}), mine)
        return bool(_blank_secrets(theirs) == _blank_secrets(mine))

    for kind in KINDS:
        if any(r.name is None and r.slug not in identity[kind].matches for r in desired_of[kind]):
            identity[kind] = match_kind(
                kind,
                desired_of[kind],
                live_lists[kind],
                records_of[kind],
                env,
                allow_adopt=allow,
                ignore=ignore,
                same_payload=same_payload,
            )
    ids, tokens = _id_index(identity, live_lists, environment)

    # A rename keeps the id: references recorded under the former slug are the same reference.
    renamed = {
        ref_token(kind, m.previous_slug): ref_token(kind, slug)
        for kind, ident in identity.items()
        for slug, m in ident.matches.items()
        if m.previous_slug
    }

    def follow(data: Any) -> Any:
        return _rename_tokens(data, renamed) if renamed else data

    changes: list[Change] = []
    drift: list[DriftItem] = []
    live_canonical: dict[str, dict[str, Any]] = {}
    live_hashes: list[list[str]] = []
    for kind in sorted(KINDS, key=kind_order):
        spec = KINDS[kind]
        ident = identity[kind]
        warnings.extend(ident.warnings)
        for res in sorted(desired_of[kind], key=lambda r: r.slug):
            want = desired_canonical[res.key]
            match: Match | None = ident.matches.get(res.slug)
            base = _change_base(res)
            if match is None:
                if not spec.creatable:
                    warnings.append(
                        f"{res.key}: {res.name or res.slug} is not in the org and ci-deployer does not create "
                        f"{kind}s: add it in Vapi first, then plan again"
                    )
                    continue
                fields = [FieldChange((k,), "add", None, v) for k, v in want.items()]
                _mark_secrets(fields, secret_paths.get(res.key, {}), state, None, secret_hmacs)
                changes.append(Change("create", **base, fields=fields, send=tuple(want)))
                rec = _record(state, kind, res.slug, None)
                if rec is not None and against == "live":
                    drift.append(DriftItem(kind, res.slug, rec.id, [], missing=True, name=res.name))
                continue
            obj = match.live
            rid = str(obj["id"])
            rec = _record(state, kind, match.previous_slug or res.slug, rid)
            if rec is not None:
                expected = _recorded_expected(rec)
                live_c = canon(kind, obj, res.key, expected)
                planned = diff(follow(rec.desired), want)
                for path, sp in secret_paths.get(res.key, {}).items():
                    recorded = rec.secret_refs.get(format_path(path))
                    if (
                        sp.hmac is not None
                        and recorded is not None
                        and recorded.get("hmac") != sp.hmac
                        and not any(c.path[: len(path)] == path for c in planned)
                    ):
                        planned.append(FieldChange(path, "change", sp.template, sp.template))
                drifted = diff(drop_mirrored(kind, follow(rec.payload), want), live_c)
                _mark_secrets(drifted, secret_paths.get(res.key, {}), state, rec, secret_hmacs, drift=True)
                if drifted:
                    drift.append(DriftItem(kind, res.slug, rid, drifted, name=display_name(kind, obj)))
                    if repair_drift:
                        seen = {c.path for c in planned}
                        planned += [_reverse(c) for c in drifted if c.path not in seen]
            else:
                expected = {p: (sp.template, sp.hmac) for p, sp in secret_paths.get(res.key, {}).items()}
                live_c = canon(kind, obj, res.key, expected)
                planned = diff(restrict_to(live_c, want), want)
            live_canonical[res.key] = live_c
            live_hashes.append([kind, rid, content_hash(live_c)])
            _mark_secrets(planned, secret_paths.get(res.key, {}), state, rec, secret_hmacs)
            send = sorted({str(c.path[0]) for c in planned if c.path and not (len(c.path) == 1 and c.op == "remove")})
            unset = sorted({str(c.path[0]) for c in planned if len(c.path) == 1 and c.op == "remove"})
            if not planned and match.how == "previous":
                send = sorted(want)  # a rename always writes: the labels carry the new slug
            if match.how == "previous":
                action = "rename"
            elif match.how in ("name", "payload"):
                action = "adopt"
                send = sorted(set(send) | (set(want) if not planned else set()))
            else:
                action = "update" if planned else "noop"
            changes.append(
                Change(
                    action,
                    **{**base, "id": rid, "previous_slug": match.previous_slug},
                    fields=planned if action != "noop" else [],
                    send=tuple(send),
                    unset=tuple(unset),
                )
            )
    deletes: list[Change] = []
    for kind in sorted(KINDS, key=kind_order, reverse=True):
        spec = KINDS[kind]
        for slug, obj in sorted(identity[kind].orphans.items()):
            if not spec.deletable:
                warnings.append(f"{kind}/{slug} is no longer in the config; ci-deployer never deletes {kind}s")
                continue
            blocked = None
            if not allow_deletes:
                blocked = f"deletes are not allowed in {env} (pass --allow-deletes, or set allowDeletes: true)"
            rid = str(obj["id"])
            live_c = canon(kind, obj, None, _recorded_expected(_record(state, kind, slug, rid)))
            live_hashes.append([kind, rid, content_hash(live_c)])
            deletes.append(Change("delete", kind, slug, rid, display_name(kind, obj), blocked=blocked))
    changes.extend(deletes)
    unmanaged = [
        {"kind": kind, "id": str(obj.get("id")), "name": display_name(kind, obj)}
        for kind in sorted(KINDS, key=kind_order)
        for obj in identity[kind].unmanaged
    ]
    secrets_report = []
    for ref in sorted(set(secret_hmacs) | unresolvable):
        if ref in unresolvable:
            status = "unknown"
        elif state is not None and state.secret_hmacs.get(ref) == secret_hmacs[ref]:
            status = "unchanged"
        else:
            status = "changed"
        secrets_report.append({"ref": ref, "status": status})
    hashed_desired = {}
    for key, want in desired_canonical.items():
        hashed = want
        for path, sp in secret_paths.get(key, {}).items():
            hashed = _replace(hashed, path, f"{SECRET_MARK}{sp.hmac}" if sp.hmac else "unknown:" + ",".join(sp.refs))
        hashed_desired[key] = hashed
    plan_hash = content_hash(
        {
            "env": env,
            "org": environment.org,
            "desired": hashed_desired,
            "live": sorted(live_hashes),
            "changes": [
                [c.action, c.key, c.id, bool(c.blocked), sorted(format_path(f.path) for f in c.fields)]
                for c in changes
                if c.action != "noop"
            ],
        }
    )
    snapshot_info = None
    if state is not None:
        snapshot_info = {"sha": state.sha, "appliedAt": state.applied_at, "run": state.run, "complete": state.complete}
    plan = Plan(
        env=env,
        org=environment.org,
        org_id=org_id,
        against=against,
        snapshot=snapshot_info,
        sha=sha,
        hash=plan_hash,
        logical_hash=logical_hash,
        changes=changes,
        drift=drift,
        unmanaged=unmanaged,
        secrets=secrets_report,
        warnings=warnings,
    )
    return PlanContext(
        plan=plan,
        environment=environment,
        desired=by_key,
        desired_canonical=desired_canonical,
        live=live_lists,
        identity=identity,
        ids=ids,
        state=state,
        masker=masker,
        secret_paths=secret_paths,
        secret_hmacs=secret_hmacs,
        live_canonical=live_canonical,
        renamed=renamed,
    )


def _rename_tokens(data: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(data, dict):
        return {k: _rename_tokens(v, renamed) for k, v in data.items()}
    if isinstance(data, list):
        return [_rename_tokens(v, renamed) for v in data]
    if isinstance(data, str):
        return renamed.get(data, data)
    return data


def _reverse(change: FieldChange) -> FieldChange:
    """A drift (recorded → live) turned into the change that undoes it (live → desired)."""
    op = {"add": "remove", "remove": "add"}.get(change.op, change.op)
    return FieldChange(change.path, op, change.new, change.old, change.secret)  # type: ignore[arg-type]


class _ResolvedValues:
    """Resolves placeholders for HMACs only (the values never leave this object)."""

    def __init__(self, resolver: SecretResolver | None, known: Mapping[str, str]) -> None:
        self._resolver = resolver
        self._known = known
        self._cache: dict[str, str] = {}

    def substitute(self, template: str, refs: list[str]) -> str | None:
        if self._resolver is None or any(ref not in self._known for ref in refs):
            return None
        for ref in refs:
            if ref not in self._cache:
                value = self._resolver.resolve(ref)
                if value is None:
                    return None
                self._cache[ref] = value
        return SECRET_TOKEN.sub(lambda m: self._cache[m.group(1)], template)


def _change_base(res: DesiredResource) -> dict[str, Any]:
    return {"kind": res.kind, "slug": res.slug, "name": res.name, "file": res.file, "line": res.line}


def _record(state: Snapshot | None, kind: str, slug: str, rid: str | None) -> SnapshotRecord | None:
    if state is None:
        return None
    rec = state.record(kind, slug)
    if rec is None or (rid is not None and rec.id != rid):
        return None
    return rec


def _recorded_expected(rec: SnapshotRecord | None) -> dict[Path, tuple[str, str | None]]:
    if rec is None:
        return {}
    out: dict[Path, tuple[str, str | None]] = {}
    for dotted, info in rec.secret_refs.items():
        path = tuple(p for p in parse_pattern(dotted) if p is not None)
        try:
            template = get_path(rec.desired, path)
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(template, str):
            out[path] = (template, info.get("hmac"))
    return out


def _mark_secrets(
    fields: list[FieldChange],
    paths: Mapping[Path, SecretPath],
    state: Snapshot | None,
    rec: SnapshotRecord | None,
    hmacs: Mapping[str, str],
    *,
    drift: bool = False,
) -> None:
    """Replace old/new of secret fields by a status: changed / unchanged / unknown."""
    for i, change in enumerate(fields):
        secret_path = next(
            (p for p in paths if change.path[: len(p)] == p or p[: len(change.path)] == change.path), None
        )
        looks_secret = is_secret_path(change.path) or any(
            isinstance(v, str) and (v.startswith(SECRET_MARK) or "secrets://" in v) for v in (change.old, change.new)
        )
        if secret_path is None and not looks_secret:
            continue
        if secret_path is not None and change.path == secret_path:
            sp = paths[secret_path]
            recorded = rec.secret_refs.get(format_path(secret_path)) if rec is not None else None
            if drift:
                status = "changed"
            elif sp.hmac is None:
                status = "unknown"
            elif recorded is not None and recorded.get("hmac") == sp.hmac and change.old == change.new:
                status = "unchanged"
            else:
                status = "changed"
            fields[i] = FieldChange(change.path, change.op, secret=status)
        elif _contains_secret(change.old) or _contains_secret(change.new) or looks_secret:
            fields[i] = FieldChange(change.path, change.op, secret="changed")  # noqa: S106 - a status


def _contains_secret(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith(SECRET_MARK) or "secrets://" in value
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values()) or any(
            isinstance(k, str) and is_secret_path((k,)) for k in value
        )
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


def _blank_secrets(data: Any, path: Path = ()) -> Any:
    if isinstance(data, dict):
        return {k: _blank_secrets(v, (*path, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [_blank_secrets(v, (*path, i)) for i, v in enumerate(data)]
    if isinstance(data, str) and (is_secret_path(path) or data.startswith(SECRET_MARK) or "secrets://" in data):
        return "<secret>"
    return data


def _replace(data: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict) and head in data:
        return {**data, head: _replace(data[head], rest, value)}
    if isinstance(data, list) and isinstance(head, int) and 0 <= head < len(data):
        return [*data[:head], _replace(data[head], rest, value), *data[head + 1 :]]
    return data


def _id_index(
    identity: Mapping[str, KindIdentity], live: Mapping[str, list[dict[str, Any]]], environment: Environment
) -> tuple[dict[str, str], dict[str, str]]:
    """``(token → id to send, id → token)`` for matched and orphaned resources, KB search tools
    and env credentials."""
    ids: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for slug, cid in environment.credentials.items():
        ids[ref_token(CREDENTIAL, slug)] = cid
        tokens[cid] = ref_token(CREDENTIAL, slug)
    for kind, ident in identity.items():
        for slug, obj in ident.orphans.items():
            ids[ref_token(kind, slug)] = str(obj["id"])
            tokens[str(obj["id"])] = ref_token(kind, slug)
        for slug, match in ident.matches.items():
            ids[ref_token(kind, slug)] = str(match.live["id"])
            tokens[str(match.live["id"])] = ref_token(kind, slug)
    kb_slugs = {str(m.live["id"]): slug for slug, m in identity.get("KnowledgeBase", KindIdentity()).matches.items()}
    for tool in live.get("Tool", []):
        if tool.get("type") in GENERATED_TOOL_TYPES and str(tool.get("knowledgeBaseId")) in kb_slugs:
            # DESIGN §2: a KB slug in toolIds means the search tool Vapi generated for that base.
            token = ref_token("KnowledgeBase", kb_slugs[str(tool["knowledgeBaseId"])])
            ids[token] = str(tool["id"])
            tokens[str(tool["id"])] = token
    return ids, tokens


def token_kind(token: str) -> str | None:
    parsed = parse_ref_token(token)
    return parsed[0] if parsed else None
