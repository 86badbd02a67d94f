"""The composition root: the one place that turns settings into collaborators.

The CLI and the action read :class:`~ci_deployer.settings.Settings` once and call this module, which
loads and validates the config, resolves the env's API token, builds the Vapi client (the embedded
emulator in-process for ``api: {url: embedded}``, HTTP otherwise), the state backend (a local folder,
or one seeded from the default branch's artifacts by the action), the secret resolver, the git
facts (sha, config prefix) and the GitHub adapter, and hands them to the engine and the gates, which
never read the environment, run git or import the emulator themselves.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_deployer import redact
from ci_deployer.config.model import ConfigRepo, Environment, RenderedResource
from ci_deployer.config.secrets import EnvSecretResolver, SecretResolver, find_placeholders, resolve_credential
from ci_deployer.engine.session import ClientFactory, PlatformClient, Session
from ci_deployer.engine.state import STATE_DIR, LocalStateBackend, StateBackend
from ci_deployer.errors import ConfigError, ValidationFailed
from ci_deployer.findings import Finding
from ci_deployer.secrets.base import store_of
from ci_deployer.settings import Settings

if TYPE_CHECKING:
    from ci_deployer.config.parsecache import ParseCache
    from ci_deployer.config.partial import FileChange
    from ci_deployer.engine.plan import Plan
    from ci_deployer.engine.scope import Scope
    from ci_deployer.gates.evaluate import GateInputs
    from ci_deployer.gates.model import GateReport
    from ci_deployer.github.client import ClientOptions, GitHubSource
    from ci_deployer.secrets.stores import SecretStores

EMBEDDED = "embedded"
EMBEDDED_URL = "http://embedded.invalid"  # never resolved: the transport answers in-process
RUNS_DIR = (".ci-deployer", "runs")
DEFAULT_CONCURRENCY = 32  # bounded; the client halves it on every 429 (AIMD)


# -- config ------------------------------------------------------------------------------------------


def default_config_dir(cwd: Path | None = None) -> Path:
    """DESIGN §2: ``--config`` defaults to ./platform when it exists, else the current folder."""
    base = cwd or Path()
    platform = base / "platform"
    return platform if (platform / "environments.yaml").exists() else base


def validation_findings(root: Path, envs: list[str] | None) -> list[Finding]:
    """Every finding of ``ci-deployer validate`` for ``envs`` (None: all)."""
    from ci_deployer.validate.runner import validate_repo

    return validate_repo(root, envs)


@dataclass
class LoadedConfig:
    """The config as one command reads it, once: loaded, rendered for ``env`` and (unless the caller
    validated it otherwise) validated.  The session, the gates' checklist and the logical hash all
    reuse it; nothing reads or renders the files a second time."""

    repo: ConfigRepo
    env: str
    rendered: list[RenderedResource]
    findings: list[Finding] | None  # validation's findings (None: not validated here)


def parse_cache(settings: Settings, root: Path) -> ParseCache | None:
    """The cache of parsed files of the config at ``root`` (None: disabled, or no cache folder)."""
    if settings.cache_dir is None:
        return None
    from ci_deployer.config.parsecache import ParseCache

    return ParseCache.for_root(settings.cache_dir, root)


def load_config(root: Path, env: str, *, validate: bool = True, cache: ParseCache | None = None) -> LoadedConfig:
    """Load, render and (with ``validate``) validate ``env`` of the config at ``root`` in one pass
    (files parsed through ``cache`` when given).

    Raises :class:`ValidationFailed` when the config has errors for ``env`` (before any API call)."""
    if validate:
        from ci_deployer.validate.runner import run

        result = run(root, [env], cache=cache)
        if not result.ok or result.repo is None:
            raise ValidationFailed(result.findings, f"the config for {env} has errors; nothing was planned or applied")
        return LoadedConfig(result.repo, env, result.rendered.get(env, []), result.findings)
    from ci_deployer.config import render

    repo = load_repo(root, cache)
    environment_of(repo, env)
    resources, findings = render.render_env(repo, env)
    if any(f.level == "error" for f in findings):
        raise ValidationFailed(findings)
    return LoadedConfig(repo, env, resources, None)


def load_repo(root: Path, cache: ParseCache | None = None) -> ConfigRepo:
    """The config repository, or :class:`ValidationFailed` with the loader's findings."""
    from ci_deployer.config import loader

    repo, findings = loader.load_repo(root, cache)
    if any(f.level == "error" for f in findings):
        raise ValidationFailed(findings)
    return repo


def environment_of(repo: ConfigRepo, env: str) -> Environment:
    """The env's settings, or a located error naming the known envs."""
    environment = repo.environments.get(env)
    if environment is None:
        known = ", ".join(sorted(repo.environments)) or "none"
        raise ConfigError(
            f"unknown environment {env!r}", path="environments.yaml", hint=f"environments defined: {known}"
        )
    return environment


# -- secrets -----------------------------------------------------------------------------------------


class RedactingResolver:
    """A resolver that registers every value it returns for redaction (and tells ``on_value``, e.g.
    the action's ``::add-mask::``) before anyone can print it."""

    def __init__(self, inner: SecretResolver, on_value: Iterable[Callable[[str], None]] = ()) -> None:
        self._inner = inner
        self._on_value = list(on_value)

    def resolve(self, ref: str) -> str | None:
        return self._seen(self._inner.resolve(ref))

    def resolve_credential(self, ref: str) -> str | None:
        """One of the deployer's own credentials (API token, HMAC key): outside the placeholder boundary."""
        return self._seen(resolve_credential(self._inner, ref))

    def _seen(self, value: str | None) -> str | None:
        if value is not None:
            redact.register(value)
            for callback in self._on_value:
                callback(value)
        return value


def secret_stores(
    settings: Settings, environment: Environment, on_value: Iterable[Callable[[str], None]] = ()
) -> SecretStores:
    """The env's secret managers (``secrets.vault|aws|gcp``), with this run's identities from the
    settings (never from placeholders).  Every credential they obtain — an OIDC token, a Vault token,
    temporary AWS keys, a Google access token — is registered for redaction and handed to
    ``on_value`` (the action's ``::add-mask::``) before it is used."""
    from ci_deployer.secrets.stores import SecretStores

    callbacks = list(on_value)

    def on_credential(value: str) -> None:
        redact.register(value)
        for callback in callbacks:
            callback(value)

    return SecretStores(environment.secrets, environment.name, settings.cloud, on_credential)


def secret_resolver(
    settings: Settings, environment: Environment, on_value: Iterable[Callable[[str], None]] = ()
) -> RedactingResolver:
    """The resolver of the env's ``secrets://`` placeholders, inside its boundary (DESIGN §2): env
    variables, files and the env's own secret managers, every value masked the moment it is read."""
    callbacks = list(on_value)
    stores = secret_stores(settings, environment, callbacks)
    return RedactingResolver(EnvSecretResolver(settings.environ, environment, stores), callbacks)


def hmac_key(environment: Environment, resolver: SecretResolver) -> bytes | None:
    """The env's key for secret fingerprints (``secrets.hmacKey``), or ``None``: statuses then read
    "unknown" unless the value can be compared live."""
    placeholder = environment.secrets.hmac_key
    refs = find_placeholders(placeholder) if placeholder else []
    if not refs:
        return None
    value = resolve_credential(resolver, refs[0][0])
    return value.encode("utf-8") if value else None


def api_token(environment: Environment, resolver: SecretResolver) -> str | None:
    """The env's private API key from its ``api.token`` placeholder (ConfigError naming the variable)."""
    placeholder = environment.api_token
    if not placeholder:
        return None
    refs = find_placeholders(placeholder)
    if not refs:
        return placeholder
    value = resolve_credential(resolver, refs[0][0])  # the deployer's own credential: outside the boundary
    if value is None:
        raise ConfigError(
            f"the API token of {environment.name} (secrets://{refs[0][0]}) is not set",
            path=environment.position.file,
            line=environment.position.line,
            hint=f"set the environment variable {refs[0][0]} to the org's private API key "
            f"(in GitHub Actions: `env: {refs[0][0]}: ${{{{ secrets.{refs[0][0]} }}}}`)",
        )
    return value


def token_available(environment: Environment, settings: Settings) -> bool:
    """Whether the env's API key can be read here (embedded orgs need none)."""
    if environment.api_url == EMBEDDED or not environment.api_token:
        return True
    refs = find_placeholders(environment.api_token)
    if not refs:
        return True
    if store_of(refs[0][0]) is not None:  # in a secret manager: whether this run has an identity for it
        return secret_stores(settings, environment).available(refs[0][0])
    return EnvSecretResolver(settings.environ).resolve_credential(refs[0][0]) is not None


# -- the Vapi client ---------------------------------------------------------------------------------


def client_factory(
    root: Path,
    environment: Environment,
    token_resolver: SecretResolver,
    *,
    transport: Any = None,
    max_concurrency: int = DEFAULT_CONCURRENCY,
) -> ClientFactory:
    """Clients for the env's org: the embedded emulator in-process, or HTTP with the env's key.

    The key is resolved on the first connect, not before: a plan against the snapshot needs none."""
    base_url = environment.api_url
    if base_url == EMBEDDED:
        from ci_deployer.emulator import embedded_transport

        data = Path(environment.embedded_data) if environment.embedded_data else Path(".ci-deployer", "emulator")
        transport = transport or embedded_transport(root, environment.org, data)
        base_url = EMBEDDED_URL
    token: list[str | None] = []

    def connect(on_request: Callable[[Any], None] | None) -> PlatformClient:
        from ci_deployer.platform.client import VapiClient

        if not token:
            token.append(None if base_url == EMBEDDED_URL else api_token(environment, token_resolver))
        return VapiClient(
            base_url, token[0], transport=transport, on_request=on_request, max_concurrency=max_concurrency
        )

    return connect


# -- git -------------------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_sha(root: Path, settings: Settings) -> str | None:
    """``GITHUB_SHA`` when set, else ``git rev-parse HEAD`` in ``root``, else ``None``."""
    return settings.sha or _git(root, "rev-parse", "HEAD") or None


def git_prefix(root: Path) -> str:
    """The config root relative to its git work tree, with a trailing slash (``""`` at the top)."""
    return _git(root, "rev-parse", "--show-prefix") or ""


# -- state -----------------------------------------------------------------------------------------


def local_state(root: Path, state_dir: Path | None = None) -> LocalStateBackend:
    """The state folder: ``--state-dir`` or ``<config>/.ci-deployer/state``."""
    return LocalStateBackend(state_dir if state_dir is not None else root.joinpath(*STATE_DIR))


def runs_dir(root: Path, env: str) -> Path:
    """Where an apply's files go by default: ``<config>/.ci-deployer/runs/<env>/<stamp>/``."""
    return root.joinpath(*RUNS_DIR, env, datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ"))


def journals(root: Path, env: str, extra: Iterable[Path] = ()) -> list[Path]:
    """The apply logs that may be journals of interrupted applies of ``env``: the default runs folder,
    plus ``extra`` folders (the action's artifacts folder), oldest first."""
    found = list(root.joinpath(*RUNS_DIR, env).glob("*/apply-log.jsonl"))
    for folder in extra:
        found += folder.glob("*/apply-log.jsonl")
    return sorted(found, key=lambda path: path.stat().st_mtime)


def interrupted_ids(paths: Iterable[Path], env: str, org: str, state: StateBackend) -> dict[str, str]:
    """``"Kind/slug"`` → id created by interrupted applies of ``env`` since its state was saved (read
    before the next plan, so a SIGKILL never leads to a duplicate)."""
    from ci_deployer.engine.auditlog import interrupted_writes

    paths = list(paths)
    if not paths:
        return {}  # no journal to read back: the state (megabytes for a big org) is not needed here
    latest = state.latest(env)
    run = latest.run if latest is not None and not latest.complete else None
    when = latest.applied_at if latest is not None else None
    recovered: dict[str, str] = {}
    for path in paths:
        recovered.update(interrupted_writes(path, env, org, run, when) or {})
    return recovered


# -- partial plans (--only, --changed-since): git is read here, never in the engine -----------------


@dataclass(frozen=True)
class Partial:
    """What a partial plan was asked to cover (``--only kind/slug``, ``--changed-since REF``)."""

    only: tuple[str, ...] = ()
    changed_since: str | None = None

    @property
    def asked(self) -> bool:
        return bool(self.only) or self.changed_since is not None


def has_commit(root: Path, ref: str) -> bool:
    """Whether ``ref`` names a commit of the git repository holding ``root``."""
    return (
        bool(ref)
        and not ref.startswith("-")
        and _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is not None
    )


def changed_files(root: Path, ref: str) -> list[FileChange]:
    """The config files changed since ``ref`` (committed, staged, in the work tree, untracked), relative
    to ``root``, renames detected; :class:`ConfigError` when ``ref`` is not a commit here."""
    from ci_deployer.config.partial import FileChange

    if not has_commit(root, ref):
        raise ConfigError(
            f"--changed-since {ref!r} is not a commit of the git repository holding {root}",
            hint="fetch it first (actions/checkout with `fetch-depth: 0`), or pass a sha or branch that exists here",
        )
    out = _git(root, "diff", "--name-status", "-M", "-z", "--relative", ref, "--", ".")
    if out is None:
        raise ConfigError(f"git diff against {ref} failed in {root}", hint="run it in a git checkout of the config")
    fields = out.split("\0")
    changes: list[FileChange] = []
    i = 0
    while i < len(fields) and fields[i]:
        code = fields[i][0]
        if code in "RC":
            renamed = code == "R"  # a copy is a new file
            changes.append(FileChange("R" if renamed else "A", fields[i + 2], fields[i + 1] if renamed else None))
            i += 3
        else:
            changes.append(FileChange(code if code in "ADM" else "M", fields[i + 1]))
            i += 2
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", ".") or ""
    changes += [FileChange("A", rel) for rel in untracked.split("\0") if rel]
    return [c for c in changes if not any(part.startswith(".") for part in Path(c.path).parts)]


def load_partial(
    root: Path,
    env: str,
    partial: Partial,
    *,
    validate: bool = True,
    config: LoadedConfig | None = None,
    cache: ParseCache | None = None,
) -> tuple[LoadedConfig, Scope | None]:
    """The config a partial plan needs and its scope (``None``: a full plan, when environments.yaml
    changed).  Only the scoped documents, their neighbours and what they reference are parsed
    (:mod:`ci_deployer.config.partial`); ``config``: the whole config, already loaded (its documents
    are reused; nothing is parsed again)."""
    from ci_deployer.config import partial as part
    from ci_deployer.engine.scope import Scope

    loader = part.PartialLoader(root)
    if config is not None:
        loader.preload(config.repo.documents)
    files: tuple[str, ...] = ()
    if partial.changed_since is not None:
        ref = partial.changed_since
        changes = changed_files(root, ref)
        files = tuple(sorted({c.path for c in changes} | {c.old for c in changes if c.old}))
        prefix = git_prefix(root)

        def old_text(rel: str) -> str | None:
            return _git(root, "show", f"{ref}:{prefix}{rel}")

        seeds, gone, full = part.changed_keys(loader, changes, old_text)
        if full:
            return (config or load_config(root, env, validate=validate, cache=cache)), None
        selection = part.select(loader, env, seeds, gone, neighbours=True)
    else:
        keys = set(part.parse_only(partial.only))
        present = {d.key for d in loader.defining(keys).values()}
        part.refuse_undefined(loader, sorted(keys - present))
        selection = part.select(loader, env, present, set(), neighbours=False)
    scope = Scope(frozenset(selection.scope), partial.only, partial.changed_since, files)
    if config is not None:
        wanted = {r.key for r in selection.resources}
        return LoadedConfig(config.repo, env, [r for r in config.rendered if r.key in wanted], config.findings), scope
    findings: list[Finding] | None = None
    if validate:
        from ci_deployer.validate.runner import check

        result = check(root, selection.repo, selection.findings, [env], other_files=False)
        if not result.ok:
            raise ValidationFailed(result.findings, f"the config for {env} has errors; nothing was planned or applied")
        findings = result.findings
    elif any(f.level == "error" for f in selection.findings):
        raise ValidationFailed(selection.findings)
    return LoadedConfig(selection.repo, env, selection.resources, findings), scope


# -- sessions --------------------------------------------------------------------------------------


def open_session(
    settings: Settings,
    root: Path,
    env: str,
    *,
    validate: bool = True,
    state: StateBackend | None = None,
    transport: Any = None,
    on_secret: Iterable[Callable[[str], None]] = (),
    journal_dirs: Iterable[Path] = (),
    config: LoadedConfig | None = None,
    partial: Partial | None = None,
) -> Session:
    """Load, validate and render ``env`` of the config at ``root`` (once: ``config`` when the caller
    has it already); build its collaborators.

    The journals of interrupted applies (the default runs folder and ``journal_dirs``) are read back
    so their creates are known before the first plan.

    Raises :class:`ValidationFailed` when validation finds errors for ``env`` (before any API call).
    """
    from ci_deployer.config import render
    from ci_deployer.engine.canonical import content_hash
    from ci_deployer.engine.model import from_rendered

    scope = None
    cache = parse_cache(settings, root) if config is None else None
    if partial is not None and partial.asked:
        loaded, scope = load_partial(root, env, partial, validate=validate, config=config, cache=cache)
    else:
        loaded = config if config is not None else load_config(root, env, validate=validate, cache=cache)
    repo = loaded.repo
    environment = environment_of(repo, env)
    resolver = secret_resolver(settings, environment, on_secret)
    backend = state if state is not None else local_state(root)
    return Session(
        repo=repo,
        environment=environment,
        desired=from_rendered(loaded.rendered, environment),
        state=backend,
        resolver=resolver,
        connect=client_factory(root, environment, resolver, transport=transport),
        sha=git_sha(root, settings),
        # a partial session holds a part of the config: no logical hash (promotion compares whole configs)
        logical_hash=content_hash(render.logical_specs(repo, env, loaded.rendered)) if scope is None else None,
        hmac_key=hmac_key(environment, resolver),
        journaled=interrupted_ids(journals(root, env, journal_dirs), env, environment.org, backend),
        rendered=loaded.rendered,
        validation=loaded.findings,
        scope=scope,
    )


# -- GitHub ------------------------------------------------------------------------------------------


def github_source(settings: Settings, options: ClientOptions | None = None) -> GitHubSource | None:
    """The GitHub adapter when a token and the repository are known (API base from ``GITHUB_API_URL``)."""
    if not settings.github_token or not settings.repository:
        return None
    from ci_deployer.github.client import GitHubSource, connect

    client = connect(settings.github_token, settings.api_url, options)
    return GitHubSource(client, client.get_repo(settings.repository))  # lazy: no request yet


# -- gates -------------------------------------------------------------------------------------------


def secret_status(session: Session, settings: Settings) -> dict[str, bool]:
    """REF → whether it resolves here, for every placeholder of the env and its API key (values are
    never kept), through the session's resolver: the same stores plan and apply read."""
    from ci_deployer.errors import DeployerError

    def resolves(ref: str, read: Callable[[str], str | None]) -> bool:
        try:
            return read(ref) is not None
        except DeployerError:  # refused, or the store failed: not present here
            return False

    status = {ref.ref: resolves(ref.ref, session.resolver.resolve) for res in session.desired for ref in res.secrets}
    token = session.environment.api_token
    if session.environment.api_url != EMBEDDED and token:
        for ref, _, _ in find_placeholders(token):
            status[ref] = resolves(ref, lambda r: resolve_credential(session.resolver, r))
    return dict(sorted(status.items()))


@dataclass
class GateRequest:
    """What the operation asks of the gates (the command's inputs)."""

    ticket: str | None = None
    break_glass_reason: str | None = None
    attestations: tuple[str, ...] = ()
    plan_hash: str | None = None
    reviewed_plan_hash: str | None = None
    backup: Path | None = None  # the before-snapshot file apply wrote (None: pending)
    rollback_of_known_snapshot: bool = False
    validation: tuple[bool, str] | None = None
    sha: str | None = None


def gate_inputs(
    session: Session,
    settings: Settings,
    root: Path,
    request: GateRequest,
    *,
    github: GitHubSource | None,
    now: datetime | None = None,
) -> GateInputs:
    """Every piece of gate evidence for the session's env that can be gathered here."""
    from ci_deployer.gates.collect import collect_inputs

    validation = request.validation
    if validation is None:
        findings = session.validation if session.validation is not None else validation_findings(root, [session.env])
        errors = [f for f in findings if f.level == "error"]
        if errors:
            first = errors[0]
            validation = (False, f"validate: {len(errors)} error(s), first {first.location()}: {first.message}")
        else:
            validation = (True, "validate: no errors")

    def read_snapshot(env: str) -> dict[str, Any] | None:
        snapshot = session.state.latest(env)
        return snapshot.to_dict() if snapshot is not None else None

    def read_tests(env: str) -> dict[str, Any] | None:
        record = session.state.latest_tests(env)
        # a transient run tested a PR's config inline: it says nothing about what env applied
        return record if record is None or record.get("mode") != "transient" else None

    return collect_inputs(
        session.repo,
        session.env,
        now or datetime.now(UTC),
        sha=request.sha or session.sha,
        ticket=request.ticket,
        break_glass_reason=request.break_glass_reason,
        attestations=request.attestations,
        plan_hash=request.plan_hash,
        reviewed_plan_hash=request.reviewed_plan_hash,
        backup_exists=request.backup.is_file() if request.backup is not None else None,
        rollback_of_known_snapshot=request.rollback_of_known_snapshot,
        validation=validation,
        dispatcher=settings.dispatcher,
        secrets_resolvable=secret_status(session, settings),
        read_snapshot=read_snapshot,
        read_tests=read_tests,
        github=github,
        config_prefix=git_prefix(root),
        rendered=session.rendered,
        logical=session.logical_hash,
    )


def evaluate_gates(
    session: Session,
    settings: Settings,
    root: Path,
    request: GateRequest,
    *,
    github: GitHubSource | None,
    now: datetime | None = None,
) -> GateReport:
    """The gates' report for the session's env (not enforced)."""
    from ci_deployer.gates.evaluate import evaluate

    return evaluate(session.environment, gate_inputs(session, settings, root, request, github=github, now=now))


def pre_write_check(
    session: Session,
    settings: Settings,
    root: Path,
    request: GateRequest,
    *,
    github: GitHubSource | None,
    record: Callable[[GateReport], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Callable[[Environment, Plan], dict[str, Any]] | None:
    """Apply's gate check for envs with ``protection`` or ``promotesFrom`` (None for the rest: they
    have nothing to enforce).  Evidence is gathered when apply has its fresh plan and backup."""
    environment = session.environment
    if environment.protection is None and environment.promotes_from is None:
        return None
    from ci_deployer.gates.hook import enforcing

    def gather(env: Environment, plan: Plan) -> GateInputs:
        asked = GateRequest(**{**request.__dict__, "plan_hash": plan.hash, "validation": (True, "validated by apply")})
        return gate_inputs(session, settings, root, asked, github=github, now=(clock or _now)())

    return enforcing(gather, record)


def _now() -> datetime:
    return datetime.now(UTC)
