"""The GitHub Action's entry point (``ci-deployer-action``, the container's ENTRYPOINT).

It reads the inputs and the event once (:mod:`ci_deployer.github.context`), drives the CLI
**in-process** through :func:`ci_deployer.cli.main` — never ``python -m`` from the workspace, where a
``ci_deployer/`` folder in the checkout would shadow the installed package — and works from the files
the CLI writes (plan JSON, apply log, snapshots) under ``RUNNER_TEMP`` or an explicit ``artifacts_dir``.

Around the CLI it adds the GitHub side: secrets masked (``::add-mask::``) before any output is
printed, annotations on the YAML lines of findings, the sticky PR comment per environment, the job
summary, artifacts through the results service, the artifact state backend for snapshot plans,
stale-plan refusal and a Deployment per apply.  A plan with changes does not fail the step
(``has_changes=true``, exit 0); any failure sets ``failure_reason`` and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ci_deployer import redact
from ci_deployer.errors import ConfigError, DeployerError, GitHubError, PlanChanged
from ci_deployer.github import commands, context, markdown
from ci_deployer.github.client import ClientOptions

if TYPE_CHECKING:
    import httpx
    from github import Github

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CHANGES = 2
EXIT_DRIFT = 3
EXIT_INTERNAL = 4

OUTPUT_NAMES = ("has_changes", "plan_hash", "failure_reason", "summary", "exit_code", "artifacts_dir")
APPLY_FILES = ("apply-log.jsonl", "backup-before.json", "snapshot-after.json", "plan.json", "plan.md")


@dataclass
class Services:
    """What the action talks to, injectable for tests (PyGithub options, the results service transport)."""

    github_options: ClientOptions = field(default_factory=ClientOptions)
    artifact_transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    # The CLI's main(argv) -> int; a test may put a stand-in engine here while the real one is absent.
    cli_main: Callable[[list[str]], int] | None = None
    # The option strings each command accepts (default: read from the CLI's own parser).
    cli_options: Callable[[str], set[str]] | None = None


@dataclass
class Result:
    """The outcome the action reports through its outputs."""

    exit_code: int = EXIT_OK
    failure_reason: str = ""
    has_changes: bool = False
    plan_hash: str = ""
    summary: str = ""


@dataclass
class CliRun:
    """One in-process CLI invocation: exit code and what it printed."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any] | None:
        """stdout parsed as a JSON object (None when it is not one)."""
        try:
            data = json.loads(self.stdout)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


class CommandFailed(DeployerError):
    """The CLI reported a failure; carries its failure_reason and exit code."""

    def __init__(self, failure_reason: str, message: str, *, exit_code: int = EXIT_FAILED, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.failure_reason = failure_reason
        self.exit_code = exit_code


def _options_of(command: str) -> set[str]:
    """The option strings the CLI's ``command`` accepts (the engine grows flags over time)."""
    from ci_deployer import cli

    parser = cli.build_parser()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return set(action.choices[command]._option_string_actions)
    return set()


class ActionRun:
    """One run of the action: context in, outputs / summary / comment / artifacts out."""

    def __init__(self, ctx: context.ActionContext, out: commands.Workflow, services: Services) -> None:
        self.ctx = ctx
        self.out = out
        self.services = services
        self.inputs = ctx.inputs
        self.env = ctx.inputs.environment
        self.work_dir = ctx.work_dir()
        self._github: Github | None = None
        self.uploaded: list[str] = []

    # -- collaborators -------------------------------------------------------------------------------

    @property
    def github(self) -> Github:
        """The PyGithub client (built on first use, against ``GITHUB_API_URL``)."""
        if self._github is None:
            from ci_deployer.github.client import connect

            if not self.inputs.github_token:
                raise GitHubError("no GitHub token", hint="pass `github_token: ${{ github.token }}` (the default)")
            self._github = connect(self.inputs.github_token, self.ctx.api_url, self.services.github_options)
        return self._github

    def config_root(self) -> Path:
        """The config folder: ``config_path`` (workspace-relative), else ./platform, else the workspace."""
        if self.inputs.config_path:
            path = Path(self.inputs.config_path)
            return path if path.is_absolute() else self.ctx.workspace / path
        platform = self.ctx.workspace / "platform"
        return platform if (platform / "environments.yaml").is_file() else self.ctx.workspace

    def run_url(self) -> str:
        return self.ctx.run_url

    def artifact_name(self, command: str) -> str:
        from ci_deployer.github.artifacts import artifact_name

        return artifact_name(self.env, command, self.ctx.run_id, self.ctx.run_attempt, self.ctx.job)

    # -- the CLI -------------------------------------------------------------------------------------

    def cli(self, argv: Sequence[str]) -> CliRun:
        """Run the CLI in-process, capture its output, mask what it resolved, then print it."""
        from ci_deployer import cli

        cli_main = self.services.cli_main or cli.main
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                code = cli_main(list(argv))
            except SystemExit as exc:  # argparse refuses arguments with SystemExit(2)
                code = EXIT_FAILED if exc.code else EXIT_OK
        # Secrets resolved during the command are masked before a byte of its output is printed.
        self.out.mask_registered()
        run = CliRun(code, stdout.getvalue(), stderr.getvalue())
        with self.out.group(f"ci-deployer {' '.join(argv[:1])} (exit {code})"):
            if run.stderr:
                self.out.echo(run.stderr)
            if run.stdout:
                self.out.echo(run.stdout)
        return run

    def fail_from(self, run: CliRun, command: str) -> CommandFailed:
        """The CLI's own failure report as an error (failure_reason from its JSON output)."""
        data = run.json() or {}
        reason = str(data.get("failure_reason") or ("drift" if run.code == EXIT_DRIFT else "error"))
        message = str(data.get("error") or run.stderr.strip() or f"`ci-deployer {command}` exited with {run.code}")
        hint = data.get("hint")
        return CommandFailed(reason, message, exit_code=run.code or EXIT_FAILED, hint=str(hint) if hint else None)

    def options(self, command: str) -> set[str]:
        """The options the CLI's ``command`` takes: flags are passed only when it takes them."""
        return (self.services.cli_options or _options_of)(command)

    def common_args(self, command: str) -> list[str]:
        argv = [command, "--config", str(self.config_root()), "--format", "json"]
        if self.env:
            argv += ["--env", self.env]
        return argv

    def optional_args(self, command: str) -> list[str]:
        """Inputs passed on only when the CLI command takes them."""
        supported = self.options(command)
        wanted = {
            "--ticket": self.inputs.ticket,
            "--break-glass-reason": self.inputs.break_glass_reason,
        }
        argv = [item for flag, value in wanted.items() if value and flag in supported for item in (flag, value)]
        if self.inputs.allow_deletes and "--allow-deletes" in supported:
            argv.append("--allow-deletes")
        return argv

    # -- artifacts -----------------------------------------------------------------------------------

    def upload(self, command: str, names: Sequence[str]) -> None:
        """Upload the files of ``names`` present in the work dir as one artifact (they also stay there)."""
        from ci_deployer.github import artifacts

        files = [self.work_dir / name for name in names if (self.work_dir / name).is_file()]
        if not files:
            return
        name = self.artifact_name(command)
        if artifacts.is_ghes(self.ctx.server_url):
            self.out.notice(
                "artifact upload skipped: GitHub Enterprise Server has no artifact v4 service; "
                f"files are in {self.work_dir}"
            )
            return
        if not self.ctx.runtime_token or not self.ctx.results_url:
            self.out.notice(f"artifact upload skipped: no Actions runtime token here; files are in {self.work_dir}")
            return
        self.out.add_mask(self.ctx.runtime_token)
        try:
            with artifacts.ArtifactUploader(
                self.ctx.results_url,
                self.ctx.runtime_token,
                transport=self.services.artifact_transport,
                sleep=self.services.sleep,
                mask=self.out.add_mask,
            ) as uploader:
                uploaded = uploader.upload(name, files, self.work_dir)
        except GitHubError as error:
            # The files remain in artifacts_dir; an upload failure must not hide the command's result.
            self.out.warning(f"artifact {name} was not uploaded: {error}")
            return
        self.uploaded.append(name)
        self.out.echo(f"uploaded artifact {name} ({uploaded.size} bytes, {uploaded.digest})")

    # -- pull requests -------------------------------------------------------------------------------

    def pull_request(self) -> tuple[int, str, str] | None:
        """(number, head sha, base sha) of the PR this run is about, from the event or the commit."""
        pr = self.ctx.pull_request
        if pr is not None:
            return pr.number, pr.head_sha, pr.base_sha
        if self.ctx.event_name in ("push", "workflow_dispatch") and self.ctx.sha and self.inputs.github_token:
            from ci_deployer.github.comment import pull_for_commit

            return pull_for_commit(self.github.get_repo(self.ctx.repository), self.ctx.sha)
        return None

    def post_comment(self, body_for: Callable[[str], str], plan_hash: str | None) -> None:
        """Create or edit the sticky comment of this environment (PR runs with ``comment: true``)."""
        pr = self.ctx.pull_request
        if pr is None or not self.inputs.comment:
            return
        if not self.inputs.github_token:
            self.out.warning("no github_token: the plan is in the job summary only")
            return
        from ci_deployer.github.comment import Marker, StickyComments

        marker = Marker(env=self.env, plan_hash=plan_hash, base_sha=pr.base_sha, head_sha=pr.head_sha).render()
        comments = StickyComments(self.github.get_repo(self.ctx.repository), pr.number)
        outcome = comments.upsert(self.env, body_for(marker))
        if outcome.action == "forbidden":
            why = "a fork PR's token is read-only" if pr.from_fork else "the job lacks `pull-requests: write`"
            self.out.warning(f"could not comment on #{pr.number} ({why}): the report is in the job summary")
        else:
            self.out.echo(f"PR comment {outcome.action}: {outcome.url}")

    # -- commands ------------------------------------------------------------------------------------

    def run(self) -> Result:
        """Run the command named by the ``command`` input."""
        handler: Callable[[], Result] = {
            "validate": self.validate,
            "plan": self.plan,
            "apply": self.apply,
        }.get(self.inputs.command, self.other)
        return handler()

    def validate(self) -> Result:
        run = self.cli(self.common_args("validate"))
        report = run.json()
        if report is None or "findings" not in report:
            raise self.fail_from(run, "validate")
        prefix = self._finding_prefix()
        annotated = []
        for finding in report["findings"]:
            from ci_deployer.findings import Finding

            item = Finding(
                path=str(finding.get("path") or ""),
                line=finding.get("line"),
                column=finding.get("column"),
                code=str(finding.get("code") or ""),
                message=str(finding.get("message") or ""),
                level="warning" if finding.get("level") == "warning" else "error",
                hint=finding.get("hint"),
            )
            annotated.append(self.out.annotate(commands.finding_annotation(item, prefix)))
        room = self.out.summary_room
        self.out.append_summary(markdown.render_validation(report, annotated=annotated, budget=room))
        errors, warnings = int(report.get("errors") or 0), int(report.get("warnings") or 0)
        summary = f"validate: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        if run.code != EXIT_OK:
            return Result(exit_code=run.code, failure_reason="invalid-config", summary=summary)
        return Result(summary=summary)

    def _finding_prefix(self) -> str:
        """Findings are relative to the CLI's cwd when the config lies under it, else to the config root;
        annotations need them relative to the workspace."""
        root = self.config_root().resolve()
        workspace = self.ctx.workspace.resolve()
        cwd = Path.cwd().resolve()
        base = cwd if root.is_relative_to(cwd) else root
        try:
            rel = base.relative_to(workspace).as_posix()
        except ValueError:
            return ""
        return "" if rel == "." else rel

    def snapshot_for_plan(self) -> list[str]:
        """``--against snapshot`` arguments when the env plans against its last applied snapshot.

        In Actions the snapshot comes from the artifact state backend (default-branch runs only), so a
        PR plan for prod needs no prod key.
        """
        from ci_deployer.config.loader import load_repo

        try:
            repo, _ = load_repo(self.config_root())
        except ConfigError:
            return []  # the plan command reports the same problem with its own failure_reason
        environment = repo.environments.get(self.env)
        if environment is None or environment.plan_against != "snapshot":
            return []
        argv = ["--against", "snapshot"]
        if not (self.ctx.in_actions and self.inputs.github_token):
            return argv
        from ci_deployer.github.state import ArtifactStateBackend

        backend = ArtifactStateBackend(self.github, self.ctx.repository, self.inputs.github_token)
        stored = backend.latest_snapshot(self.env, self.ctx.default_branch)
        if stored is None:
            self.out.notice(
                f"no applied snapshot of {self.env} found in default-branch runs: planning against an empty state"
            )
            return argv
        path = self.work_dir / "state" / self.env / "snapshot.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored.data, indent=2, sort_keys=True), encoding="utf-8")
        self.out.echo(f"state: {stored.artifact_name} (run {stored.run_id}, commit {stored.head_sha[:12]})")
        supported = self.options("plan")
        if "--snapshot" in supported:
            argv += ["--snapshot", str(path)]
        elif "--state-dir" in supported:
            argv += ["--state-dir", str(path.parent.parent)]
        return argv

    def seed_state(self, command: str) -> list[str]:
        """``--state-dir`` arguments for ``command``, with the state seeded from artifacts.

        In Actions the config's local state folder is empty (a fresh checkout), so without this an
        apply would not know the ids it created before.  The newest apply snapshot of the env, and of
        its ``promotesFrom`` env (for the promotion gate), is fetched from default-branch runs only
        (a PR run can upload anything) into the work dir, never the workspace.
        """
        if "--state-dir" not in self.options(command) or not (self.ctx.in_actions and self.inputs.github_token):
            return []
        from ci_deployer.config.loader import load_repo
        from ci_deployer.github.state import ArtifactStateBackend

        try:
            repo, _ = load_repo(self.config_root())
        except ConfigError:
            return []  # the command itself reports the problem with its own failure_reason
        environment = repo.environments.get(self.env)
        if environment is None or environment.api_url == "embedded":
            return []  # an embedded org's state lives beside its local emulator data
        root = self.work_dir / "state"
        backend = ArtifactStateBackend(self.github, self.ctx.repository, self.inputs.github_token)
        envs = [env for env in dict.fromkeys([self.env, environment.promotes_from]) if env]
        try:
            for env in envs:
                path = root / env / "snapshot.json"
                if path.is_file():
                    continue
                stored = backend.latest_snapshot(env, self.ctx.default_branch)
                if stored is None:
                    self.out.notice(f"no applied snapshot of {env} in default-branch runs: its state starts empty")
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(stored.data, indent=2, sort_keys=True), encoding="utf-8")
                self.out.echo(
                    f"state of {env}: {stored.artifact_name} (run {stored.run_id}, commit {stored.head_sha[:12]})"
                )
        except GitHubError as error:
            if command in ("apply", "rollback"):
                raise  # writing without the env's state could duplicate what earlier applies created
            self.out.warning(f"the state of {self.env} could not be read from artifacts ({error}); using none")
            return []
        return ["--state-dir", str(root)]

    def run_plan(self, out_name: str, *, against: Sequence[str] = ()) -> tuple[CliRun, dict[str, Any] | None]:
        out = self.work_dir / out_name
        argv = [*self.common_args("plan"), "--out", str(out), *against]
        if "--snapshot" not in against:
            argv += self.seed_state("plan")
        if "--markdown" in self.options("plan"):
            argv += ["--markdown", str(out.with_suffix(".md"))]
        run = self.cli(argv)
        plan: dict[str, Any] | None = None
        if out.is_file():
            try:
                loaded = json.loads(out.read_text(encoding="utf-8"))
            except ValueError:
                loaded = None
            plan = loaded if isinstance(loaded, dict) else None
        if plan is None:
            data = run.json()
            plan = data if data and data.get("kind") == "plan" else None
        return run, plan

    def plan_summary(self, plan: Mapping[str, Any]) -> str:
        summary = plan.get("summary") or {}
        text = f"{self.env}: {markdown.counts_line(summary)}"
        if summary.get("drift"):
            text += f"; {summary['drift']} drifted"
        return text

    def plan(self) -> Result:
        pr = self.ctx.pull_request
        run_info = markdown.RunInfo(
            run_url=self.run_url(),
            sha=pr.head_sha if pr else self.ctx.sha,
            artifact_name=self.artifact_name("plan"),
        )
        try:
            against = self.snapshot_for_plan()
            run, plan = self.run_plan("plan.json", against=against)
            if plan is None or run.code not in (EXIT_OK, EXIT_CHANGES, EXIT_DRIFT):
                raise self.fail_from(run, "plan")
        except DeployerError as error:
            reason, message, hint = error.failure_reason, str(error), error.hint
            self.post_comment(
                lambda marker: markdown.render_failure(
                    command="plan",
                    env=self.env,
                    failure_reason=reason,
                    message=message,
                    hint=hint,
                    run=run_info,
                    marker=marker,
                ),
                None,
            )
            raise
        self.upload("plan", ["plan.json", "plan.md"])
        self.write_checklist(self.work_dir / "plan.json")
        checklist = self._checklist()
        self.post_comment(
            lambda marker: markdown.render_plan(plan, run=run_info, marker=marker, checklist=checklist),
            str(plan.get("hash") or ""),
        )
        self.out.append_summary(
            markdown.render_plan(
                plan,
                run=run_info,
                checklist=checklist,
                budget=self.out.summary_room,
                measure=markdown.utf8_length,
                overflow_hint=f"see the `{run_info.artifact_name}` artifact",
            )
        )
        result = Result(
            has_changes=bool(plan.get("hasChanges")),
            plan_hash=str(plan.get("hash") or ""),
            summary=self.plan_summary(plan),
        )
        if run.code == EXIT_DRIFT:
            result.exit_code, result.failure_reason = EXIT_DRIFT, "drift"
        return result

    def write_checklist(self, plan_path: Path) -> None:
        """Evaluate the gates for the PR comment (``gate --checklist-out``).  On a PR most gates are
        still pending (nothing is merged or approved yet), so a refusal here is information for the
        reviewer, not a failure of the plan step."""
        path = self.work_dir / "checklist.json"
        supported = self.options("gate")
        if path.is_file() or "--checklist-out" not in supported:
            return
        argv = [*self.common_args("gate"), "--checklist-out", str(path), *self.optional_args("gate")]
        if "--plan" in supported and plan_path.is_file():
            argv += ["--plan", str(plan_path)]
        self.cli(argv)
        items = self._checklist()
        if items and all(item.get("status") == "skip" for item in items):
            path.unlink()  # an unprotected environment: nothing to show

    def _checklist(self) -> list[dict[str, Any]]:
        """The gates' checklist (``checklist.json`` in the work dir, written by ``gate``), if any."""
        path = self.work_dir / "checklist.json"
        if not path.is_file():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return []
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    def reviewed_plan_hash(self) -> tuple[str | None, str]:
        """The plan hash reviewers saw, and where it came from (PR comment marker, else plan artifact)."""
        found = self.pull_request()
        if found is None:
            return None, "no pull request found for this commit"
        number, head_sha, _ = found
        from ci_deployer.github.comment import StickyComments

        repo = self.github.get_repo(self.ctx.repository)
        marker = StickyComments(repo, number).reviewed_marker(self.env)
        if marker is not None and marker.plan_hash:
            return marker.plan_hash, f"the plan comment on #{number}"
        from ci_deployer.github.state import ArtifactStateBackend

        plan_hash = ArtifactStateBackend(self.github, self.ctx.repository, self.inputs.github_token).plan_hash_for(
            self.env, head_sha
        )
        if plan_hash:
            return plan_hash, f"the plan artifact of #{number}"
        return None, f"no plan for {self.env} was posted on #{number}"

    def apply(self) -> Result:
        plan_args: list[str] = []
        if self.inputs.plan_path:
            plan_path = Path(self.inputs.plan_path)
            plan_args = ["--plan", str(plan_path if plan_path.is_absolute() else self.ctx.workspace / plan_path)]
        elif self.ctx.in_actions and self.inputs.github_token:
            reviewed, source = self.reviewed_plan_hash()
            if reviewed is None:
                self.out.notice(f"no reviewed plan to compare with ({source}): applying a fresh plan")
            else:
                run, fresh = self.run_plan("plan.json")
                if fresh is None or run.code not in (EXIT_OK, EXIT_CHANGES, EXIT_DRIFT):
                    raise self.fail_from(run, "plan")
                if fresh.get("hash") != reviewed:
                    self.out.append_summary(
                        "### ❌ The plan changed since it was reviewed\n\n"
                        f"Reviewed: `{reviewed}` ({source})\n\nFresh: `{fresh.get('hash')}`\n\n"
                        + markdown.render_plan(
                            fresh,
                            run=markdown.RunInfo(self.run_url(), self.ctx.sha),
                            budget=self.out.summary_room // 2,
                            measure=markdown.utf8_length,
                        )
                    )
                    raise PlanChanged(
                        f"the plan for {self.env} changed since it was reviewed "
                        f"({source}: {reviewed}; now {fresh.get('hash')})",
                        hint="re-run the plan on a pull request, review it, and apply that",
                    )
                plan_args = ["--plan", str(self.work_dir / "plan.json")]
        record = self._start_deployment()
        argv = [*self.common_args("apply"), "--auto-approve", *plan_args, *self.seed_state("apply")]
        if "--out-dir" in self.options("apply"):
            argv += ["--out-dir", str(self.work_dir)]
        argv += self.optional_args("apply")
        run = self.cli(argv)
        self.upload("apply", APPLY_FILES)
        ok = run.code == EXIT_OK
        if record is not None:
            try:
                record.finish("success" if ok else "failure", f"ci-deployer apply to {self.env}")
            except GitHubError as error:
                self.out.warning(f"the deployment status was not recorded: {error}")
        body = run.stdout if run.stdout.strip() else run.stderr
        self.out.append_summary(
            markdown.render_result(
                command="apply",
                env=self.env,
                ok=ok,
                status="Applied."
                if ok
                else "The apply failed: the partial snapshot and apply log are in the artifacts.",
                body=body,
                artifacts=self.uploaded,
                run_url=self.run_url(),
                budget=self.out.summary_room,
            )
        )
        if not ok:
            raise self.fail_from(run, "apply")
        return Result(summary=f"{self.env}: applied")

    def _start_deployment(self) -> Any:
        if not (self.ctx.in_actions and self.inputs.github_token and self.ctx.sha):
            return None
        from ci_deployer.github import deployments

        try:
            return deployments.start(
                self.github.get_repo(self.ctx.repository),
                env=self.env,
                sha=self.ctx.sha,
                log_url=self.run_url(),
                description=f"ci-deployer apply to {self.env}",
                payload={"tool": "ci-deployer", "run": self.ctx.run_id},
                production=self.env == "prod",
            )
        except GitHubError as error:
            self.out.warning(f"no GitHub Deployment recorded (needs `deployments: write`): {error}")
            return None

    def other(self) -> Result:
        """drift, test, gate, rollback: the CLI's result, summarised."""
        command = self.inputs.command
        argv = self.common_args(command)
        if command == "rollback":
            if not self.inputs.snapshot:
                raise ConfigError(
                    "command `rollback` needs the `snapshot` input", hint="set `snapshot:` to a snapshot file"
                )
            snap = Path(self.inputs.snapshot)
            argv += ["--snapshot", str(snap if snap.is_absolute() else self.ctx.workspace / snap), "--auto-approve"]
            argv += ["--out-dir", str(self.work_dir)] if "--out-dir" in self.options(command) else []
        argv += self.optional_args(command) + self.seed_state(command)
        run = self.cli(argv)
        ok = run.code == EXIT_OK
        if command == "rollback":
            self.upload("rollback", APPLY_FILES)
        self.out.append_summary(
            markdown.render_result(
                command=command,
                env=self.env,
                ok=ok,
                status="Done." if ok else f"Exit code {run.code}.",
                body=run.stdout or run.stderr,
                artifacts=self.uploaded,
                run_url=self.run_url(),
                budget=self.out.summary_room,
            )
        )
        if not ok:
            raise self.fail_from(run, command)
        return Result(summary=f"{command} {self.env}: ok")


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


def _display_dir(ctx: context.ActionContext, path: Path) -> str:
    """The work dir as later steps can use it: workspace-relative when inside the workspace."""
    try:
        return path.resolve().relative_to(ctx.workspace.resolve()).as_posix()
    except ValueError:
        return str(path)


def main(environ: Mapping[str, str], *, stdout: TextIO | None = None, services: Services | None = None) -> int:
    """Run the action for the environment ``environ``; returns the process exit code."""
    output_file = environ.get("GITHUB_OUTPUT") or None
    summary_file = environ.get("GITHUB_STEP_SUMMARY") or None
    out = commands.Workflow(
        stdout,
        output_file=Path(output_file) if output_file else None,
        summary_file=Path(summary_file) if summary_file else None,
    )
    # Tokens are secrets too: register them before anything is printed.
    for name in ("INPUT_GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        if environ.get(name):
            out.add_mask(environ[name])
    out.mask_registered()
    result = Result()
    artifacts_dir = ""
    try:
        ctx = context.from_environ(environ)
        action = ActionRun(ctx, out, services or Services())
        action.work_dir.mkdir(parents=True, exist_ok=True)
        artifacts_dir = _display_dir(ctx, action.work_dir)
        result = action.run()
    except CommandFailed as error:
        result = Result(
            exit_code=error.exit_code or EXIT_FAILED, failure_reason=error.failure_reason, summary=str(error)
        )
        out.error(f"{error}" + (f"\nhint: {error.hint}" if error.hint else ""))
    except DeployerError as error:
        code = EXIT_DRIFT if error.failure_reason == "drift" else EXIT_FAILED
        result = Result(exit_code=code, failure_reason=error.failure_reason, summary=str(error))
        out.error(f"{error}" + (f"\nhint: {error.hint}" if error.hint else ""))
    except Exception as exc:  # a bug: exit 4 and say where the details are
        from ci_deployer.cli import _write_crash_log

        path = _write_crash_log(exc)
        result = Result(
            exit_code=EXIT_INTERNAL, failure_reason="error", summary=f"internal error: {type(exc).__name__}"
        )
        out.error(f"internal error: {type(exc).__name__} (a bug in ci-deployer). Details were written to {path}")
    out.mask_registered()
    result.summary = redact.redact(result.summary.splitlines()[0] if result.summary else "")
    _write_outputs(out, result, artifacts_dir)
    return result.exit_code


def entrypoint() -> None:
    """Console script ``ci-deployer-action``: the container's ENTRYPOINT."""
    raise SystemExit(main(os.environ, stdout=sys.stdout))
