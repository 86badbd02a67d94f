"""The GitHub Action's entry point (``ci-deployer-action``, the container's ENTRYPOINT).

One face of the same commands the CLI runs: the settings and inputs are read once, the composition
root (:mod:`ci_deployer.compose`) builds the session, and the typed command cores return values
(plans, apply results, gate reports) that the reporters render — no argv strings, no captured stdout.

Around the cores this face adds the GitHub side: secrets masked (``::add-mask::``) the moment they
are resolved, annotations on workspace-relative file lines, the sticky PR comment per environment
(the plan's, and the behavioural tests' own), commit statuses ``ci-deployer/<command> (<env>)``
(plan, apply, test), the job summary, artifacts through the results service, the env's state (and
its ``promotesFrom`` env's snapshot and test results) seeded from default-branch artifacts, the
reviewed plan an apply compares against, a Deployment per apply, and the canary after an apply to a
protected env (rolled back on failure where the env says so).  A plan with changes does not
fail the step (``has_changes=true``, exit 0); any failure sets ``failure_reason`` and an exit code
from the one error handler (:mod:`ci_deployer.error_handler`).

Fork PRs (a read-only token and no secrets) get validate and snapshot plans in the job summary and
annotations; nothing is written to GitHub and the step stays green.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ci_deployer import compose, redact
from ci_deployer.error_handler import EXIT_DRIFT, EXIT_FAILED, EXIT_OK, Failure, guarded
from ci_deployer.errors import (
    ConfigError,
    DeployerError,
    GateRefused,
    GitHubError,
    PlanChanged,
    StateError,
    ValidationFailed,
)
from ci_deployer.findings import Finding
from ci_deployer.github import commands
from ci_deployer.github.client import ClientOptions, GitHubSource
from ci_deployer.github.inputs import Inputs, read_inputs
from ci_deployer.interrupts import cancellable
from ci_deployer.logsafe import neutralize
from ci_deployer.progress import LineProgress
from ci_deployer.report import markdown
from ci_deployer.report.locations import config_prefix, located
from ci_deployer.settings import Settings

if TYPE_CHECKING:
    import httpx

    from ci_deployer.behaviour.canary import CanaryOutcome
    from ci_deployer.engine.apply import ApplyResult
    from ci_deployer.engine.plan import Plan
    from ci_deployer.engine.scope import Scope
    from ci_deployer.engine.session import Session
    from ci_deployer.engine.state import StateBackend
    from ci_deployer.gates.model import GateReport
    from ci_deployer.validate.runner import ValidationResult

OUTPUT_NAMES = ("has_changes", "plan_hash", "failure_reason", "summary", "exit_code", "artifacts_dir")
APPLY_FILES = (
    "apply-log.jsonl",
    "backup-before.json",
    "snapshot-after.json",
    "apply-result.json",
    "gate-report.json",
    "plan.json",
    "plan.md",
    "test-results.json",  # the canary's, after an apply to a protected env
)
TEST_FILES = ("test-results.json", "tests.md")
ROLLBACK_FILES = ("apply-log.jsonl", "backup-before.json", "snapshot-after.json", "apply-result.json")
ARTIFACTS_DIR = (".ci-deployer", "artifacts")


@dataclass
class Services:
    """What the action talks to, injectable for tests (PyGithub options, the results service transport)."""

    github_options: ClientOptions = field(default_factory=ClientOptions)
    artifact_transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Result:
    """The outcome the action reports through its outputs."""

    exit_code: int = EXIT_OK
    failure_reason: str = ""
    has_changes: bool = False
    plan_hash: str = ""
    summary: str = ""


@dataclass
class Reviewed:
    """The plan an apply compares against, and where it came from."""

    plan: Plan | None = None
    hash: str | None = None
    source: str = ""
    scope: Scope | None = None  # the reviewed plan's scope when it was partial (the comment's marker)


class ActionRun:
    """One run of the action: settings and inputs in; outputs, summary, comment, statuses, artifacts out."""

    def __init__(self, settings: Settings, inputs: Inputs, out: commands.Workflow, services: Services) -> None:
        self.settings = settings
        self.inputs = inputs
        self.out = out
        self.services = services
        self.env = inputs.environment
        self.root = self._config_root()
        self.prefix = config_prefix(self.root, settings.workspace)
        self.work_dir = self._work_dir()
        self.uploaded: list[str] = []
        self._github: GitHubSource | None = None
        self._validation: ValidationResult | None = None

    # -- where things are ---------------------------------------------------------------------------

    def _config_root(self) -> Path:
        """The config folder: ``config_path`` (workspace-relative), else ./platform, else the workspace."""
        if self.inputs.config_path:
            path = Path(self.inputs.config_path)
            return path if path.is_absolute() else self.settings.workspace / path
        return compose.default_config_dir(self.settings.workspace)

    def _work_dir(self) -> Path:
        """Where this step's files go: ``artifacts_dir`` (workspace-relative), else a folder under the
        workspace's ``.ci-deployer/artifacts/`` — a path later steps on the host can read (the
        container's ``RUNNER_TEMP`` is not the host's path)."""
        if self.inputs.artifacts_dir:
            path = Path(self.inputs.artifacts_dir)
            return path if path.is_absolute() else self.settings.workspace / path
        s = self.settings
        name = f"{self.env or 'all'}-{self.inputs.command}-{s.run_id or 'local'}-{s.run_attempt}"
        return s.workspace.joinpath(*ARTIFACTS_DIR, name)

    def display_dir(self) -> str:
        """The work dir as later steps use it: workspace-relative when inside the workspace."""
        try:
            return self.work_dir.resolve().relative_to(self.settings.workspace.resolve()).as_posix()
        except ValueError:
            return str(self.work_dir)

    def artifact_name(self, command: str) -> str:
        from ci_deployer.github.artifacts import artifact_name

        s = self.settings
        return artifact_name(self.env, command, s.run_id, s.run_attempt, s.job)

    def run_info(self, sha: str | None = None) -> markdown.RunInfo:
        return markdown.RunInfo(
            run_url=self.settings.run_url,
            sha=sha or self.settings.head_sha,
            artifact_name=self.artifact_name(self.inputs.command),
        )

    # -- GitHub ----------------------------------------------------------------------------------------

    @property
    def github(self) -> GitHubSource | None:
        """The GitHub adapter (built on first use), ``None`` without a token."""
        if self._github is None:
            self._github = compose.github_source(self.settings, self.services.github_options)
        return self._github

    @property
    def can_write(self) -> bool:
        """Whether writing to GitHub may work: a fork PR's token is read-only, so nothing is attempted."""
        return self.github is not None and not self.settings.read_only_token

    def set_status(self, command: str, sha: str, state: str, description: str) -> None:
        if not (self.can_write and sha and self.env):
            return
        from ci_deployer.github.statuses import context_for, set_status

        assert self.github is not None
        try:
            set_status(
                self.github.repo,
                sha,
                command=command,
                env=self.env,
                state=state,
                description=description,
                url=self.settings.run_url,
            )
        except GitHubError as error:
            self.out.warning(f"the commit status {context_for(command, self.env)} was not set: {error}")

    def post_failure(self, command: str, failure: Failure) -> None:
        """Say in the ``command`` comment (plan or test) why the command failed, without a plan hash."""
        self.post_comment(
            lambda marker: markdown.render_failure(
                command=command,
                env=self.env,
                failure_reason=failure.failure_reason,
                message=failure.message,
                hint=failure.hint,
                run=self.run_info(),
                marker=marker,
            ),
            None,
            kind=command,
        )

    def post_comment(
        self,
        body_for: Callable[[str], str],
        plan_hash: str | None,
        kind: str = "plan",
        scope: dict[str, Any] | None = None,
    ) -> None:
        """Create or edit the sticky ``kind`` comment of this environment (PR runs with ``comment: true``)."""
        pr = self.settings.pull_request
        if pr is None or not self.inputs.comment or not self.can_write:
            return
        from ci_deployer.github.comment import Marker, StickyComments

        assert self.github is not None
        marker = Marker(
            env=self.env,
            plan_hash=plan_hash,
            base_sha=pr.base_sha,
            head_sha=pr.head_sha,
            kind=kind,
            scope=scope,
        ).render()
        try:
            comments = StickyComments(self.github.repo, pr.number, self.inputs.comment_author)
            outcome = comments.upsert(self.env, body_for(marker), kind)
        except GitHubError as error:
            self.out.warning(f"could not comment on #{pr.number}: {error}; the report is in the job summary")
            return
        if outcome.action == "forbidden":
            self.out.warning(
                f"could not comment on #{pr.number} (the job lacks `pull-requests: write`): "
                "the report is in the job summary"
            )
        else:
            self.out.echo(f"PR comment {outcome.action}: {outcome.url}")

    def upload(self, command: str, names: Sequence[str], folder: Path | None = None) -> None:
        """Upload the files of ``names`` present in ``folder`` (default: the work dir) as one artifact
        (they also stay there)."""
        from ci_deployer.github import artifacts

        folder = folder or self.work_dir
        files = [folder / name for name in names if (folder / name).is_file()]
        if not files:
            return
        name = self.artifact_name(command)
        s = self.settings
        if artifacts.is_ghes(s.server_url):
            self.out.notice(
                "artifact upload skipped: GitHub Enterprise Server has no artifact v4 service; "
                f"files are in {self.display_dir()}"
            )
            return
        if not s.runtime_token or not s.results_url:
            self.out.notice(
                f"artifact upload skipped: no Actions runtime token here; files are in {self.display_dir()}"
            )
            return
        self.out.add_mask(s.runtime_token)
        try:
            with artifacts.ArtifactUploader(
                s.results_url,
                s.runtime_token,
                transport=self.services.artifact_transport,
                sleep=self.services.sleep,
                mask=self.out.add_mask,
            ) as uploader:
                uploaded = uploader.upload(name, files, folder)
        except GitHubError as error:
            # The files remain in artifacts_dir; an upload failure must not hide the command's result.
            self.out.warning(f"artifact {name} was not uploaded: {error}")
            return
        self.uploaded.append(name)
        self.out.echo(f"uploaded artifact {name} ({uploaded.size} bytes, {uploaded.digest})")

    # -- state -----------------------------------------------------------------------------------------

    def state(self, command: str) -> StateBackend:
        """The env's state: in Actions, seeded from the newest default-branch apply artifacts of the env
        and of its ``promotesFrom`` env (a fresh checkout has none); elsewhere the local folder.

        Apply and rollback refuse when it cannot be read (writing without it could duplicate what
        earlier applies created); a protected env's plan and drift refuse too (they would plan
        creates over live resources, or report "no drift" without a baseline); the rest warn."""
        if not self.settings.in_actions:
            return compose.local_state(self.root)
        folder = (self.settings.runner_temp or self.work_dir.parent) / "ci-deployer-state" / self.env
        try:
            self._seed(folder)
        except GitHubError as error:
            if command in ("apply", "rollback") or self._protected():
                raise StateError(
                    f"the state of {self.env} could not be read from the workflow artifacts ({error}); "
                    "nothing was planned against or written to the org",
                    hint="give the job `actions: read` (the state is the newest default-branch apply artifact)",
                ) from error
            self.out.warning(f"the state of {self.env} could not be read from artifacts ({error}); using none")
        return compose.local_state(self.root, folder)

    def _protected(self) -> bool:
        repo = self.validation().repo
        environment = repo.environments.get(self.env) if repo is not None else None
        return environment is not None and environment.protection is not None

    # -- the config, read once per run (speed: one load, render and validation per command) -----------

    def validation(self) -> ValidationResult:
        """Validation of the env (every env without one), run once: the session, the state seeding
        and the drift policy reuse its loaded repo and rendered resources."""
        if self._validation is None:
            from ci_deployer.validate import runner

            cache = compose.parse_cache(self.settings, self.root)
            self._validation = runner.run(self.root, [self.env] if self.env else None, None, cache=cache)
        return self._validation

    def loaded(self) -> compose.LoadedConfig:
        """The env's config from :meth:`validation` (``ValidationFailed`` when it has errors)."""
        result = self.validation()
        if not result.ok or result.repo is None or self.env not in result.rendered:
            raise ValidationFailed(
                result.findings, f"the config for {self.env} has errors; nothing was planned or applied"
            )
        return compose.LoadedConfig(result.repo, self.env, result.rendered[self.env], result.findings)

    # -- end of the config read once ---------------------------------------------------------------------

    def _seed(self, folder: Path) -> None:
        from ci_deployer.github.state import ArtifactStateBackend

        if self.github is None:
            raise GitHubError("no GitHub token", hint="pass `github_token: ${{ github.token }}` (the default)")
        envs = [self.env]
        repo = self.validation().repo
        upstream = repo.environments.get(self.env) if repo is not None else None
        if upstream is not None and upstream.promotes_from:
            envs.append(upstream.promotes_from)
        backend = ArtifactStateBackend(self.github.client, self.settings.repository, self.settings.github_token)
        for env in envs:
            stored = backend.latest_snapshot(env, self.settings.default_branch)
            if stored is None:
                self.out.echo(f"no snapshot of {env} in default-branch runs: its state starts empty")
                continue
            path = folder / env / "snapshot.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stored.data, indent=2, sort_keys=True), encoding="utf-8")
            self.out.echo(
                f"state of {env}: {stored.artifact_name} (run {stored.run_id}, commit {stored.head_sha[:12]})"
            )
        if len(envs) > 1:
            self._seed_tests(backend, envs[1], folder)

    def _seed_tests(self, backend: Any, env: str, folder: Path) -> None:
        """The ``promotesFrom`` env's newest test results, for the gate (default-branch runs only)."""
        from ci_deployer.engine.state import TESTS_FILE

        stored = backend.latest_test_results(env, self.settings.default_branch)
        if stored is None:
            self.out.echo(f"no test results of {env} in default-branch runs")
            return
        path = folder / env / TESTS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored.data, indent=2, sort_keys=True), encoding="utf-8")
        self.out.echo(f"test results of {env}: {stored.artifact_name} (run {stored.run_id})")

    def session(self, command: str, *, validate: bool = True, partial: compose.Partial | None = None) -> Session:
        state = self.state(command)
        return compose.open_session(
            self.settings,
            self.root,
            self.env,
            validate=validate,
            config=self.loaded() if validate else None,
            partial=partial,
            state=state,
            on_secret=[self.out.add_mask],  # every resolved secret is masked before anything can print it
            journal_dirs=[self.settings.workspace.joinpath(*ARTIFACTS_DIR)],
        )

    # -- commands --------------------------------------------------------------------------------------

    def run(self) -> Result:
        """Run the command named by the ``command`` input."""
        handler: Callable[[], Result] = {
            "validate": self.validate,
            "plan": self.plan,
            "apply": self.apply,
            "drift": self.drift,
            "gate": self.gate,
            "rollback": self.rollback,
            "test": self.test,
        }.get(self.inputs.command, self.unavailable)
        return handler()

    def validate(self) -> Result:
        result = self.validation()
        findings = result.findings
        annotated = [self.out.annotate(commands.finding_annotation(f, self.prefix)) for f in findings]
        errors = sum(1 for f in findings if f.level == "error")
        warnings = len(findings) - errors
        report = {
            "ok": result.ok,
            "errors": errors,
            "warnings": warnings,
            "documents": result.documents,
            "findings": [{**f.to_dict(), "path": located(f.path, self.prefix)} for f in findings],
        }
        self.out.append_summary(markdown.render_validation(report, annotated=annotated, budget=self.out.summary_room))
        summary = f"validate: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        if not result.ok:
            return Result(exit_code=EXIT_FAILED, failure_reason="invalid-config", summary=summary)
        return Result(summary=summary)

    def plan(self) -> Result:
        """Validate, plan (live, or against the snapshot where the env says so or no API key is here),
        report (comment, summary, status), and — for a protected env in a dispatch — enforce the gates."""
        pr = self.settings.pull_request
        sha = self.settings.head_sha
        if pr is not None and pr.from_fork:
            self.out.notice("a fork PR: validate and snapshot plans are reported here only (its token is read-only)")
        try:
            validated = self.validate()
            if validated.exit_code:
                raise ConfigError(
                    f"the config has errors ({validated.summary}); nothing was planned",
                    hint="fix the findings annotated on the files (also listed in the job summary)",
                )
            if pr is not None and self.github is None and self._reviews_against_state():
                return self.not_planned_without_token()
            with self.session("plan", partial=self.pr_scope()) as session:
                plan = self.plan_for_review(session)
                checklist = self.checklist(session, plan)
        except DeployerError as error:
            failure = Failure.of(error)
            self.post_failure("plan", failure)
            self.set_status("plan", sha, "failure", f"{failure.failure_reason}: {failure.message}")
            raise
        from ci_deployer.commands.plan import write_files

        write_files(plan, self.work_dir / "plan.json", self.work_dir / "plan.md")
        self.upload("plan", ["plan.json", "plan.md"])
        data = plan.to_dict()
        self.annotate_drift(plan)
        self.post_comment(
            lambda marker: markdown.render_plan(data, run=self.run_info(), marker=marker, checklist=checklist),
            plan.hash,
            scope=data.get("scope"),
        )
        self.out.append_summary(
            markdown.render_plan(
                data,
                run=self.run_info(),
                checklist=checklist,
                budget=self.out.summary_room,
                measure=markdown.utf8_length,
                overflow_hint=f"see the `{self.artifact_name('plan')}` artifact",
            )
        )
        summary = f"{self.env}: {markdown.counts_line(data['summary'])}"
        if plan.scope is not None and not plan.scope.keys:
            # metadata.environments: the PR touched nothing of this env; its required check still passes
            summary = f"{self.env}: not affected by this change"
        if plan.drift:
            summary += f"; {len(plan.drift)} drifted"
        self.set_status("plan", sha, "success", summary)
        result = Result(has_changes=plan.has_changes, plan_hash=plan.hash, summary=summary)
        if plan.drift and self._drift_policy() == "fail":
            result.exit_code, result.failure_reason = EXIT_DRIFT, "drift"
        return result

    def _reviews_against_state(self) -> bool:
        """Whether this env's PR plan needs its recorded state: a protected env, or one planned against
        its last snapshot (by its ``planAgainst``, or for want of an API key in this job)."""
        environment = compose.environment_of(self.loaded().repo, self.env)
        return (
            environment.protection is not None
            or environment.plan_against == "snapshot"
            or not compose.token_available(environment, self.settings)
        )

    def not_planned_without_token(self) -> Result:
        """A PR job without a GitHub token (a fork's or Dependabot's, with ``github_token`` empty) cannot
        read the env's last snapshot: say so instead of a plan that would call every resource new."""
        message = (
            f"{self.env}: not planned: this job has no GitHub token, so {self.env}'s last snapshot (the state "
            "a PR plan compares with) cannot be read; the config validated"
        )
        self.out.warning(message)
        self.out.append_summary(
            f"### ⏭️ {self.env}: not planned\n\nThis job has no GitHub token, so the last snapshot of "
            f"`{self.env}` (the newest apply artifact of the default branch) cannot be read, and a plan without "
            "it would show every resource as new. The config validated. Pass `github_token: ${{ github.token }}` "
            "(the default) with `actions: read` to get the plan.\n"
        )
        return Result(summary=f"{self.env}: not planned (no GitHub token to read its last snapshot)")

    def pr_scope(self) -> compose.Partial | None:
        """A PR's plan covers what the PR touched (``--changed-since`` its base commit); without the
        base commit in the checkout (``fetch-depth: 0``), the whole config."""
        pr = self.settings.pull_request
        if pr is None or not pr.base_sha:
            return None
        if not compose.has_commit(self.root, pr.base_sha):
            self.out.warning(
                f"the PR's base commit {pr.base_sha[:12]} is not in the checkout (use `fetch-depth: 0`): "
                "planned the whole config"
            )
            return None
        return compose.Partial(changed_since=pr.base_sha)

    def _drift_policy(self) -> str:
        return compose.environment_of(self.loaded().repo, self.env).drift

    def plan_for_review(self, session: Session) -> Plan:
        """Live where the env plans live and its API key is here; else against its last snapshot (PR
        jobs never need a prod key); before the first deployment, a plan of creates, said plainly —
        unless GitHub's Deployment history shows the env was deployed (its state is lost)."""
        from ci_deployer.commands.plan import PlanOptions, plan_env

        environment = session.environment
        against = environment.plan_against
        if against == "live" and not compose.token_available(environment, self.settings):
            self.out.warning(
                f"no API key for {self.env} in this job: planned against its last snapshot instead of the live org"
            )
            against = "snapshot"
        first = False
        if against == "snapshot" and session.latest_state() is None:
            if self.deployed_before():
                raise StateError(
                    f"{self.env} was deployed before (GitHub Deployment history) but its last snapshot cannot be "
                    "read: planning would show every resource as new",
                    hint="the apply artifacts may have expired: re-run the last apply, or raise the artifact "
                    "retention (README: state and retention)",
                )
            first = True
        return plan_env(session, PlanOptions(against=against, first_deployment=first))

    def deployed_before(self) -> bool:
        if self.github is None:
            return False
        from ci_deployer.github.deployments import ever_succeeded

        try:
            return ever_succeeded(self.github.repo, self.env)
        except GitHubError as error:
            self.out.warning(f"the Deployment history of {self.env} could not be read: {error}")
            return False

    def checklist(self, session: Session, plan: Plan) -> list[dict[str, Any]]:
        """The gates' checklist for the comment; in a dispatch to a protected env the gates are
        enforced here too (a refused deployment fails before its apply job waits for reviewers)."""
        environment = session.environment
        if environment.protection is None and environment.promotes_from is None:
            return []
        request = compose.GateRequest(
            ticket=self.inputs.ticket or None,
            break_glass_reason=self.inputs.break_glass_reason or None,
            plan_hash=plan.hash,
            validation=(True, "validated"),
        )
        github = self.github if self.settings.pull_request is None or not self.settings.read_only_token else None
        report = compose.evaluate_gates(session, self.settings, self.root, request, github=github)
        if self.settings.event_name == "workflow_dispatch" and environment.protection is not None:
            self.enforce_gates(report, plan_pending=True)
        return report.checklist()

    def enforce_gates(self, report: GateReport, *, plan_pending: bool = False) -> None:
        from ci_deployer.gates import render
        from ci_deployer.gates.evaluate import enforce

        self.out.append_summary(render.format_markdown(report))
        if plan_pending:
            # The backup, the live plan and the env's secrets (its key) come in the apply job: only
            # the other items refuse here.
            report.items = [i for i in report.items if i.id not in ("backup", "plan", "secrets")]
            report.allowed = not report.refusing()
        enforce(report)

    def annotate_drift(self, plan: Plan) -> None:
        for item in plan.drift:
            what = "was deleted outside ci-deployer" if item.missing else "changed outside ci-deployer"
            self.out.annotate(commands.Annotation("warning", f"{item.kind}/{item.slug} {what}", title="drift"))

    # -- apply ----------------------------------------------------------------------------------------

    def reviewed(self, session: Session) -> Reviewed:
        """What this apply compares against (DESIGN §6): the saved plan of a dispatch (``plan_path``);
        on a push, the hash on the one merged PR's comment when it was planned on the merge commit's
        first parent; otherwise nothing — and a protected env is then not deployed."""
        from ci_deployer.commands.apply import read_plan

        if self.inputs.plan_path:
            path = Path(self.inputs.plan_path)
            path = path if path.is_absolute() else self.settings.workspace / path
            plan = read_plan(path, self.env)
            return Reviewed(plan, plan.hash, f"the saved plan {self.inputs.plan_path}")
        protected = session.environment.protection is not None
        if self.settings.event_name != "push" or self.github is None:
            if protected:
                raise GateRefused(
                    f"{self.env} is protected: it is applied from a reviewed plan only",
                    hint="dispatch the two-job promotion (workflows-examples/promote-prod.yml): a plan job saves "
                    "plan.json, the apply job applies it with `plan_path`",
                )
            return Reviewed(source="no reviewed plan (not a push): applying a fresh plan")
        if protected:
            raise GateRefused(
                f"{self.env} is protected and is not deployed by a push",
                hint="dispatch the two-job promotion (workflows-examples/promote-prod.yml)",
            )
        return self.reviewed_on_push(session)

    def reviewed_on_push(self, session: Session) -> Reviewed:
        from ci_deployer.gates.github_evidence import merged_pull_requests
        from ci_deployer.github.client import translated
        from ci_deployer.github.comment import StickyComments

        assert self.github is not None
        sha = self.settings.sha
        state = session.latest_state()
        base = state.sha if state is not None else None
        prs = merged_pull_requests(self.github.repo, base, sha, compose.git_prefix(self.root))
        if len(prs) != 1:
            return Reviewed(source=f"{len(prs)} pull requests merged since {self.env}'s last apply: no single plan")
        pr = prs[0]
        marker = StickyComments(self.github.repo, pr.number, self.inputs.comment_author).reviewed_marker(self.env)
        if marker is None or not marker.plan_hash:
            return Reviewed(source=f"no plan for {self.env} was posted on #{pr.number}")
        with translated(f"read commit {sha[:12]}"):
            parents = [p.sha for p in self.github.repo.get_commit(sha).parents]
        if not parents or marker.base_sha != parents[0] or marker.head_sha != pr.head_sha:
            return Reviewed(source=f"the plan on #{pr.number} was not made on what was merged (main moved)")
        from ci_deployer.engine.scope import Scope

        return Reviewed(
            hash=marker.plan_hash, source=f"the plan comment on #{pr.number}", scope=Scope.from_dict(marker.scope)
        )

    def apply(self) -> Result:
        from ci_deployer.engine.operations import ApplyOptions, apply
        from ci_deployer.gates.hook import report_writer

        record = None
        try:
            with self.session("apply") as session:
                reviewed = self.reviewed(session)
                self.out.echo(f"comparing with {reviewed.source}" if reviewed.hash else reviewed.source)
                request = compose.GateRequest(
                    ticket=self.inputs.ticket or None,
                    break_glass_reason=self.inputs.break_glass_reason or None,
                    reviewed_plan_hash=reviewed.hash,
                    backup=self.work_dir / "backup-before.json",
                )
                check = compose.pre_write_check(
                    session,
                    self.settings,
                    self.root,
                    request,
                    github=self.github,
                    record=report_writer(self.work_dir),
                )
                record = self.start_deployment()
                with cancellable() as cancel:
                    options = ApplyOptions(
                        out_dir=self.work_dir,
                        reviewed=reviewed.plan,
                        reviewed_hash=reviewed.hash,
                        reviewed_scope=reviewed.scope,
                        allow_deletes=True if self.inputs.allow_deletes else None,
                        pre_write_check=check,
                        progress=LineProgress(lambda line: self.out.echo(neutralize(line))),
                        on_plan=self.write_plan,
                        cancel=cancel,
                    )
                    result = apply(session, options)
                    canary = self.canary(session, cancel)
        except DeployerError as error:
            self.finish_apply(record, None, Failure.of(error))
            if isinstance(error, PlanChanged):
                self.out.append_summary(f"### ❌ The plan changed since it was reviewed\n\n{error.message}\n")
            raise
        if canary.failed:
            failure = canary.error()
            self.finish_apply(record, result, Failure.of(failure), canary=canary)
            raise failure
        self.finish_apply(record, result, None, canary=canary)
        summary = f"{self.env}: applied ({result.counts()['ok']} writes)"
        if canary.ran:
            summary += f"; {canary.summary()}"
        return Result(summary=summary, plan_hash=result.plan_hash)

    def canary(self, session: Session, cancel: Any) -> CanaryOutcome:
        """The canary evals after an apply to a protected env (its results in the work dir)."""
        from ci_deployer.behaviour.canary import after_apply
        from ci_deployer.behaviour.runner import TestOptions

        options = TestOptions(run=self.settings.run_id or None, run_url=self.settings.run_url or None)
        outcome = after_apply(
            session, self.work_dir, options, progress=lambda line: self.out.echo(neutralize(line)), cancel=cancel
        )
        if outcome.report is not None:
            from ci_deployer.report.tests import render_github

            self.out.echo(render_github(outcome.report, prefix=self.prefix))
        if outcome.ran:
            self.out.echo(outcome.summary())
        return outcome

    def write_plan(self, plan: Plan) -> None:
        from ci_deployer.commands.plan import write_files

        write_files(plan, self.work_dir / "plan.json", self.work_dir / "plan.md")

    def start_deployment(self) -> Any:
        if not (self.settings.in_actions and self.can_write and self.settings.sha):
            return None
        from ci_deployer.github import deployments

        assert self.github is not None
        try:
            return deployments.start(
                self.github.repo,
                env=self.env,
                sha=self.settings.sha,
                log_url=self.settings.run_url,
                description=f"ci-deployer apply to {self.env}",
                payload={"tool": "ci-deployer", "run": self.settings.run_id},
                production=self.env == "prod",
            )
        except GitHubError as error:
            self.out.warning(f"no GitHub Deployment recorded (needs `deployments: write`): {error}")
            return None

    def finish_apply(
        self,
        record: Any,
        result: ApplyResult | None,
        failure: Failure | None,
        *,
        canary: CanaryOutcome | None = None,
    ) -> None:
        """Artifacts, the Deployment's status, the commit status and the summary of an apply (and of
        its canary: a canary rollback is uploaded as its own `rollback` artifact, after the apply's, so
        it is the env's newest state)."""
        self.upload(self.inputs.command, APPLY_FILES)
        if canary is not None and canary.rollback_dir is not None:
            self.upload("rollback", ROLLBACK_FILES, folder=canary.rollback_dir)
        ok = failure is None and result is not None and result.ok
        if record is not None:
            try:
                record.finish("success" if ok else "failure", f"ci-deployer {self.inputs.command} to {self.env}")
            except GitHubError as error:
                self.out.warning(f"the deployment status was not recorded: {error}")
        if failure is not None:
            description = f"{failure.failure_reason}: {failure.message}"
        elif result is not None:
            description = f"{result.counts()['ok']} write(s) ok"
        else:
            description = "done"
        self.set_status("apply", self.settings.sha, "success" if ok else "failure", description)
        if canary is not None and canary.run_error is not None:
            self.out.append_summary(f"### ❌ Canary: {canary.summary()}\n")
        if canary is not None and canary.report is not None:
            from ci_deployer.report.tests import render_markdown

            self.out.append_summary(
                f"### {'✅' if not canary.failed else '❌'} Canary: {canary.summary()}\n\n"
                + render_markdown(
                    canary.report,
                    run_url=self.settings.run_url,
                    artifact_name=self.artifact_name(self.inputs.command),
                    budget=self.out.summary_room // 2,
                    measure=markdown.utf8_length,
                )
            )
        if result is not None:
            body = json.dumps(result.to_dict(), indent=2, ensure_ascii=False)
            status = "Applied." if ok else "The apply failed: the partial snapshot and apply log are in the artifacts."
        else:
            assert failure is not None
            body = failure.message + (f"\nhint: {failure.hint}" if failure.hint else "")
            status = f"Refused or failed ({failure.failure_reason}); see the artifacts for what was recorded."
        self.out.append_summary(
            markdown.render_result(
                command=self.inputs.command,
                env=self.env,
                ok=ok,
                status=status,
                body=body,
                artifacts=self.uploaded,
                run_url=self.settings.run_url,
                budget=self.out.summary_room,
            )
        )

    # -- the rest -------------------------------------------------------------------------------------

    def drift(self) -> Result:
        from ci_deployer.commands.drift import drift_env
        from ci_deployer.report import drift as report

        with self.session("drift") as session:
            result = drift_env(session)
        self.annotate_drift(result.plan)
        self.out.echo(report.render(result, "text"))
        self.out.append_summary(
            markdown.render_result(
                command="drift",
                env=self.env,
                ok=not result.failing,
                status=report.render(result, "text").splitlines()[-1],
                body=report.render(result, "text"),
                run_url=self.settings.run_url,
                budget=self.out.summary_room,
            )
        )
        summary = f"{self.env}: {len(result.plan.drift)} drifted, {len(result.plan.unmanaged)} unmanaged"
        if result.failing:
            return Result(exit_code=EXIT_DRIFT, failure_reason="drift", summary=summary)
        return Result(summary=summary)

    def gate(self) -> Result:
        with self.session("gate", validate=False) as session:
            request = compose.GateRequest(
                ticket=self.inputs.ticket or None, break_glass_reason=self.inputs.break_glass_reason or None
            )
            report = compose.evaluate_gates(session, self.settings, self.root, request, github=self.github)
        self.enforce_gates(report)
        return Result(summary=f"gates for {self.env}: allowed")

    def rollback(self) -> Result:
        from ci_deployer.engine.operations import ApplyOptions, rollback
        from ci_deployer.gates.hook import report_writer

        if not self.inputs.snapshot:
            raise ConfigError(
                "command `rollback` needs the `snapshot` input", hint="set `snapshot:` to a snapshot file"
            )
        snapshot = Path(self.inputs.snapshot)
        snapshot = snapshot if snapshot.is_absolute() else self.settings.workspace / snapshot
        record = None
        try:
            with self.session("rollback") as session:
                request = compose.GateRequest(
                    ticket=self.inputs.ticket or None,
                    break_glass_reason=self.inputs.break_glass_reason or None,
                    backup=self.work_dir / "backup-before.json",
                    rollback_of_known_snapshot=True,
                )
                check = compose.pre_write_check(
                    session, self.settings, self.root, request, github=self.github, record=report_writer(self.work_dir)
                )
                record = self.start_deployment()
                with cancellable() as cancel:
                    options = ApplyOptions(
                        out_dir=self.work_dir,
                        allow_deletes=True if self.inputs.allow_deletes else None,
                        pre_write_check=check,
                        progress=LineProgress(lambda line: self.out.echo(neutralize(line))),
                        cancel=cancel,
                    )
                    result = rollback(session, snapshot, options)
        except DeployerError as error:
            self.finish_apply(record, None, Failure.of(error))
            raise
        self.finish_apply(record, result, None)
        return Result(summary=f"{self.env}: rolled back to {self.inputs.snapshot}")

    # -- test ---------------------------------------------------------------------------------------

    def test(self) -> Result:
        """Behavioural tests of the env: on a pull request the PR's config, sent inline (transient:
        nothing is written to the org or recorded as the env's state), elsewhere against what the env
        has applied (recorded: what the promotion gate reads).  Reported in the job summary, as
        annotations, in the env's test comment on the PR and as ``ci-deployer/test (<env>)``."""
        from ci_deployer.behaviour.runner import TestOptions
        from ci_deployer.commands.test_cmd import record, run_tests, write_files
        from ci_deployer.report import tests as render

        pr = self.settings.pull_request
        sha = self.settings.head_sha
        transient = self.inputs.transient if self.inputs.transient is not None else pr is not None
        if pr is not None and pr.from_fork:
            self.out.notice("a fork PR: test results are reported here only (its token is read-only)")
        options = TestOptions(
            transient=transient, run=self.settings.run_id or None, run_url=self.settings.run_url or None
        )
        environment = compose.environment_of(compose.load_repo(self.root), self.env)
        if not compose.token_available(environment, self.settings):
            # Forks and Dependabot get no secrets: the evals cannot reach the org.  Nothing is
            # reported as passed (no status is set: a required `ci-deployer/test` check stays missing).
            message = f"{self.env}: tests not run: no API key for {self.env} in this job"
            self.out.warning(f"{message} (the evals need the org; a maintainer can run them)")
            self.out.append_summary(f"### ➖ ci-deployer test for `{self.env}`\n\n{message}.\n")
            return Result(summary=message)
        try:
            with self.session("test") as session:
                report = run_tests(session, options)
                recorded = record(session, report)
        except DeployerError as error:
            failure = Failure.of(error)
            self.post_failure("test", failure)
            self.set_status("test", sha, "failure", f"{failure.failure_reason}: {failure.message}")
            raise
        write_files(report, self.work_dir / "test-results.json", self.work_dir / "tests.md")
        self.upload("test", TEST_FILES)
        for note in render.failure_annotations(report, prefix=self.prefix):
            self.out.annotate(note)
        self.out.echo(render.render_text(report))
        if recorded:
            self.out.echo(f"recorded as {self.env}'s test results for logical hash {report.logical_hash}")
        artifact = self.artifact_name("test")
        self.post_comment(
            lambda marker: render.render_markdown(
                report,
                marker=marker,
                run_url=self.settings.run_url,
                artifact_name=artifact,
                measure=markdown.comment_length,
            ),
            None,
            kind="test",
        )
        self.out.append_summary(
            render.render_markdown(
                report,
                run_url=self.settings.run_url,
                artifact_name=artifact,
                budget=self.out.summary_room,
                measure=markdown.utf8_length,
            )
        )
        summary = report.summary_line()
        self.set_status("test", sha, "success" if report.ok else "failure", summary)
        if not report.ok:
            return Result(exit_code=EXIT_FAILED, failure_reason="tests-failed", summary=summary)
        return Result(summary=summary)

    def unavailable(self) -> Result:
        raise DeployerError(
            f"`{self.inputs.command}` is not available in this version of the action yet",
            hint="see the README's status section",
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _write_outputs(out: commands.Workflow, result: Result, artifacts_dir: str) -> None:
    values = {
        "has_changes": "true" if result.has_changes else "false",
        "plan_hash": result.plan_hash,
        "failure_reason": result.failure_reason,
        "summary": result.summary,
        "exit_code": str(result.exit_code),
        "artifacts_dir": artifacts_dir,
    }
    for name in OUTPUT_NAMES:
        out.set_output(name, values[name])


def main(environ: Mapping[str, str], *, stdout: TextIO | None = None, services: Services | None = None) -> int:
    """Run the action for the environment ``environ``; returns the process exit code."""
    output_file = environ.get("GITHUB_OUTPUT") or None
    summary_file = environ.get("GITHUB_STEP_SUMMARY") or None
    out = commands.Workflow(
        stdout,
        output_file=Path(output_file) if output_file else None,
        summary_file=Path(summary_file) if summary_file else None,
    )
    # Tokens are secrets too: masked before anything is printed.
    for name in ("INPUT_GITHUB_TOKEN", "GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        if environ.get(name):
            out.add_mask(environ[name])
    result = Result()
    state: dict[str, str] = {"artifacts_dir": "", "prefix": ""}

    def body() -> int:
        nonlocal result
        settings = Settings.from_environ(environ)
        action = ActionRun(settings, read_inputs(environ), out, services or Services())
        action.work_dir.mkdir(parents=True, exist_ok=True)
        state["artifacts_dir"] = action.display_dir()
        state["prefix"] = action.prefix
        result = action.run()
        return result.exit_code

    def report(failure: Failure) -> None:
        nonlocal result
        result = Result(exit_code=failure.exit_code, failure_reason=failure.failure_reason, summary=failure.message)
        out.error(failure.message + (f"\nhint: {failure.hint}" if failure.hint else ""))
        for finding in failure.findings:
            if isinstance(finding, Finding):
                out.annotate(commands.finding_annotation(finding, state["prefix"]))

    runner_temp = environ.get("RUNNER_TEMP")
    guarded(body, report, crash_dir=Path(runner_temp) if runner_temp else None)
    result.summary = redact.redact(result.summary.splitlines()[0] if result.summary else "")
    _write_outputs(out, result, state["artifacts_dir"])
    return result.exit_code
