"""The config model: plain dataclasses shared by config/, validate/ and engine/.

Positions are kept for every node so that any finding can name file, line and column: a
``Document.positions`` map goes from a concrete path inside the *document* (``("spec", "model",
"toolIds", 0)``) to its 1-based ``(line, column)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, Literal

from ci_deployer.paths import Path

if TYPE_CHECKING:
    from ci_deployer.config.documents import DocumentFile

DriftPolicy = Literal["warn", "fail"]
PlanAgainst = Literal["live", "snapshot"]


@dataclass(frozen=True)
class Position:
    file: str  # relative to the config root, with forward slashes
    line: int | None = None
    column: int | None = None


@dataclass
class ChangeWindow:
    days: list[str]  # mon..sun
    start: str  # "09:00"
    end: str  # "16:00"
    timezone: str  # IANA name


@dataclass
class Freeze:
    start: str  # ISO date (inclusive), `from:` in YAML
    end: str  # ISO date (inclusive), `to:` in YAML
    reason: str = ""
    timezone: str | None = None  # IANA name the dates are in; None: UTC (used by gates/windows.py)


@dataclass
class TicketRule:
    pattern: str
    url: str | None = None


@dataclass
class Protection:
    required_approvals: int = 0
    reviewers: list[str] = field(default_factory=list)
    change_windows: list[ChangeWindow] = field(default_factory=list)
    freezes: list[Freeze] = field(default_factory=list)
    ticket: TicketRule | None = None
    plan_against: PlanAgainst = "snapshot"
    monitoring: list[dict[str, Any]] = field(default_factory=list)
    # protection.canary.rollbackOnFailure: a failing canary eval restores the before-snapshot
    canary_rollback: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VaultSettings:
    """``secrets.vault``: where ``secrets://vault/PATH#KEY`` reads (a KV v2 engine) and how it logs in."""

    address: str  # https://vault.example.com:8200
    mount: str = "secret"  # the KV v2 engine's mount path
    namespace: str | None = None  # X-Vault-Namespace (Vault Enterprise, HCP Vault)
    auth_method: Literal["jwt", "token"] = "token"  # jwt: GitHub OIDC in Actions (VAULT_TOKEN elsewhere)
    auth_mount: str = "jwt"  # the JWT auth method's mount: POST /v1/auth/<mount>/login
    role: str | None = None  # the JWT auth role (required with auth_method jwt)
    audience: str | None = None  # aud of the GitHub OIDC token (default: the address)


@dataclass(frozen=True)
class AwsSettings:
    """``secrets.aws``: where ``secrets://aws/NAME#KEY`` reads (Secrets Manager) and which role it assumes."""

    region: str
    role_arn: str | None = None  # assumed with the GitHub OIDC token (AssumeRoleWithWebIdentity)
    audience: str = "sts.amazonaws.com"  # aud of the GitHub OIDC token, as aws-actions/configure-aws-credentials
    endpoint: str | None = None  # Secrets Manager and STS endpoint override (VPC endpoint, LocalStack, tests)


@dataclass(frozen=True)
class GcpSettings:
    """``secrets.gcp``: where ``secrets://gcp/NAME[#VERSION]`` reads (Secret Manager)."""

    project: str  # project id or number
    endpoint: str | None = None  # Secret Manager API base override (private endpoint, tests)
    # Workload Identity Federation with the GitHub OIDC token (no key file): the provider's resource
    # name, projects/N/locations/global/workloadIdentityPools/POOL/providers/PROVIDER
    workload_identity_provider: str | None = None
    service_account: str | None = None  # impersonated after federation (optional)
    audience: str | None = None  # default: //iam.googleapis.com/<workload_identity_provider>


@dataclass(frozen=True)
class SecretSettings:
    """An environment's ``secrets:`` block: where its ``secrets://`` placeholders may read (DESIGN §2).

    The boundary itself (what is always denied, and why) is :func:`ci_deployer.config.secrets.check_boundary`.
    Each secret manager (``vault``, ``aws``, ``gcp``) has a field of its own, ``None`` when the env
    does not configure it: its placeholders are then a validate error (a dev run never reaches
    prod's store).  Parsed by :mod:`ci_deployer.config.secrets_block`.
    """

    allow: tuple[str, ...] | None = None  # env-var name patterns placeholders may read; None: any not denied
    file_root: str | None = None  # secrets://file/ only below this folder (relative: to the working dir)
    hmac_key: str | None = None  # a secrets:// placeholder: the key for secret fingerprints
    vault: VaultSettings | None = None  # secrets://vault/… (None: not configured for this env)
    aws: AwsSettings | None = None  # secrets://aws/…
    gcp: GcpSettings | None = None  # secrets://gcp/…
    # Refs of the deployer's own credentials in *every* environment (api.token, secrets.hmacKey):
    # a placeholder in a spec may never read them, whichever env is planned.
    reserved: frozenset[str] = frozenset()


@dataclass
class Environment:
    name: str
    org: str
    api_url: str  # "embedded" or an https URL
    api_token: str | None  # a secrets:// placeholder (never a literal token), None for embedded
    params: dict[str, Any] = field(default_factory=dict)  # defaults.params merged with the env's
    credentials: dict[str, str] = field(default_factory=dict)  # credential slug → Vapi credential id
    promotes_from: str | None = None
    ignore: list[str] = field(default_factory=list)  # "name:Legacy *", "id:…", "kind/slug"
    protection: Protection | None = None
    drift: DriftPolicy = "warn"
    allow_deletes: bool = True
    plan_against: PlanAgainst = "live"
    position: Position = Position("environments.yaml")
    org_id: str | None = None  # optional pin: the Vapi org id the env's key must reach
    embedded_data: str | None = None  # api.data: an embedded org's folder, relative to the config root
    secrets: SecretSettings = SecretSettings()


@dataclass
class Metadata:
    name: str  # the slug
    previous_names: list[str] = field(default_factory=list)
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    environments: list[str] | None = None  # None: every environment


@dataclass
class Document:
    """One config document as read from disk (includes, policies and templates not applied yet)."""

    kind: str
    metadata: Metadata
    policies: list[str]
    spec: dict[str, Any]
    file: str  # relative to the config root
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # Behavioural tests, as written (parsed and checked by ci_deployer.config.behaviour):
    test: Any = None  # Eval: the `test:` block (targets, environments, canary)
    smoke: Any = None  # Tool: the `smoke:` cases
    # KnowledgeBase: the envelope's `documents:` block as written (None: no block, documents unmanaged)
    documents: list[Any] | None = None

    @property
    def slug(self) -> str:
        return self.metadata.name

    @property
    def key(self) -> str:
        """``"Tool/jira"`` — unique per repository."""
        return f"{self.kind}/{self.slug}"

    def position(self, path: Path = ()) -> Position:
        """Position of ``path`` (inside the document) or of its nearest ancestor that has one."""
        probe = tuple(path)
        while True:
            mark = self.positions.get(probe)
            if mark is not None:
                return Position(self.file, mark[0], mark[1])
            if not probe:
                return Position(self.file, 1, 1)
            probe = probe[:-1]

    def applies_to(self, env: str) -> bool:
        return self.metadata.environments is None or env in self.metadata.environments


@dataclass
class ConfigRepo:
    root: FsPath
    environments: dict[str, Environment]
    documents: list[Document]
    defaults: dict[str, Any] = field(default_factory=dict)

    def documents_of(self, kind: str) -> list[Document]:
        return [d for d in self.documents if d.kind == kind]


@dataclass(frozen=True)
class Reference:
    """A slug reference found in a rendered spec: at ``path`` (inside ``spec``) names ``slug``
    of one of ``kinds`` (the kinds table's targets, or the one kind of a ``{ref: kind/slug}``)."""

    path: Path
    kinds: tuple[str, ...]
    slug: str


@dataclass(frozen=True)
class SecretRef:
    """A ``secrets://REF`` placeholder at ``path`` inside ``spec``; ``whole`` when the value is
    exactly the placeholder, else it is a token inside a longer string."""

    path: Path
    ref: str  # "ORDERS_API_TOKEN", "file/creds/x.txt", "vault/kv/app#token"
    whole: bool


@dataclass
class RenderedResource:
    """One resource as desired in one environment: policies merged, includes resolved, templates
    rendered.  References are still slugs and secrets still placeholders; the engine resolves both."""

    kind: str
    slug: str
    spec: dict[str, Any]
    document: Document
    refs: list[Reference] = field(default_factory=list)
    secrets: list[SecretRef] = field(default_factory=list)
    # KnowledgeBase: the files its `documents:` block lists (None: no block); config/documents.py
    documents: list[DocumentFile] | None = None
    # every file this resource needs uploaded: its documents and its `{document: …}` references
    files: list[DocumentFile] = field(default_factory=list)
    # the spec is a JSON copy of the document's (no rendering step would change it: render.plain_resource):
    # plain data in the document's key order, the same as the document's logical spec
    plain: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.slug}"

    def position(self, path: Path = ()) -> Position:
        """Position of a path inside ``spec`` (mapped back to the document; policy-merged values
        point at the document's ``spec`` key)."""
        return self.document.position(("spec", *path))
