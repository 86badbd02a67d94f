"""Planning: desired resources + the live org (or the env's snapshot) + state → a :class:`Plan`.

DESIGN §5:
- *planned change*: the desired payload against the desired payload recorded at the last apply
  (server-added defaults never show); with no record, against live restricted to the keys the
  config sets;
- *drift*: live against the response recorded at the last apply;
- *unmanaged*: live, managed by no document, not ignored.

A :class:`Plan` is a plain value (``to_dict`` is the documented plan JSON) with a content hash that
means "the same change" (DESIGN §6): the env, the canonical desired payloads with their secret
placeholders unresolved, the managed live state they were diffed against (a plan against a snapshot
hashes like a live plan of an org that has not drifted) and the changes' paths — never key
material, HMACs, secret statuses, the state folder, which job holds which secret, timestamps or the
git sha.  A secret whose value changed outside git (rotated) is sent and reported, and never
changes the hash.  :class:`PlanContext` carries what apply needs besides.

The planner is a pipeline of named steps (:class:`_Planner`): secrets → identity → per-resource
changes and drift → deletes → unmanaged → secret statuses → hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ci_deployer import jsontext, redact
from ci_deployer.config.model import Environment
from ci_deployer.config.secrets import SECRET_TOKEN, SecretResolver
from ci_deployer.engine.canonical import (
    REDACTED,
    SECRET_MARK,
    SecretMasker,
    SecretSlot,
    canonical_json,
    content_hash,
    drop_mirrored,
    hash_view_of,
    ids_to_refs,
    in_order_of,
    is_secret_path,
    iter_ref_tokens,
    parse_ref_token,
    ref_token,
    refs_to_ids,
    restrict_to,
    strip_server_fields,
    view_hash,
)
from ci_deployer.engine.diff import FieldChange, diff
from ci_deployer.engine.identity import KindIdentity, Match, match_kind
from ci_deployer.engine.model import DesiredResource, IgnoreRules, display_name
from ci_deployer.engine.scope import Scope
from ci_deployer.engine.snapshot import Snapshot, SnapshotRecord
from ci_deployer.errors import ConfigError, StateError
from ci_deployer.paths import Path, format_path, get_path, parse_pattern
from ci_deployer.platform.kinds import CREDENTIAL, GENERATED_TOOL_TYPES, KB_TOOL, KINDS

FORMAT_VERSION = 1
ACTIONS = ("create", "update", "delete", "adopt", "rename", "noop")
ROTATED = "rotated"  # the status of a secret field whose value changed outside git: sent, never hashed
RESENT = "live-differs"  # no HMAC to tell a rotation from an edit in the org: live differs, sent again
SENT_AGAIN = (ROTATED, RESENT)  # secret fields sent again: never in the plan hash
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
    # delete: the live resources whose payload names this one now (shown to reviewers, never hashed;
    # None: not known, as in a plan file written before the field existed)
    referenced_by: list[dict[str, Any]] | None = None
    # KnowledgeBase: its documents added, changed and removed (engine/documents.py; None: none)
    documents: list[dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.slug}"

    @property
    def state_only(self) -> bool:
        """An adopt that writes nothing (the live resource already equals the document and its kind
        carries no labels): only recorded in the state by the next apply."""
        return self.action == "adopt" and not self.fields and not self.send and not self.unset

    @property
    def rotation_only(self) -> bool:
        """Only secrets rotated outside git are sent: a write that never enters the plan hash."""
        return bool(self.fields) and all(f.secret in SENT_AGAIN for f in self.fields)

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"referencedBy": self.referenced_by} if self.referenced_by is not None else {}
        if self.documents is not None:
            extra["documents"] = self.documents
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
        } | extra


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
    scope: Scope | None = None  # a partial plan (--only, --changed-since); None: the whole config

    @property
    def partial(self) -> bool:
        return self.scope is not None

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
        return any(c.action in WRITE_ACTIONS and not c.state_only for c in self.changes)

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
            "scope": self.scope.to_dict() if self.scope is not None else None,
        }

    def to_json(self) -> str:
        """The plan JSON, with every registered secret value masked (values never reach it anyway)."""
        return redact.redact(jsontext.dumps(self.to_dict(), ensure_ascii=False)) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Read a plan file back (for ``apply --plan`` and reports)."""
        if data.get("kind") != "plan" or "hash" not in data:
            raise StateError(
                'not a ci-deployer plan file (no "kind": "plan" with a hash)',
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
                    referenced_by=c.get("referencedBy"),
                    documents=c.get("documents"),
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
            scope=Scope.from_dict(data.get("scope")),
        )


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
    secret_slots: dict[str, dict[Path, SecretSlot]]  # "Kind/slug" → path → its placeholders here
    secret_hmacs: dict[str, str]  # REF → HMAC of its value here (with a key, resolvable refs only)
    live_canonical: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Kind/slug" → canonical
    renamed: dict[str, str] = field(default_factory=dict)  # former ref token → current (renames)
    converged: set[str] = field(default_factory=set)  # keys whose config edits live already holds
    documents: Any = None  # engine.documents.DocumentPlan: uploads, attachments, file deletes (None: none)

    def follow_renames(self, data: Any) -> Any:
        """``data`` with references under a former slug rewritten to the current one."""
        return _rename_tokens(data, self.renamed) if self.renamed else data

    def slots(self, key: str) -> dict[Path, SecretSlot]:
        """Path → secret slot of one resource, for masking its responses."""
        return self.secret_slots.get(key, {})

    def secret_refs(self, key: str) -> dict[str, dict[str, Any]]:
        """What a snapshot records per secret path of a written resource: the placeholders and, with
        a key, the HMAC of the value sent (never the value)."""
        return {
            format_path(path): {
                "ref": slot.refs[0],
                "refs": list(slot.refs),
                "hmac": self.masker.hmac(slot.value) if slot.value is not None else None,
            }
            for path, slot in self.slots(key).items()
            if slot.refs
        }

    def unresolvable(self, keys: set[str]) -> list[str]:
        """The refs of ``keys``' placeholders that cannot be resolved here."""
        return sorted(
            {ref for key in keys for slot in self.slots(key).values() if slot.value is None for ref in slot.refs}
        )


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
    hmac_key: bytes | None,
    resolver: SecretResolver | None,
    allow_adopt: bool,
    allow_deletes: bool,
    sha: str | None = None,
    org_id: str | None = None,
    logical_hash: str | None = None,
    repair_drift: bool = False,
    adopting: bool = False,
    against: str | None = None,
    journaled: Mapping[str, str] | None = None,
    extra_ids: Mapping[str, str] | None = None,
    scope: Scope | None = None,
) -> PlanContext:
    """Plan ``desired`` against ``live`` (kind → listed objects), or against ``state`` when ``live``
    is ``None`` (``--against snapshot``: no API call, and the plan says so).  ``against`` names what
    ``live`` is when given (``snapshot`` with an empty ``live``: a first deployment's plan).

    A protected env whose state is missing while live holds resources refuses (``state-error``):
    it would plan creates over them; ``adopting`` (``--adopt``, onboarding an org) takes them over.

    ``journaled``: ``"Kind/slug"`` → id an interrupted apply created (its journal), for identity.
    ``extra_ids``: ref token → id of things that are not kinds (uploaded documents, ``ref:File/<sha256>``).
    ``repair_drift``: drifted fields become planned changes back to the desired values (rollback,
    ``apply --overwrite-drift``); otherwise drift is only reported.  ``hmac_key``: the env's key for
    secret fingerprints (``None``: secret statuses are told only where the value resolves here).
    ``scope``: a partial plan of those keys (engine/scope.py); ``desired`` then holds the scoped
    resources and the ones they reference (context: identified, never planned)."""
    planner = _Planner(
        environment,
        desired,
        state=state,
        masker=SecretMasker(hmac_key),
        resolver=resolver,
        allow_adopt=allow_adopt,
        allow_deletes=allow_deletes,
        repair_drift=repair_drift,
        journaled=journaled,
        extra_ids=extra_ids,
        scope=scope,
    )
    context = planner.run(live, sha=sha, org_id=org_id, logical_hash=logical_hash, against=against)
    if state is None and environment.protection is not None and not adopting:
        _refuse_unknown_live(environment, context)
    return context


def _refuse_unknown_live(environment: Environment, context: PlanContext) -> None:
    """A protected env without state must find nothing it cannot account for (only ignored resources,
    Vapi's defaults, knowledge-base tools, and resources recognised as its own: by label, or identical
    to a document — what an interrupted first apply created): never plan creates over live resources."""
    found = [
        f"{kind} {display_name(kind, obj) or obj.get('id')}"
        for kind, ident in context.identity.items()
        for obj in ident.unmanaged
    ]
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise StateError(
            f"{environment.name} has no recorded state but its org holds {len(found)} resource(s) ({shown}): "
            "the baseline is missing, so planning would create duplicates; nothing was planned or applied",
            hint="restore the env's last snapshot (its newest apply artifact, `--state-dir`), or review and "
            "apply an `--adopt` plan to take the live resources over",
        )


class _Planner:
    """The planning pipeline for one env; each step is a method, run in order by :meth:`run`."""

    def __init__(
        self,
        environment: Environment,
        desired: list[DesiredResource],
        *,
        state: Snapshot | None,
        masker: SecretMasker,
        resolver: SecretResolver | None,
        allow_adopt: bool,
        allow_deletes: bool,
        repair_drift: bool,
        journaled: Mapping[str, str] | None = None,
        extra_ids: Mapping[str, str] | None = None,
        scope: Scope | None = None,
    ) -> None:
        self.environment = environment
        self.extra_ids = dict(extra_ids or {})
        self.scope = scope
        self.journaled: dict[str, dict[str, str]] = {}  # kind → slug → id an interrupted apply created
        for key, rid in (journaled or {}).items():
            kind, _, slug = key.partition("/")
            self.journaled.setdefault(kind, {})[slug] = rid
        self.env = environment.name
        self.desired = desired
        self.by_key = {res.key: res for res in desired}
        self.desired_of = {kind: [r for r in desired if r.kind == kind] for kind in KINDS}
        self.state = state
        self.masker = masker
        self.resolver = resolver
        self.allow_adopt = allow_adopt
        self.allow_deletes = allow_deletes
        self.repair_drift = repair_drift
        self.ignore = IgnoreRules(tuple(environment.ignore))
        self.warnings: list[str] = []
        self.values: dict[str, str | None] = {}  # REF → its value here (None: not resolvable); never leaves
        self.slots: dict[str, dict[Path, SecretSlot]] = {}
        self.secret_hmacs: dict[str, str] = {}
        self.desired_canonical: dict[str, dict[str, Any]] = {}
        self.identity: dict[str, KindIdentity] = {}
        self.ids: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.renamed: dict[str, str] = {}
        self.changes: list[Change] = []
        self.drift: list[DriftItem] = []
        self.live_canonical: dict[str, dict[str, Any]] = {}
        self.live_hashes: list[list[str]] = []
        self.rotated: dict[str, set[Path]] = {}  # "Kind/slug" → secret paths whose value is sent anew
        self.verified: set[str] = set()  # refs whose value here was found live, as sent
        self.converged: set[str] = set()  # keys whose config edits live already holds (record anew)
        self._referrers: dict[str, list[dict[str, Any]]] | None = None

    # --- the pipeline ------------------------------------------------------------------------------

    def run(
        self,
        live: Mapping[str, list[dict[str, Any]]] | None,
        *,
        sha: str | None,
        org_id: str | None,
        logical_hash: str | None,
        against: str | None = None,
    ) -> PlanContext:
        against = against or "live"
        if live is None:
            if self.state is None:
                raise StateError(
                    f"{self.env} has no snapshot to plan against",
                    hint=f"apply to {self.env} once (or plan with --against live) to record its state",
                )
            against = "snapshot"
            live = live_from_snapshot(self.state, self.environment)
            org_id = org_id or self.state.org_id
        live_lists = {kind: list(live.get(kind) or []) for kind in KINDS}
        if against == "live":
            org_id = self.check_org(live_lists) or org_id
        if self.state is not None and self.state.legacy_key_dropped:
            self.warnings.append(
                f"the state of {self.env} kept its HMAC key beside the secret fingerprints; the key and the "
                "fingerprints were dropped (secret statuses read unknown until the next apply with a key "
                "from secrets.hmacKey)"
            )
        self.resolve_secrets()
        self.identify(live_lists)
        for kind in sorted(KINDS, key=kind_order):
            self.warnings.extend(self.identity[kind].warnings)
            for res in sorted(self.desired_of[kind], key=lambda r: r.slug):
                if self.in_scope(res.key):
                    self.plan_resource(res, against)
        self.plan_deletes()
        plan = Plan(
            env=self.env,
            org=self.environment.org,
            org_id=org_id,
            against=against,
            snapshot=self.snapshot_info(),
            sha=sha,
            hash=self.plan_hash(),
            logical_hash=logical_hash,
            changes=self.changes,
            drift=self.drift,
            unmanaged=self.unmanaged(),
            secrets=self.secret_report(),
            warnings=self.warnings,
            scope=self.scope,
        )
        return PlanContext(
            plan=plan,
            environment=self.environment,
            desired=self.by_key,
            desired_canonical=self.desired_canonical,
            live=live_lists,
            identity=self.identity,
            ids=self.ids,
            state=self.state,
            masker=self.masker,
            secret_slots=self.slots,
            secret_hmacs=self.secret_hmacs,
            live_canonical=self.live_canonical,
            renamed=self.renamed,
            converged=self.converged,
        )

    # --- step 0: the org ------------------------------------------------------------------------------

    def expected_org(self) -> tuple[str | None, str]:
        """The org id the env's key must reach, and where that is known from."""
        if self.environment.org_id:
            return self.environment.org_id, "its orgId in environments.yaml"
        if self.state is not None and self.state.org_id:
            return self.state.org_id, "its recorded state"
        return None, ""

    def check_org(self, live: Mapping[str, list[dict[str, Any]]]) -> str | None:
        """The org the listed resources belong to; :class:`StateError` when it is not the env's (a
        token of another org would plan "adopt" for its resources and write into it)."""
        found = {str(o["orgId"]) for objs in live.values() for o in objs if o.get("orgId")}
        expected, source = self.expected_org()
        if expected is not None and found - {expected}:
            other = ", ".join(sorted(found - {expected}))
            raise StateError(
                f"the API key of {self.env} reaches org {other}, but {self.env} is org {expected} ({source}); "
                "nothing was planned or applied",
                hint=f"check which secret {self.env}'s api.token reads: it must be the private key of "
                f"{self.environment.org} ({expected})",
            )
        return next(iter(found)) if len(found) == 1 else None

    # --- step 1: secrets ---------------------------------------------------------------------------

    def value_of(self, ref: str) -> str | None:
        if ref not in self.values:
            self.values[ref] = self.resolver.resolve(ref) if self.resolver is not None else None
        return self.values[ref]

    def resolve_secrets(self) -> None:
        """Each ref resolved once; per placeholder string its template, its value here and the HMAC
        recorded at the last apply.  Only HMACs leave this object (with a key)."""
        for res in self.desired:
            for sref in res.secrets:
                try:
                    value = self.value_of(sref.ref)
                except ConfigError as error:  # refused by the resolver: say which document holds it
                    if not res.file or error.path:
                        raise
                    raise ConfigError(error.message, path=res.file, line=res.line, hint=error.hint) from None
                digest = self.masker.hmac(value) if value is not None else None
                if digest is not None:
                    self.secret_hmacs[sref.ref] = digest
            slots: dict[Path, SecretSlot] = {}
            for path in {tuple(s.path) for s in res.secrets}:
                try:
                    template = get_path(res.spec, path)
                except (KeyError, IndexError, TypeError):
                    continue
                if not isinstance(template, str):
                    continue
                refs = tuple(m.group(1) for m in SECRET_TOKEN.finditer(template))
                values = [self.value_of(ref) for ref in refs]
                value = None
                if all(v is not None for v in values):
                    value = SECRET_TOKEN.sub(lambda m: str(self.values[m.group(1)]), template)
                slots[path] = SecretSlot(template, refs, value, None)
            if slots:
                self.slots[res.key] = slots
            self.desired_canonical[res.key] = self.masker.mask_desired(res.spec)

    def with_recorded(self, key: str, rec: SnapshotRecord | None) -> dict[Path, SecretSlot]:
        """The resource's slots with the HMACs its last apply recorded (used to tell "sent by us")."""
        return merge_recorded(self.slots.get(key, {}), rec)

    # --- step 2: identity --------------------------------------------------------------------------

    def identify(self, live_lists: dict[str, list[dict[str, Any]]]) -> None:
        """Labels, snapshot ids, previous names, names; then, for nameless kinds, identical payloads."""
        records_of = {kind: (self.state.ids(kind) if self.state is not None else {}) for kind in KINDS}
        for kind in KINDS:
            self.identity[kind] = match_kind(
                kind,
                self.desired_of[kind],
                live_lists[kind],
                records_of[kind],
                self.env,
                allow_adopt=self.allow_adopt,
                ignore=self.ignore,
                journaled=self.journaled.get(kind),
            )
        self.ids, self.tokens = _id_index(self.identity, live_lists, self.environment, self.extra_ids)
        rematched = False
        for kind in KINDS:
            if any(r.slug not in self.identity[kind].matches for r in self.desired_of[kind]):
                rematched = True
                self.identity[kind] = match_kind(
                    kind,
                    self.desired_of[kind],
                    live_lists[kind],
                    records_of[kind],
                    self.env,
                    allow_adopt=self.allow_adopt,
                    ignore=self.ignore,
                    same_payload=self.same_payload,
                    journaled=self.journaled.get(kind),
                )
        if rematched:  # else the index above is already this one
            self.ids, self.tokens = _id_index(self.identity, live_lists, self.environment, self.extra_ids)
        if self.scope is not None and self.state is not None:
            # A partial plan identifies only its scope and context: live references to the other
            # resources it manages still show as slugs, by the ids the state recorded.
            for rec in self.state.resources:
                self.tokens.setdefault(rec.id, ref_token(rec.kind, rec.slug))
        # A rename keeps the id: references recorded under the former slug are the same reference.
        self.renamed = {
            ref_token(kind, m.previous_slug): ref_token(kind, slug)
            for kind, ident in self.identity.items()
            for slug, m in ident.matches.items()
            if m.previous_slug
        }

    def canon(self, kind: str, obj: dict[str, Any], key: str | None, slots: Mapping[Path, SecretSlot]) -> Any:
        """A live object in canonical form: server fields stripped, ids → tokens, secrets masked."""
        want = self.desired_canonical.get(key) if key else None
        payload = drop_mirrored(kind, strip_server_fields(kind, obj), want)  # before ids_to_refs: same paths
        return self.masker.canonical_live(payload, slots, want, self.tokens)

    def same_payload(self, res: DesiredResource, obj: dict[str, Any]) -> bool:
        mine = self.desired_canonical[res.key]
        theirs = restrict_to(self.canon(res.kind, obj, res.key, {}), mine)
        return bool(_blank_secrets(theirs) == _blank_secrets(mine))

    def follow(self, data: Any) -> Any:
        return _rename_tokens(data, self.renamed) if self.renamed else data

    # --- step 3: one desired resource --------------------------------------------------------------

    def plan_resource(self, res: DesiredResource, against: str) -> None:
        kind = res.kind
        want = self.desired_canonical[res.key]
        match: Match | None = self.identity[kind].matches.get(res.slug)
        base = _change_base(res)
        if match is None:
            if not KINDS[kind].creatable:
                self.warnings.append(
                    f"{res.key}: {res.name or res.slug} is not in the org and ci-deployer does not create "
                    f"{kind}s: add it in Vapi first, then plan again"
                )
                return
            fields = [FieldChange((k,), "add", None, v) for k, v in in_order_of(want, res.spec).items()]
            self.mark_secrets(res.key, fields)
            self.changes.append(Change("create", **base, fields=fields, send=tuple(want)))
            rec = _record(self.state, kind, res.slug, None)
            if rec is not None and against == "live":
                self.drift.append(DriftItem(kind, res.slug, rec.id, [], missing=True, name=res.name))
            return
        obj = match.live
        rid = str(obj["id"])
        rec = _record(self.state, kind, match.previous_slug or res.slug, rid)
        slots = self.with_recorded(res.key, rec)
        live_c = self.canon(kind, obj, res.key, slots)
        if rec is not None:
            planned = diff(self.follow(rec.desired), want)
            drifted = diff(drop_mirrored(kind, self.follow(rec.payload), want), live_c)
            # The same edit made in the config and outside: live already is what the config now says.
            # Nothing to write for those fields, and nothing changed that the config does not want.
            settled = {c.path for c in planned if _at(live_c, c.path) == _at(want, c.path)}
            if settled:
                planned = [c for c in planned if c.path not in settled]
                drifted = [c for c in drifted if c.path not in settled]
                self.converged.add(res.key)
            self.mark_secrets(res.key, drifted, drift=True)
            if drifted:
                self.drift.append(DriftItem(kind, res.slug, rid, drifted, name=display_name(kind, obj)))
                if self.repair_drift:
                    seen = {c.path for c in planned}
                    planned += [_reverse(c) for c in drifted if c.path not in seen]
        else:
            planned = diff(restrict_to(live_c, want), want)
        planned += self.rotations(res.key, slots, obj, against, planned)
        self.live_canonical[res.key] = live_c
        self.live_hashes.append([kind, rid, view_hash(live_c)])
        self.mark_secrets(res.key, planned)
        send = sorted({str(c.path[0]) for c in planned if c.path and not (len(c.path) == 1 and c.op == "remove")})
        unset = sorted({str(c.path[0]) for c in planned if len(c.path) == 1 and c.op == "remove"})
        if not planned and match.how == "previous":
            send = sorted(want)  # a rename always writes: the labels carry the new slug
        if match.how == "previous":
            action = "rename"
        elif match.how == "name":
            action = "adopt"
            # Assistants take the labels (a write); other kinds that already equal the document are
            # only recorded by the next apply: nothing to send.
            send = sorted(set(send) | (set(want) if not planned and KINDS[kind].labels else set()))
        else:
            action = "update" if planned else "noop"
        if match.how == "recovered" and self.journaled.get(kind, {}).get(res.slug) == rid:
            self.warnings.append(
                f"{res.key}: recovered {display_name(kind, obj) or rid} (id {rid}), created by an interrupted "
                "apply (its journal): it is this document's resource, not a new one"
            )
        elif match.how == "recovered":
            self.warnings.append(
                f"{res.key}: matched {display_name(kind, obj) or rid} (id {rid}) by identical content (left by an "
                "interrupted apply or a lost answer, or made by hand): it is this document's resource, not a new one"
            )
        self.changes.append(
            Change(
                action,
                **{**base, "id": rid, "previous_slug": match.previous_slug},
                fields=in_document_order(planned, res.spec) if action != "noop" else [],
                send=tuple(send),
                unset=tuple(unset),
            )
        )

    def rotations(
        self, key: str, slots: Mapping[Path, SecretSlot], obj: dict[str, Any], against: str, planned: list[FieldChange]
    ) -> list[FieldChange]:
        """Secret fields whose value here differs from the one last sent (rotated outside git): they
        are sent again, reported, and kept out of the plan hash."""
        out: list[FieldChange] = []
        if not slots:
            return out
        live = ids_to_refs(obj, self.tokens) if against == "live" else None
        for path, slot in slots.items():
            if slot.value is None or any(c.path[: len(path)] == path for c in planned):
                continue
            same = self.masker.matches_recorded(slot.value, slot.recorded)
            current: Any = None
            if live is not None:
                try:
                    current = get_path(live, path)
                except (KeyError, IndexError, TypeError):
                    current = None
            if same is None and live is not None:
                if isinstance(current, str) and current == slot.value:
                    self.verified.update(slot.refs)
                else:  # no HMAC recorded here: a rotation and an edit in the org look the same
                    out.append(FieldChange(path, "change", secret=RESENT))
                    self.rotated.setdefault(key, set()).add(path)
            elif same is False:
                out.append(FieldChange(path, "change", secret=ROTATED))
                self.rotated.setdefault(key, set()).add(path)
            elif same is True:
                self.verified.update(slot.refs)  # an edit in the org is drift: the masked views differ
        return out

    def mark_secrets(self, key: str, fields: list[FieldChange], *, drift: bool = False) -> None:
        """A field that is a placeholder's string, or a secret marker, shows a status (changed /
        unknown / rotated) instead of values.  Anything else shows as it is: placeholders are config
        text, and a subtree holding one (a create's ``server`` map) is shown whole (values never are)."""
        slots = self.slots.get(key, {})
        for i, change in enumerate(fields):
            if change.secret is not None:
                continue
            slot = slots.get(change.path)
            if slot is not None:
                status = "changed" if drift or slot.value is not None else "unknown"
            elif any(
                isinstance(v, str) and (v.startswith(SECRET_MARK) or v == REDACTED) for v in (change.old, change.new)
            ):
                status = "changed"
            else:
                continue
            fields[i] = FieldChange(change.path, change.op, secret=status)

    # --- step 4: deletes, unmanaged ----------------------------------------------------------------

    def in_scope(self, key: str) -> bool:
        """Planned here: every key of a full plan; a partial plan's own keys (not its context)."""
        return self.scope is None or key in self.scope.keys

    def plan_deletes(self) -> None:
        for kind in sorted(KINDS, key=kind_order, reverse=True):
            spec = KINDS[kind]
            for slug, obj in sorted(self.identity[kind].orphans.items()):
                if not self.in_scope(f"{kind}/{slug}"):
                    continue  # a partial plan deletes only its scoped documents that are gone
                if not spec.deletable:
                    self.warnings.append(f"{kind}/{slug} is no longer in the config; ci-deployer never deletes {kind}s")
                    continue
                blocked = None
                if not self.allow_deletes:
                    blocked = f"deletes are not allowed in {self.env} (pass --allow-deletes, or set allowDeletes: true)"
                rid = str(obj["id"])
                rec = _record(self.state, kind, slug, rid)
                live_c = self.canon(kind, obj, None, recorded_slots(rec) if rec else {})
                self.live_hashes.append([kind, rid, view_hash(live_c)])
                referrers = self.referrers().get(ref_token(kind, slug), [])
                self.changes.append(
                    Change("delete", kind, slug, rid, display_name(kind, obj), blocked=blocked, referenced_by=referrers)
                )

    def referrers(self) -> dict[str, list[dict[str, Any]]]:
        """Ref token → the live resources (managed, orphaned or unmanaged) whose payload names it,
        indexed once: what a delete would leave dangling unless the plan changes them too."""
        if self._referrers is None:
            index: dict[str, list[dict[str, Any]]] = {}
            for kind in sorted(KINDS, key=kind_order):
                ident = self.identity[kind]
                found: list[tuple[str | None, dict[str, Any]]] = [
                    (slug, m.live) for slug, m in sorted(ident.matches.items())
                ]
                found += sorted(ident.orphans.items()) + [(None, obj) for obj in ident.unmanaged]
                for slug, obj in found:
                    own = ref_token(kind, slug) if slug else None
                    payload = ids_to_refs(strip_server_fields(kind, obj), self.tokens)
                    for token in sorted({t for _, k, s in iter_ref_tokens(payload) if (t := ref_token(k, s)) != own}):
                        who = {"kind": kind, "slug": slug, "id": str(obj.get("id")), "name": display_name(kind, obj)}
                        index.setdefault(token, []).append(who)
            self._referrers = index
        return self._referrers

    def unmanaged(self) -> list[dict[str, Any]]:
        if self.scope is not None:
            return []  # a partial plan does not read the whole config: it cannot tell what nothing manages
        return [
            {"kind": kind, "id": str(obj.get("id")), "name": display_name(kind, obj)}
            for kind in sorted(KINDS, key=kind_order)
            for obj in self.identity[kind].unmanaged
        ]

    # --- step 5: secret statuses, hash ---------------------------------------------------------------

    def secret_report(self) -> list[dict[str, Any]]:
        """Per placeholder: unchanged / changed (sent anew) / unknown (not resolvable, or nothing
        here to compare with), and whether it resolves in this run (``resolvable``)."""
        rotated_refs = {
            ref for key, paths in self.rotated.items() for path in paths for ref in self.slots[key][path].refs
        }
        out = []
        for ref in sorted({sref.ref for res in self.desired if self.in_scope(res.key) for sref in res.secrets}):
            value = self.values.get(ref)
            recorded = self.state.secret_hmacs.get(ref) if self.state is not None else None
            if value is None:
                status = "unknown"
            elif ref in rotated_refs:
                status = "changed"
            else:
                same = self.masker.matches_recorded(value, recorded)
                if same is None and ref in self.verified:
                    same = True
                status = "unknown" if same is None else ("unchanged" if same else "changed")
            out.append({"ref": ref, "status": status, "resolvable": value is not None})
        return out

    def plan_hash(self) -> str:
        """The hash of "the same change": see the module docstring."""
        scoped = {"scope": sorted(self.scope.keys)} if self.scope is not None else {}
        desired = {key: want for key, want in self.desired_canonical.items() if self.in_scope(key)}
        hashed = {
            **scoped,  # a partial plan's hash covers its scope (a full plan's has no such key)
            "env": self.env,
            "org": self.environment.org,
            "desired": desired,
            "live": sorted(self.live_hashes),
            "changes": [
                [
                    c.action,
                    c.key,
                    c.id,
                    bool(c.blocked),
                    sorted(format_path(f.path) for f in c.fields if f.secret not in SENT_AGAIN),
                ]
                for c in self.changes
                if c.action != "noop" and not c.rotation_only
            ],
        }
        text = canonical_json(hashed)
        if SECRET_MARK not in text and REDACTED not in text:  # no marker anywhere: hash_view changes nothing
            return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
        return content_hash({**hashed, "desired": {key: hash_view_of(want) for key, want in desired.items()}})

    def snapshot_info(self) -> dict[str, Any] | None:
        if self.state is None:
            return None
        state = self.state
        return {"sha": state.sha, "appliedAt": state.applied_at, "run": state.run, "complete": state.complete}


def in_document_order(fields: list[FieldChange], spec: Mapping[str, Any]) -> list[FieldChange]:
    """Presentation only: ``fields`` in the order their paths appear in the document, maps inside
    their values keyed in the document's order (:func:`in_order_of`).  The hash and apply never
    depend on it (the hash sorts paths; what is sent is the desired payload)."""

    def position(path: Path) -> tuple[int, ...]:
        node: Any = spec
        out: list[int] = []
        for step in path:
            if isinstance(node, dict) and step in node:
                out.append(list(node).index(step))
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
                out.append(step)
                node = node[step]
            else:
                out.append(len(node) if isinstance(node, (dict, list)) else 0)  # gone from the document: last
                node = None
        return tuple(out)

    def like(path: Path) -> Any:
        try:
            return get_path(spec, path)
        except (KeyError, IndexError, TypeError):
            return None

    ordered = sorted(fields, key=lambda change: position(change.path))
    return [replace(c, old=in_order_of(c.old, like(c.path)), new=in_order_of(c.new, like(c.path))) for c in ordered]


def _rename_tokens(data: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(data, dict):
        return {k: _rename_tokens(v, renamed) for k, v in data.items()}
    if isinstance(data, list):
        return [_rename_tokens(v, renamed) for v in data]
    if isinstance(data, str):
        return renamed.get(data, data)
    return data


_ABSENT = object()


def _at(data: Any, path: Path) -> Any:
    try:
        return get_path(data, path)
    except (KeyError, IndexError, TypeError):
        return _ABSENT


def _reverse(change: FieldChange) -> FieldChange:
    """A drift (recorded → live) turned into the change that undoes it (live → desired)."""
    op = {"add": "remove", "remove": "add"}.get(change.op, change.op)
    return FieldChange(change.path, op, change.new, change.old, change.secret)  # type: ignore[arg-type]


def _change_base(res: DesiredResource) -> dict[str, Any]:
    return {"kind": res.kind, "slug": res.slug, "name": res.name, "file": res.file, "line": res.line}


def _record(state: Snapshot | None, kind: str, slug: str, rid: str | None) -> SnapshotRecord | None:
    if state is None:
        return None
    rec = state.record(kind, slug)
    if rec is None or (rid is not None and rec.id != rid):
        return None
    return rec


def merge_recorded(slots: Mapping[Path, SecretSlot], rec: SnapshotRecord | None) -> dict[Path, SecretSlot]:
    """``slots`` with the HMACs ``rec`` recorded, plus the slots only ``rec`` knows."""
    if rec is None:
        return dict(slots)
    out = recorded_slots(rec)
    for path, slot in slots.items():
        recorded = out[path].recorded if path in out else None
        out[path] = SecretSlot(slot.template, slot.refs, slot.value, recorded)
    return out


def recorded_slots(rec: SnapshotRecord | None) -> dict[Path, SecretSlot]:
    """The secret slots a snapshot record kept (templates and HMACs; no values)."""
    if rec is None:
        return {}
    out: dict[Path, SecretSlot] = {}
    for dotted, info in rec.secret_refs.items():
        path = tuple(p for p in parse_pattern(dotted) if p is not None)
        try:
            template = get_path(rec.desired, path)
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(template, str):
            digest = info.get("hmac") if isinstance(info, dict) else None
            refs = tuple(m.group(1) for m in SECRET_TOKEN.finditer(template))
            out[path] = SecretSlot(template, refs, None, digest if isinstance(digest, str) else None)
    return out


def _blank_secrets(data: Any, path: Path = ()) -> Any:
    if isinstance(data, dict):
        return {k: _blank_secrets(v, (*path, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [_blank_secrets(v, (*path, i)) for i, v in enumerate(data)]
    if isinstance(data, str) and (is_secret_path(path) or data.startswith(SECRET_MARK) or "secrets://" in data):
        return "<secret>"
    return data


def _id_index(
    identity: Mapping[str, KindIdentity],
    live: Mapping[str, list[dict[str, Any]]],
    environment: Environment,
    extra: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """``(token → id to send, id → token)`` for matched and orphaned resources, KB search tools,
    env credentials and ``extra`` (token → id: uploaded documents)."""
    ids: dict[str, str] = dict(extra or {})
    tokens: dict[str, str] = {rid: token for token, rid in (extra or {}).items()}
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
            token = ref_token(KB_TOOL, kb_slugs[str(tool["knowledgeBaseId"])])
            ids[token] = str(tool["id"])
            tokens[str(tool["id"])] = token
    return ids, tokens


def token_kind(token: str) -> str | None:
    parsed = parse_ref_token(token)
    return parsed[0] if parsed else None
