"""The composition root for one environment: config, desired resources, client, state, secrets.

Everything the engine touches from outside (the environment variables, git, the file system, the
API) is reached here and handed in: ``environ`` is a parameter, never read at import time.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Any

from ci_deployer import redact
from ci_deployer.config.model import ConfigRepo, Environment
from ci_deployer.config.secrets import EnvSecretResolver, SecretResolver, find_placeholders, resolve_credential
from ci_deployer.engine.apply import PlatformClient
from ci_deployer.engine.canonical import content_hash
from ci_deployer.engine.model import DesiredResource, from_rendered
from ci_deployer.engine.plan import PlanContext, build_plan
from ci_deployer.engine.snapshot import Snapshot
from ci_deployer.engine.state import LocalStateBackend, StateBackend
from ci_deployer.errors import ConfigError, ValidationFailed
from ci_deployer.platform.kinds import KINDS

EMBEDDED = "embedded"
EMBEDDED_URL = "http://embedded.invalid"  # never resolved: the transport answers in-process
STATE_DIR = (".ci-deployer", "state")
RUNS_DIR = (".ci-deployer", "runs")
DEFAULT_CONCURRENCY = 32  # bounded; the client halves it on every 429 (AIMD)


def git_sha(root: FsPath, environ: Mapping[str, str]) -> str | None:
    """``GITHUB_SHA`` when set, else ``git rev-parse HEAD`` in ``root``, else ``None``."""
    if environ.get("GITHUB_SHA"):
        return environ["GITHUB_SHA"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def run_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def make_client(
    base_url: str,
    token: str | None,
    *,
    transport: Any = None,
    on_request: Callable[[Any], None] | None = None,
    max_concurrency: int = DEFAULT_CONCURRENCY,
) -> PlatformClient:
    """The platform's ``VapiClient`` when available, else the engine's minimal fallback client."""
    import importlib

    try:
        vapi_client: Any = importlib.import_module("ci_deployer.platform.client").VapiClient
    except (ImportError, AttributeError):
        from ci_deployer.engine._fallback_client import FallbackClient

        return FallbackClient(
            base_url, token, transport=transport, on_request=on_request, max_concurrency=max_concurrency
        )
    client: PlatformClient = vapi_client(
        base_url, token, transport=transport, on_request=on_request, max_concurrency=max_concurrency
    )
    return client


@dataclass
class Session:
    """One environment of one config repository, ready to plan and apply."""

    root: FsPath
    repo: ConfigRepo
    environment: Environment
    desired: list[DesiredResource]
    state: StateBackend
    resolver: SecretResolver
    sha: str | None
    logical_hash: str | None
    base_url: str
    token: str | None
    transport: Any = None
    max_concurrency: int = DEFAULT_CONCURRENCY
    _clients: list[Any] = field(default_factory=list, repr=False)

    @property
    def env(self) -> str:
        return self.environment.name

    def client(self, on_request: Callable[[Any], None] | None = None) -> PlatformClient:
        """A client for the env's org (the embedded emulator for ``api: {url: embedded}``).

        The API token is resolved here, not before: a plan against the snapshot needs none."""
        if self.token is None and self.base_url != EMBEDDED_URL:
            self.token = _token(self.environment, self.resolver)
        client = make_client(
            self.base_url,
            self.token,
            transport=self.transport,
            on_request=on_request,
            max_concurrency=self.max_concurrency,
        )
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close every client this session made (their connection pools)."""
        while self._clients:
            close = getattr(self._clients.pop(), "close", None)
            if callable(close):
                close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs_dir(self) -> FsPath:
        return self.root.joinpath(*RUNS_DIR, self.env, run_stamp())

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
    ) -> PlanContext:
        """Plan the env: list the org once per kind (or read the snapshot) and diff."""
        state = self.latest_state()
        live = None
        if against == "live":
            live = read_live(client or self.client())
        return build_plan(
            self.environment,
            desired if desired is not None else self.desired,
            live=live,
            state=state,
            hmac_key=self.state.hmac_key(self.env),
            resolver=self.resolver,
            allow_adopt=adopt or self.environment.protection is None,
            allow_deletes=self.environment.allow_deletes if allow_deletes is None else allow_deletes,
            sha=self.sha,
            logical_hash=self.logical_hash,
            repair_drift=repair_drift,
        )


def read_live(client: PlatformClient) -> dict[str, list[dict[str, Any]]]:
    """Every kind listed once (concurrently): no per-resource GETs."""
    names = list(KINDS)
    lists = client.map(client.list, names)
    return dict(zip(names, lists, strict=True))


def open_session(
    root: FsPath,
    env: str,
    environ: Mapping[str, str],
    *,
    validate: bool = True,
    state: StateBackend | None = None,
    transport: Any = None,
) -> Session:
    """Load, validate and render ``env`` of the config at ``root``; build its client settings.

    Raises :class:`ValidationFailed` when validation finds errors for ``env`` (before any API call).
    """
    from ci_deployer.config import loader, render

    if validate:
        from ci_deployer.validate.runner import validate_repo

        findings = validate_repo(root, [env])
        if any(f.level == "error" for f in findings):
            raise ValidationFailed(findings, f"the config for {env} has errors; nothing was planned or applied")
    repo, findings = loader.load_repo(root)
    if any(f.level == "error" for f in findings):
        raise ValidationFailed(findings)
    resources, findings = render.render_env(repo, env)
    if any(f.level == "error" for f in findings):
        raise ValidationFailed(findings)
    environment = repo.environments[env]
    resolver = EnvSecretResolver(environ, environment)  # the env's secrets boundary (DESIGN §2)
    base_url, token = environment.api_url, None
    if base_url == EMBEDDED:
        from ci_deployer.emulator import embedded_transport

        transport = transport or embedded_transport(root, environment.org)
        base_url = EMBEDDED_URL
    try:
        logical: str | None = content_hash(render.logical_specs(repo, env))
    except Exception:  # the promotion hash is informative here; gates compute their own
        logical = None
    return Session(
        root=root,
        repo=repo,
        environment=environment,
        desired=from_rendered(resources, environment),
        state=state or LocalStateBackend(root.joinpath(*STATE_DIR)),
        resolver=resolver,
        sha=git_sha(root, environ),
        logical_hash=logical,
        base_url=base_url,
        token=token,
        transport=transport,
    )


def _token(environment: Environment, resolver: SecretResolver) -> str | None:
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
            hint=f"set the environment variable {refs[0][0]} to the org's private API key",
        )
    redact.register(value)
    return value
