"""One environment of one config repository, ready to plan and apply: data and collaborators.

A :class:`Session` is built by the composition root (:mod:`ci_deployer.compose`), which reads the
process environment, runs git, picks the Vapi transport (the embedded emulator or HTTP) and the
state backend.  The engine only uses what it is handed: it never reads the environment, runs git
or knows how the client was made.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ci_deployer.config.documents import DocumentReader
from ci_deployer.config.model import ConfigRepo, Environment, RenderedResource
from ci_deployer.config.secrets import SecretResolver
from ci_deployer.engine import documents
from ci_deployer.engine.model import DesiredResource
from ci_deployer.engine.plan import PlanContext, build_plan
from ci_deployer.engine.scope import Scope, context_keys
from ci_deployer.engine.snapshot import Snapshot
from ci_deployer.engine.state import StateBackend
from ci_deployer.errors import ApiError
from ci_deployer.findings import Finding
from ci_deployer.platform.kinds import KINDS


class PlatformClient(Protocol):
    """What the engine needs from :class:`ci_deployer.platform.client.VapiClient`."""

    def list(self, kind: str) -> builtins.list[dict[str, Any]]: ...

    def get(self, kind: str, id: str) -> dict[str, Any]: ...

    def create(self, kind: str, payload: dict[str, Any], *, retry_unsafe: bool = False) -> dict[str, Any]: ...

    def update(self, kind: str, resource_id: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    def delete(self, kind: str, resource_id: str) -> Any: ...

    def map(self, fn: Callable[[Any], Any], items: builtins.list[Any]) -> builtins.list[Any]: ...

    # behavioural tests (ci_deployer.behaviour): POST /eval/run and GET /eval/run/{id}
    def run_eval(self, payload: dict[str, Any], *, retry_unsafe: bool = False) -> dict[str, Any]: ...

    def get_eval_run(self, id: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


# Builds a client for the env's org; ``on_request`` receives every HTTP attempt (the apply log).
ClientFactory = Callable[[Callable[[Any], None] | None], PlatformClient]


@dataclass
class Session:
    """What the engine needs to plan and apply one environment."""

    repo: ConfigRepo
    environment: Environment
    desired: list[DesiredResource]
    state: StateBackend
    resolver: SecretResolver
    connect: ClientFactory
    sha: str | None = None
    logical_hash: str | None = None
    hmac_key: bytes | None = None  # the env's key for secret fingerprints; None: statuses are "unknown"
    journaled: dict[str, str] = field(default_factory=dict)  # "Kind/slug" → id an interrupted apply created
    documents: DocumentReader | None = None  # knowledge-base document files (None: read under repo.root)
    # The config as loaded once for the command (compose.load_config): the gates reuse it.
    rendered: list[RenderedResource] = field(default_factory=list)
    validation: list[Finding] | None = None  # validation's findings (None: not validated for this session)
    scope: Scope | None = None  # a partial plan's scope (--only, --changed-since): plan() plans it
    _clients: list[PlatformClient] = field(default_factory=list, repr=False)

    @property
    def env(self) -> str:
        return self.environment.name

    def client(self, on_request: Callable[[Any], None] | None = None) -> PlatformClient:
        """A client for the env's org (closed with the session)."""
        client = self.connect(on_request)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close every client this session made (their connection pools)."""
        while self._clients:
            self._clients.pop().close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def latest_state(self) -> Snapshot | None:
        return self.state.latest(self.env)

    def plan(
        self,
        *,
        client: PlatformClient | None = None,
        against: str = "live",
        adopt: bool = False,
        allow_deletes: bool | None = None,
        desired: list[DesiredResource] | None = None,
        repair_drift: bool = False,
        first_deployment: bool = False,
        scope: Scope | None = None,
        listed: dict[str, builtins.list[dict[str, Any]]] | None = None,
    ) -> PlanContext:
        """Plan the env: list the org once per kind (a partial plan: read its resources by id,
        :func:`read_scoped`), or read the snapshot, and diff.

        ``first_deployment``: against a snapshot that does not exist yet (the env was never deployed),
        plan every document as a create instead of refusing.  ``scope``: a partial plan of those
        keys, with the resources they reference as context.  ``listed``: the org as already listed
        (apply replans a reviewed scope on the listing of its full plan)."""
        state = self.latest_state()
        scope = scope if scope is not None else self.scope
        resources = desired if desired is not None else self.desired
        if scope is not None:
            resources = scoped_desired(resources, scope)
        live = None
        if listed is not None:
            live = listed
        elif against == "live":
            client = client or self.client()
            live = read_live(client) if scope is None else read_scoped(client, resources, scope, state, self.journaled)
        elif state is None and first_deployment:
            live = {kind: [] for kind in KINDS}
        # --- knowledge-base documents (engine/documents.py): files listed once, ids known to the planner
        docs_live, index = None, None
        if documents.in_play(resources, state):
            if against == "live":
                client = client or self.client()
                docs_live = documents.read_live(client)  # type: ignore[arg-type]
            else:
                docs_live = documents.from_snapshot(state, self.env)
            index = documents.FileIndex.build(docs_live.files, self.env, state, self.journaled)
        deletes = self.environment.allow_deletes if allow_deletes is None else allow_deletes
        ctx = build_plan(
            self.environment,
            resources,
            live=live,
            state=state,
            hmac_key=self.hmac_key,
            resolver=self.resolver,
            allow_adopt=adopt or self.environment.protection is None,
            adopting=adopt,
            against=against,
            journaled=self.journaled,
            allow_deletes=deletes,
            sha=self.sha,
            logical_hash=self.logical_hash,
            repair_drift=repair_drift,
            extra_ids=index.ids() if index is not None else None,
            scope=scope,
        )
        if docs_live is not None and index is not None:
            from ci_deployer.config.render import document_reader

            reader = self.documents or document_reader(self.repo)
            documents.plan_documents(
                ctx,
                resources,
                live=docs_live,
                index=index,
                reader=reader,
                allow_deletes=deletes,
                partial=scope is not None,
            )
        return ctx


def scoped_desired(resources: builtins.list[DesiredResource], scope: Scope) -> builtins.list[DesiredResource]:
    """The resources a partial plan of ``scope`` is given: its own and those they reference."""
    specs = {r.key: r.spec for r in resources}
    keep = set(scope.keys) | context_keys(specs, scope.keys)
    return [r for r in resources if r.key in keep]


def read_live(client: PlatformClient, kinds: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every kind (or every kind of ``kinds``) listed once, concurrently: no per-resource GETs."""
    names = [k for k in KINDS if kinds is None or k in kinds]
    lists = client.map(client.list, names)
    return {kind: [] for kind in KINDS} | dict(zip(names, lists, strict=True))


def read_scoped(
    client: PlatformClient,
    resources: builtins.list[DesiredResource],
    scope: Scope,
    state: Snapshot | None,
    journaled: Mapping[str, str],
) -> dict[str, list[dict[str, Any]]]:
    """The live resources a partial plan needs: ``resources`` (its scope and context), read by the
    ids the state recorded (``GET /<kind>/{id}``, concurrently) instead of listing whole kinds.

    Why: a one-document change to a 10,000-resource org would otherwise list and identify every
    resource of its kinds.  Identity (labels → recorded ids → previous names → names) finds the
    same matches in what it is given, as long as each resource's recorded object is among it; so a
    kind is still listed, as before, when that cannot be known: a resource of it has no recorded id
    (nor a journaled one, nor one under a previous name), a GET answers 404 (deleted or recreated in
    the org: a listing finds the copy by its label or name), or its GET does not answer what its list
    holds (``Kind.get_is_listed``; the generated search tools of a knowledge base are found by
    listing tools).  A scope that deletes (a document gone) lists its kinds: the delete shows every
    live resource still referencing it.  What reading by id cannot see is a duplicate elsewhere in the
    org (a copy carrying the same label); the full plan of ``apply`` sees it, and a protected env
    refuses a reviewed partial plan when anything outside its scope would change.
    """
    kinds = ({r.kind for r in resources} | {k.partition("/")[0] for k in scope.keys}) & set(KINDS)
    if "KnowledgeBase" in kinds:
        kinds.add("Tool")  # a base's generated search tool is a tool
    wanted = {r.key for r in resources}
    deletes = any(key not in wanted and key.partition("/")[0] in KINDS for key in scope.keys)
    reads: list[tuple[str, str | None]] = []  # (kind, id to GET), or (kind, None): list the kind
    for kind in sorted(kinds):
        ids = None
        if not deletes and not (kind == "Tool" and "KnowledgeBase" in kinds):
            ids = _recorded_ids(kind, [r for r in resources if r.kind == kind], state, journaled)
        reads += [(kind, None)] if ids is None else [(kind, rid) for rid in sorted(ids)]

    def read(item: tuple[str, str | None]) -> builtins.list[dict[str, Any]] | None:
        kind, rid = item
        if rid is None:
            return client.list(kind)
        try:
            return [client.get(kind, rid)]
        except ApiError as exc:
            if exc.status == 404:
                return None  # gone from the org (or recreated): the kind is listed
            raise

    live: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    missing: set[str] = set()
    for (kind, _), got in zip(reads, client.map(read, reads), strict=True):
        if got is None:
            missing.add(kind)
        else:
            live[kind] += got
    if missing:
        relisted = read_live(client, missing)
        live.update({kind: relisted[kind] for kind in missing})
    return live


def _recorded_ids(
    kind: str, resources: builtins.list[DesiredResource], state: Snapshot | None, journaled: Mapping[str, str]
) -> set[str] | None:
    """The ids to read ``resources`` of ``kind`` by: those the state (or an interrupted apply's
    journal) recorded for their slugs and previous names, as identity looks them up.  ``None``: the
    kind must be listed (one of them has no such id, or the kind's GET is not its list item)."""
    if not KINDS[kind].get_is_listed:
        return None
    records = state.ids(kind) if state is not None else {}
    ids: set[str] = set()
    for res in resources:
        found = {rid for slug in (res.slug, *res.previous_names) if (rid := _recorded(records, journaled, kind, slug))}
        if not found:
            return None
        ids |= found
    return ids


def _recorded(records: Mapping[str, str], journaled: Mapping[str, str], kind: str, slug: str) -> str | None:
    return records.get(slug) or journaled.get(f"{kind}/{slug}")
