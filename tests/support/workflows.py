"""Plays workflow files — the project's own ``workflows-examples/*.yml`` — against the fake GitHub.

The subset of GitHub Actions' workflow syntax the examples use, interpreted as the runner does:

- triggers: ``pull_request`` (``types``, ``branches``, ``paths``/``paths-ignore`` against the real git
  diff of the PR), ``push`` (``branches``, ``tags``, ``paths`` against ``before..after``),
  ``workflow_dispatch`` (``inputs``: required, defaults, types) and ``schedule``;
- ``permissions`` (workflow, overridden by job; ``{}`` = none; read-only for fork PRs), ``env``
  (workflow < job < step), ``needs`` (order, ``needs.X.outputs``/``result``), ``strategy.matrix``
  (lists, ``include``/``exclude``), job ``environment`` (a GitHub Environment: its secrets and
  variables reach only jobs in it; required reviewers are a callable the test supplies; GitHub's own
  deployment record of the job), job ``outputs``, ``if:`` on jobs and steps, ``continue-on-error``;
  ``concurrency`` and ``timeout-minutes`` are parsed and ignored;
- steps: ``actions/checkout`` (a fresh clone of the repository at the run's sha per job, with
  ``fetch-depth``), ``actions/upload-artifact`` / ``actions/download-artifact`` (through the fake's
  results service over HTTP, with the job's runtime token), the product's action (``uses:`` matching
  ``*/ci-deployer@*`` or ``./``) run **as a subprocess** — the installed console script
  ``ci-deployer-action`` — with the environment the runner gives a container action, and ``run:``
  steps, which are recorded but not executed unless the test registers a Python callable for the
  step's id.

The product's process gets no network but loopback: ``HTTP(S)_PROXY`` point at a closed local port
and ``NO_PROXY`` lets 127.0.0.1 and localhost through (httpx and requests honour both).

Results (:class:`WorkflowRun` → :class:`JobResult` → :class:`StepResult`) carry exit codes, outputs,
summaries, logs, annotations and conclusions; :meth:`Runner.leaks` scans every byte the runs printed
or wrote (and what the fake GitHub stored) for secret values.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.expressions import Evaluator, Status, to_str
from support.fake_github import ZERO_SHA, FakeGitHub, JobRecord, effective_scopes
from support.results_service import SERVICE

REPO_ROOT = Path(__file__).resolve().parents[2]
ACTION_YML = REPO_ROOT / "action.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
EXAMPLES = REPO_ROOT / "workflows-examples"
# GitHub's "restricted" default for the GITHUB_TOKEN when a workflow sets no permissions.
RESTRICTED_DEFAULT = {"contents": "read", "packages": "read"}
PERMISSIVE_DEFAULT = "write-all"
DEFAULT_PR_TYPES = ("opened", "synchronize", "reopened")
# A closed port: a proxy there refuses every connection (the product must not reach the internet).
DEAD_PROXY = "http://127.0.0.1:9"


class WorkflowError(Exception):
    """A workflow the harness cannot play (unsupported syntax) or GitHub would refuse to start."""


# -- YAML: GitHub reads workflows as YAML 1.2, where `on` is a string, not a boolean ----------------------


class _WorkflowLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans only (``true``/``false``): PyYAML's 1.1 rules would read the
    key ``on`` as ``True``."""


_WorkflowLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """Parse workflow or action YAML with YAML 1.2 booleans."""
    return yaml.load(text, Loader=_WorkflowLoader)  # noqa: S506 - a SafeLoader subclass


# -- filters -----------------------------------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """GitHub's filter pattern syntax ("Filter pattern cheat sheet"): ``*`` stops at ``/``, ``**``
    does not, ``?``/``+`` repeat the previous character, ``[…]`` is a class."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] in "?+":
            out += pattern[i]
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i)
            out += pattern[i : end + 1] if end > i else re.escape(pattern[i])
            i = end + 1 if end > i else i + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def filter_matches(patterns: Sequence[str], name: str) -> bool:
    """Whether ``name`` is selected by ``patterns`` (in order; ``!pattern`` deselects)."""
    selected = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _glob_regex(pattern[1:] if negated else pattern).match(name):
            selected = not negated
    return selected


def _filter_passes(config: Mapping[str, Any], include_key: str, ignore_key: str, names: Sequence[str]) -> bool:
    """``branches``/``branches-ignore`` (or paths, tags) for a list of names: any name passing triggers."""
    if include_key in config:
        return any(filter_matches([str(p) for p in config[include_key]], n) for n in names)
    if ignore_key in config:
        return any(not filter_matches([str(p) for p in config[ignore_key]], n) for n in names)
    return True


# -- the workflow file ---------------------------------------------------------------------------------------


@dataclass
class Workflow:
    """One parsed workflow file."""

    path: Path
    name: str
    on: dict[str, Any]
    permissions: Any
    env: dict[str, Any]
    jobs: dict[str, dict[str, Any]]
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Workflow:
        """Read a workflow file (its ``on:`` normalised to a map of event → config)."""
        data = load_yaml(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "jobs" not in data or "on" not in data:
            raise WorkflowError(f"{path}: not a workflow (needs `on:` and `jobs:`)")
        on = data["on"]
        if isinstance(on, str):
            on = {on: None}
        elif isinstance(on, list):
            on = dict.fromkeys(on)
        for job_key, job in data["jobs"].items():
            unsupported = {"container", "services", "uses"} & set(job)
            if unsupported:
                raise WorkflowError(f"{path}: job {job_key} uses {sorted(unsupported)}, not supported by the harness")
        return cls(
            path=path,
            name=str(data.get("name") or path.name),
            on=dict(on),
            permissions=data.get("permissions"),
            env=dict(data.get("env") or {}),
            jobs=dict(data["jobs"]),
            raw=data,
        )

    @property
    def repo_path(self) -> str:
        """Where the file would live in the config repository."""
        return f".github/workflows/{self.path.name}"

    def dispatch_inputs(self) -> dict[str, dict[str, Any]]:
        """The ``workflow_dispatch`` inputs declared."""
        config = self.on.get("workflow_dispatch") or {}
        return dict(config.get("inputs") or {})


# -- results --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotation:
    """A workflow command the runner turns into an annotation."""

    level: str  # error | warning | notice | debug
    message: str
    properties: dict[str, str]


@dataclass
class StepResult:
    """What one step did."""

    index: int
    id: str | None
    name: str
    kind: str  # action | checkout | upload-artifact | download-artifact | run | uses
    executed: bool
    note: str = ""
    exit_code: int | None = None
    outcome: str = "success"  # success | failure | skipped
    conclusion: str = "success"
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    stdout: str = ""
    stderr: str = ""
    annotations: list[Annotation] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # the process environment (secrets included)
    inputs: dict[str, str] = field(default_factory=dict)  # INPUT_* values
    duration: float = 0.0

    @property
    def log(self) -> str:
        """stdout then stderr, as one log."""
        return self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr

    def errors(self) -> list[Annotation]:
        """The ``::error`` annotations."""
        return [a for a in self.annotations if a.level == "error"]


@dataclass
class JobResult:
    """What one job (one matrix combination) did."""

    key: str
    name: str
    matrix: dict[str, Any]
    conclusion: str  # success | failure | skipped
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    environment: str | None = None
    scopes: dict[str, str] = field(default_factory=dict)
    token: str = ""
    root: Path | None = None
    note: str = ""

    def step(self, name_or_id: str) -> StepResult:
        """A step by id or name."""
        for step in self.steps:
            if name_or_id in (step.id, step.name):
                return step
        raise KeyError(f"no step {name_or_id!r} in job {self.name}: {[s.name for s in self.steps]}")

    def action_steps(self) -> list[StepResult]:
        """The steps that ran the product's action."""
        return [s for s in self.steps if s.kind == "action"]


@dataclass
class WorkflowRun:
    """One played workflow run."""

    workflow: Workflow
    event_name: str
    payload: dict[str, Any]
    triggered: bool
    reason: str = ""
    run_id: int | None = None
    sha: str = ""
    ref: str = ""
    jobs: dict[str, list[JobResult]] = field(default_factory=dict)
    conclusion: str = "skipped"

    def job(self, key: str, **matrix: Any) -> JobResult:
        """The result of job ``key`` (and of the matrix combination given)."""
        for job in self.jobs.get(key, []):
            if all(str(job.matrix.get(k)) == str(v) for k, v in matrix.items()):
                return job
        raise KeyError(f"no job {key} {matrix or ''} in {self.workflow.path.name}: {list(self.jobs)}")

    def all_jobs(self) -> list[JobResult]:
        """Every job result, in run order."""
        return [job for jobs in self.jobs.values() for job in jobs]

    def steps(self) -> list[StepResult]:
        """Every step result of every job."""
        return [step for job in self.all_jobs() for step in job.steps]

    def action_steps(self) -> list[StepResult]:
        """Every step that ran the product's action."""
        return [step for step in self.steps() if step.kind == "action"]


# -- what tests plug in ---------------------------------------------------------------------------------------


@dataclass
class Environment:
    """A GitHub Environment: secrets and variables for jobs that name it."""

    name: str
    secrets: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApprovalRequest:
    """A job waiting for an environment's required reviewers."""

    environment: str
    job: str
    run_id: int
    event_name: str
    ref: str


@dataclass
class StepContext:
    """What a registered ``run:`` step callable gets."""

    env: dict[str, str]
    workspace: Path
    github: FakeGitHub
    run: WorkflowRun
    job_key: str
    step: dict[str, Any]


@dataclass
class StepOutcome:
    """What a registered ``run:`` step callable returns (None means success, no outputs)."""

    exit_code: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    stdout: str = ""


RunStep = Callable[[StepContext], StepOutcome | None]


@dataclass
class _Job:
    """A job being played: its run, contexts, folders and credentials."""

    run: WorkflowRun
    facts: Mapping[str, Any]
    key: str
    contexts: dict[str, Any]
    dirs: dict[str, Path]
    credentials: JobRecord

    @property
    def workspace(self) -> Path:
        """``GITHUB_WORKSPACE``."""
        return self.dirs["workspace"]

    def backend_ids(self) -> dict[str, str]:
        """The results service's ids of this run and job."""
        return {
            "workflow_run_backend_id": self.run_backend_id,
            "workflow_job_run_backend_id": self.credentials.backend_id,
        }

    run_backend_id: str = ""


@dataclass(frozen=True)
class _MatrixEntry:
    """One combination of a job's matrix."""

    values: dict[str, Any]
    index: int
    total: int


def _is_product_action(uses: str) -> bool:
    return uses in {"./", "."} or bool(re.fullmatch(r"[^/@\s]+/ci-deployer@\S+", uses))


# -- workflow commands ------------------------------------------------------------------------------------------

_COMMAND = re.compile(r"^::([a-zA-Z-]+)(?: ([^:]*))?::(.*)$")


def _unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text: str) -> str:
    return _unescape_data(text).replace("%3A", ":").replace("%2C", ",")


def parse_commands(log: str) -> tuple[list[Annotation], list[str], bool]:
    """Annotations and masks from a step's log, honouring ``::stop-commands::``; also whether
    ``::stop-commands::`` was used (it would disable masking for the rest of the step)."""
    annotations: list[Annotation] = []
    masks: list[str] = []
    stop_token: str | None = None
    stopped_ever = False
    for line in log.splitlines():
        match = _COMMAND.match(line.strip())
        if match is None:
            continue
        command, props, data = match.group(1), match.group(2) or "", match.group(3)
        if stop_token is not None:
            if command == stop_token:
                stop_token = None
            continue
        if command == "stop-commands":
            stop_token, stopped_ever = data, True
        elif command == "add-mask":
            masks.append(_unescape_data(data))
        elif command in ("error", "warning", "notice", "debug"):
            properties = {}
            for item in filter(None, props.split(",")):
                key, _, value = item.partition("=")
                properties[key.strip()] = _unescape_property(value)
            annotations.append(Annotation(command, _unescape_data(data), properties))
    return annotations, masks, stopped_ever


def parse_file_command(text: str) -> dict[str, str]:
    """``GITHUB_OUTPUT``/``GITHUB_ENV`` contents: ``name=value`` and ``name<<DELIM … DELIM`` forms."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise WorkflowError(f"file command: no closing delimiter {delimiter!r} for {name!r}")
            i += 1
            values[name] = "\n".join(body)
        else:
            name, sep, value = line.partition("=")
            if not sep:
                raise WorkflowError(f"file command: invalid line {line!r}")
            values[name] = value
    return values


def _dockerfile_env(path: Path) -> dict[str, str]:
    """The ``ENV`` settings of the action's Dockerfile (the container's environment), except PATH."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            for key, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", line):
                if key != "PATH":
                    env[key] = value.strip("\"'")
    return env


# -- the runner -------------------------------------------------------------------------------------------------


class Runner:
    """Plays workflows against ``github``, one job after another, in folders under ``root``."""

    def __init__(
        self,
        github: FakeGitHub,
        root: Path,
        *,
        secrets: Mapping[str, str] | None = None,
        vars: Mapping[str, str] | None = None,
        environments: Mapping[str, Environment] | None = None,
        approve: Callable[[ApprovalRequest], bool] | None = None,
        run_steps: Mapping[str, RunStep] | None = None,
        action_yml: Path = ACTION_YML,
        action_command: Sequence[str] | None = None,
        default_permissions: str = "restricted",
        environment_deployments: bool = True,
        timeout: float = 600.0,
    ) -> None:
        self.github = github
        self.root = root
        self.secrets = dict(secrets or {})
        self.vars = dict(vars or {})
        self.environments = dict(environments or {})
        self.approve = approve or (lambda request: True)
        self.run_steps = dict(run_steps or {})
        self.action = load_yaml(action_yml.read_text(encoding="utf-8"))
        script = Path(sys.executable).with_name("ci-deployer-action")
        self.action_command = list(action_command or [str(script)])
        self.default_permissions = default_permissions
        self.environment_deployments = environment_deployments
        self.timeout = timeout
        self.container_env = _dockerfile_env(DOCKERFILE)
        self.runs: list[WorkflowRun] = []
        self.approvals: list[ApprovalRequest] = []
        self._job_dirs = itertools.count(1)

    # -- triggering ----------------------------------------------------------------------------------------

    def run_workflow(self, path: Path | str, event_name: str, payload: Mapping[str, Any]) -> WorkflowRun:
        """Play ``path`` for an event; a run that the event does not trigger says why (``triggered``)."""
        workflow = Workflow.load(Path(path))
        payload = json.loads(json.dumps(payload))  # a private copy, as the runner's event.json is
        run = WorkflowRun(workflow, event_name, payload, triggered=False)
        self.runs.append(run)
        triggered, reason = self._triggered(workflow, event_name, payload)
        run.reason = reason
        if not triggered:
            return run
        run.triggered = True
        self._play(run)
        return run

    def _triggered(self, workflow: Workflow, event: str, payload: dict[str, Any]) -> tuple[bool, str]:
        if event not in workflow.on:
            return False, f"{workflow.path.name} has no `on: {event}`"
        config = workflow.on[event] or {}
        git = self.github.git
        if event in ("pull_request", "pull_request_target"):
            pr = payload["pull_request"]
            if payload.get("action") not in config.get("types", DEFAULT_PR_TYPES):
                return False, f"action {payload.get('action')!r} is not among the types"
            if not _filter_passes(config, "branches", "branches-ignore", [pr["base"]["ref"]]):
                return False, f"base branch {pr['base']['ref']} is filtered out"
            base = git.merge_base(pr["base"]["sha"], pr["head"]["sha"]) or pr["base"]["sha"]
            files = [c.filename for c in git.changed_files(base, pr["head"]["sha"])]
            if not _filter_passes(config, "paths", "paths-ignore", files):
                return False, f"no changed file matches the paths filter ({files})"
            return True, "pull_request"
        if event == "push":
            ref = str(payload["ref"])
            if ref.startswith("refs/tags/"):
                tag = ref.removeprefix("refs/tags/")
                if ("branches" in config or "branches-ignore" in config) and not (
                    "tags" in config or "tags-ignore" in config
                ):
                    return False, "a tag push with only branch filters"
                if not _filter_passes(config, "tags", "tags-ignore", [tag]):
                    return False, f"tag {tag} is filtered out"
            else:
                branch = ref.removeprefix("refs/heads/")
                if ("tags" in config or "tags-ignore" in config) and not (
                    "branches" in config or "branches-ignore" in config
                ):
                    return False, "a branch push with only tag filters"
                if not _filter_passes(config, "branches", "branches-ignore", [branch]):
                    return False, f"branch {branch} is filtered out"
            before, after = str(payload["before"]), str(payload["after"])
            if before == ZERO_SHA:  # a new branch: every file of the commit counts
                files = git.git("ls-tree", "-r", "--name-only", after).splitlines()
            else:
                files = [c.filename for c in git.changed_files(before, after)]
            if not _filter_passes(config, "paths", "paths-ignore", files):
                return False, f"no changed file matches the paths filter ({files})"
            return True, "push"
        if event == "workflow_dispatch":
            declared = workflow.dispatch_inputs()
            given = dict(payload.get("inputs") or {})
            unknown = set(given) - set(declared)
            if unknown:
                raise WorkflowError(f"Unexpected inputs provided: {sorted(unknown)}")
            for name, declared_spec in declared.items():
                spec = declared_spec or {}
                if name not in given and "default" in spec:
                    default = spec["default"]
                    given[name] = ("true" if default else "false") if isinstance(default, bool) else str(default)
                if spec.get("required") and str(given.get(name, "")) == "":
                    raise WorkflowError(f"Required input '{name}' not provided")
                if spec.get("type") == "choice" and name in given and given[name] not in spec.get("options", []):
                    raise WorkflowError(f"input {name}: {given[name]!r} is not one of the options")
            payload["inputs"] = given
            return True, "workflow_dispatch"
        if event == "schedule":
            return True, "schedule"
        raise WorkflowError(f"event {event} is not supported by the harness")

    # -- the run ------------------------------------------------------------------------------------------

    def _run_facts(self, run: WorkflowRun) -> dict[str, Any]:
        """ref, sha, head branch/sha/repository and refs of the event (GitHub docs, "Events that trigger workflows")."""
        payload, git = run.payload, self.github.git
        default = git.default_branch
        if run.event_name.startswith("pull_request"):
            pr = payload["pull_request"]
            number = int(pr["number"])
            return {
                "ref": f"refs/pull/{number}/merge",
                "sha": self.github.test_merge_sha(number),
                "ref_name": f"{number}/merge",
                "head_ref": pr["head"]["ref"],
                "base_ref": pr["base"]["ref"],
                "head_branch": pr["head"]["ref"],
                "head_sha": pr["head"]["sha"],
                "head_repo": pr["head"]["repo"]["full_name"],
                "fork": pr["head"]["repo"]["full_name"] != self.github.full_name,
            }
        if run.event_name == "push":
            ref = payload["ref"]
            return {
                "ref": ref,
                "sha": payload["after"],
                "ref_name": ref.split("/", 2)[2],
                "head_ref": "",
                "base_ref": "",
                "head_branch": ref.split("/", 2)[2],
                "head_sha": payload["after"],
                "head_repo": self.github.full_name,
                "fork": False,
            }
        ref = payload.get("ref") or f"refs/heads/{default}"
        if not str(ref).startswith("refs/"):
            ref = f"refs/heads/{ref}"
        sha = git.resolve(ref)
        if sha is None:
            raise WorkflowError(f"{ref} does not exist")
        return {
            "ref": ref,
            "sha": sha,
            "ref_name": ref.split("/", 2)[2],
            "head_ref": "",
            "base_ref": "",
            "head_branch": ref.split("/", 2)[2],
            "head_sha": sha,
            "head_repo": self.github.full_name,
            "fork": False,
        }

    def _play(self, run: WorkflowRun) -> None:
        facts = self._run_facts(run)
        actor = str((run.payload.get("sender") or {}).get("login") or self.github.owner)
        record = self.github.start_run(
            name=run.workflow.name,
            path=run.workflow.repo_path,
            event=run.event_name,
            head_branch=facts["head_branch"],
            head_sha=facts["head_sha"],
            head_repo=facts["head_repo"],
            actor=actor,
        )
        run.run_id, run.sha, run.ref = record.id, facts["sha"], facts["ref"]
        facts["actor"] = actor
        try:
            for job_key in self._job_order(run.workflow):
                run.jobs[job_key] = self._run_job_matrix(run, facts, job_key)
        finally:
            conclusions = {job.conclusion for job in run.all_jobs()}
            run.conclusion = "failure" if "failure" in conclusions else "success"
            self.github.finish_run(record.id, run.conclusion)

    @staticmethod
    def _needs(job: Mapping[str, Any]) -> list[str]:
        needs = job.get("needs") or []
        return [needs] if isinstance(needs, str) else [str(n) for n in needs]

    def _job_order(self, workflow: Workflow) -> list[str]:
        order: list[str] = []
        pending = dict(workflow.jobs)
        while pending:
            ready = [k for k, job in pending.items() if all(n in order for n in self._needs(job))]
            if not ready:
                raise WorkflowError(f"{workflow.path.name}: `needs` cycle or unknown job among {sorted(pending)}")
            for key in ready:  # file order among the ready ones, as the runner starts them together
                order.append(key)
                del pending[key]
        return order

    def _needs_context(self, run: WorkflowRun, job: Mapping[str, Any]) -> dict[str, Any]:
        context: dict[str, Any] = {}
        for need in self._needs(job):
            results = run.jobs.get(need, [])
            conclusions = {r.conclusion for r in results}
            result = "failure" if "failure" in conclusions else "success" if "success" in conclusions else "skipped"
            outputs: dict[str, str] = {}
            for r in results:
                outputs.update(r.outputs)
            context[need] = {"result": result, "outputs": outputs}
        return context

    def _base_contexts(self, run: WorkflowRun, facts: Mapping[str, Any]) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        if run.event_name == "workflow_dispatch":
            for name, spec in run.workflow.dispatch_inputs().items():
                value = run.payload["inputs"].get(name, "")
                kind = (spec or {}).get("type")
                inputs[name] = (
                    value == "true" if kind == "boolean" else float(value) if kind == "number" and value else value
                )
        github = {
            "event": run.payload,
            "event_name": run.event_name,
            "sha": facts["sha"],
            "ref": facts["ref"],
            "ref_name": facts["ref_name"],
            "head_ref": facts["head_ref"],
            "base_ref": facts["base_ref"],
            "repository": self.github.full_name,
            "repository_owner": self.github.owner,
            "run_id": str(run.run_id),
            "run_number": str(self.github.runs[run.run_id].run_number) if run.run_id else "1",
            "run_attempt": "1",
            "actor": facts["actor"],
            "triggering_actor": facts["actor"],
            "server_url": "https://github.com",
            "api_url": self.github.api,
            "graphql_url": self.github.api + "/graphql",
            "workflow": run.workflow.name,
            "workflow_ref": f"{self.github.full_name}/{run.workflow.repo_path}@{facts['ref']}",
            "retention_days": "90",
        }
        return {"github": github, "inputs": inputs, "vars": dict(self.vars)}

    def _matrix(self, job: Mapping[str, Any], evaluator: Evaluator) -> list[dict[str, Any]]:
        strategy = job.get("strategy") or {}
        matrix = strategy.get("matrix")
        if matrix is None:
            return [{}]
        if isinstance(matrix, str):
            matrix = evaluator.value(matrix)
        axes = {k: evaluator.render(v) for k, v in matrix.items() if k not in ("include", "exclude")}
        for key, values in axes.items():
            if not isinstance(values, list):
                raise WorkflowError(f"matrix axis {key} must be a list")
        combos = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())] if axes else []
        for exclude in matrix.get("exclude") or []:
            combos = [c for c in combos if not all(str(c.get(k)) == str(v) for k, v in exclude.items())]
        for include in matrix.get("include") or []:
            extended = False
            for combo in combos:
                original = {k: combo[k] for k in axes}
                if all(str(original.get(k)) == str(v) for k, v in include.items() if k in axes):
                    combo.update({k: v for k, v in include.items() if k not in axes or k in original})
                    extended = True
            if not extended:
                combos.append(dict(include))
        return combos or [{}]

    def _run_job_matrix(self, run: WorkflowRun, facts: Mapping[str, Any], job_key: str) -> list[JobResult]:
        job = run.workflow.jobs[job_key]
        contexts = self._base_contexts(run, facts)
        contexts["needs"] = self._needs_context(run, job)
        combos = self._matrix(job, Evaluator(contexts))
        return [
            self._run_job(run, facts, job_key, _MatrixEntry(combo, index, len(combos)))
            for index, combo in enumerate(combos)
        ]

    def _run_job(self, run: WorkflowRun, facts: Mapping[str, Any], job_key: str, entry: _MatrixEntry) -> JobResult:
        job = run.workflow.jobs[job_key]
        matrix, index, total = entry.values, entry.index, entry.total
        contexts = self._base_contexts(run, facts)
        needs = self._needs_context(run, job)
        contexts.update(
            needs=needs,
            matrix=matrix,
            strategy={"fail-fast": True, "job-index": index, "job-total": total, "max-parallel": total},
            secrets={},
            env={},
        )
        need_results = [n["result"] for n in needs.values()]
        status = Status(success=all(r == "success" for r in need_results), failure="failure" in need_results)
        evaluator = Evaluator(contexts, status)
        default_name = job_key + (f" ({', '.join(str(v) for v in matrix.values())})" if matrix else "")
        name = evaluator.render_string(str(job["name"])) if job.get("name") else default_name
        result = JobResult(job_key, name, matrix, "skipped")
        if not evaluator.condition(job.get("if")):
            result.note = "skipped: its `if:` is false (or a needed job did not succeed)"
            return result

        environment = job.get("environment")
        if isinstance(environment, Mapping):
            environment = environment.get("name")
        env_name = evaluator.render_string(str(environment)) if environment else None
        result.environment = env_name
        fork = bool(facts["fork"])
        # Secrets: none at all for fork PRs; repository secrets, then the environment's over them.
        secrets: dict[str, str] = {}
        env_vars = dict(self.vars)
        if not fork:
            secrets.update(self.secrets)
            if env_name and env_name in self.environments:
                secrets.update(self.environments[env_name].secrets)
                env_vars.update(self.environments[env_name].vars)
        permissions = job.get("permissions", run.workflow.permissions)
        if permissions is None:
            permissions = RESTRICTED_DEFAULT if self.default_permissions == "restricted" else PERMISSIVE_DEFAULT
        scopes = effective_scopes(permissions, read_only=fork)
        assert run.run_id is not None
        credentials = self.github.start_job(run.run_id, f"{job_key}-{index}" if total > 1 else job_key, scopes)
        secrets["GITHUB_TOKEN"] = credentials.token
        contexts["github"]["token"] = credentials.token
        contexts["github"]["job"] = job_key
        contexts["secrets"] = secrets
        contexts["vars"] = env_vars
        result.scopes, result.token = scopes, credentials.token

        if env_name:
            request = ApprovalRequest(env_name, job_key, run.run_id, run.event_name, facts["ref"])
            self.approvals.append(request)
            if not self.approve(request):
                result.conclusion = "failure"
                result.note = f"the deployment to environment {env_name} was rejected by its reviewers"
                return result

        root = self.root / f"run-{run.run_id}" / f"{next(self._job_dirs):03d}-{job_key}"
        dirs = {name: root / name for name in ("workspace", "temp", "home", "file_commands", "workflow")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        result.root = root
        event_path = dirs["workflow"] / "event.json"
        event_path.write_text(json.dumps(run.payload, indent=2), encoding="utf-8")
        contexts["runner"] = {"os": "Linux", "arch": "X64", "name": "harness", "temp": str(dirs["temp"])}
        contexts["github"]["workspace"] = str(dirs["workspace"])
        contexts["github"]["event_path"] = str(event_path)

        job_env = {**run.workflow.env}
        contexts["env"] = {k: evaluator.render(v) for k, v in job_env.items()}
        contexts["env"].update({k: to_env(evaluator.render(v)) for k, v in (job.get("env") or {}).items()})

        deployment = self._environment_deployment(env_name, facts) if env_name else None
        steps_context: dict[str, Any] = {}
        contexts["steps"] = steps_context
        state = _Job(run, facts, job_key, contexts, dirs, credentials, self.github.runs[run.run_id].backend_id)
        failed = False
        for number, step in enumerate(job.get("steps") or []):
            step_eval = Evaluator(contexts, Status(success=not failed, failure=failed))
            step_result = self._run_step(state, step, number, step_eval)
            result.steps.append(step_result)
            if step.get("id"):
                steps_context[str(step["id"])] = {
                    "outputs": step_result.outputs,
                    "outcome": step_result.outcome,
                    "conclusion": step_result.conclusion,
                }
            if step_result.conclusion == "failure":
                failed = True
        result.conclusion = "failure" if failed else "success"
        final = Evaluator(contexts, Status(success=not failed, failure=failed))
        result.outputs = {k: to_env(final.render(v)) for k, v in (job.get("outputs") or {}).items()}
        if deployment is not None:
            self.github.record_environment_deployment_status(deployment, result.conclusion)
        return result

    def _environment_deployment(self, env_name: str, facts: Mapping[str, Any]) -> int | None:
        """GitHub records a deployment for every job that names an environment (GitHub docs,
        "Deployments and environments"); the runner's own, told apart from the product's."""
        if not self.environment_deployments:
            return None
        return self.github.record_environment_deployment(env_name, facts["sha"], facts["ref"])

    # -- steps --------------------------------------------------------------------------------------------------

    def _run_step(self, job: _Job, step: Mapping[str, Any], number: int, evaluator: Evaluator) -> StepResult:
        uses = str(step.get("uses") or "")
        kind = (
            "checkout"
            if uses.startswith("actions/checkout@")
            else "upload-artifact"
            if uses.startswith("actions/upload-artifact@")
            else "download-artifact"
            if uses.startswith("actions/download-artifact@")
            else "action"
            if uses and _is_product_action(uses)
            else "uses"
            if uses
            else "run"
        )
        name = evaluator.render_string(str(step["name"])) if step.get("name") else (f"Run {uses}" if uses else "Run")
        step_id = str(step["id"]) if step.get("id") else None
        result = StepResult(number, step_id, name, kind, executed=False)
        if not evaluator.condition(step.get("if")):
            result.outcome = result.conclusion = "skipped"
            result.note = "skipped: its `if:` is false"
            return result
        # Step env is evaluated with the job's env in scope, then layered over it.
        step_env = {k: to_env(evaluator.render(v)) for k, v in (step.get("env") or {}).items()}
        env = {**{k: to_env(v) for k, v in job.contexts["env"].items()}, **step_env}
        with_values = {k: to_env(evaluator.render(v)) for k, v in (step.get("with") or {}).items()}
        started = time.monotonic()
        if kind == "checkout":
            self._checkout(job, result, with_values)
        elif kind == "upload-artifact":
            self._upload_artifact(job, result, with_values)
        elif kind == "download-artifact":
            self._download_artifact(job, result, with_values)
        elif kind == "action":
            self._run_action(job, result, with_values, env, evaluator)
        elif kind == "run":
            callable_ = self.run_steps.get(step_id or "")
            if callable_ is None:
                result.note = "run: step recorded, not executed by the harness"
            else:
                outcome = callable_(StepContext(env, job.workspace, self.github, job.run, job.key, dict(step)))
                outcome = outcome or StepOutcome()
                result.executed = True
                result.exit_code, result.outputs = outcome.exit_code, dict(outcome.outputs)
                result.summary, result.stdout = outcome.summary, outcome.stdout
        else:
            result.note = f"uses: {uses} recorded, not executed by the harness"
        result.duration = time.monotonic() - started
        if result.exit_code not in (None, 0):
            result.outcome = "failure"
            continue_on_error = step.get("continue-on-error", False)
            if isinstance(continue_on_error, str):
                continue_on_error = evaluator.value(continue_on_error)
            result.conclusion = "success" if continue_on_error in (True, "true") else "failure"
        return result

    def _checkout(self, job: _Job, result: StepResult, inputs: Mapping[str, str]) -> None:
        """actions/checkout: a fresh clone at the run's sha (or ``ref``) with ``fetch-depth`` (default 1)."""
        repository = inputs.get("repository") or self.github.full_name
        if repository != self.github.full_name:
            raise WorkflowError(f"checkout of another repository ({repository}) is not supported")
        dest = job.workspace / inputs.get("path", "")
        depth = int(inputs.get("fetch-depth") or "1")
        ref = inputs.get("ref") or job.facts["ref"]
        origin = self.github.git
        sha = job.facts["sha"] if not inputs.get("ref") else origin.resolve(ref)
        if sha is None:
            result.exit_code, result.stderr = 1, f"##[error]A branch or tag with the name '{ref}' could not be found"
            return
        url = origin.root.resolve().as_uri()
        commands: list[list[str]] = [["init", "-q", str(dest)]]
        fetch = ["-C", str(dest), "fetch", "-q", "--no-tags", "--prune"]
        if depth > 0:
            commands.append([*fetch, f"--depth={depth}", url, f"+{sha}:refs/remotes/origin/checkout"])
        else:
            commands.append([*fetch, url, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"])
            commands.append([*fetch, url, f"+{sha}:refs/remotes/origin/checkout"])
        branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
        if branch:
            commands.append(["-C", str(dest), "checkout", "-q", "--force", "-B", branch, sha])
        else:
            commands.append(["-C", str(dest), "checkout", "-q", "--force", "--detach", sha])
        log = []
        for args in commands:
            done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
            log.append(f"git {' '.join(args)}\n{done.stdout}{done.stderr}")
            if done.returncode != 0:
                result.exit_code, result.stderr = done.returncode, "\n".join(log)
                return
        result.executed, result.exit_code, result.stdout = True, 0, "\n".join(log)

    def _twirp(self, job: _Job, method: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            self.github.url + SERVICE + method,
            json={**job.backend_ids(), **body},
            headers={"Authorization": f"Bearer {job.credentials.runtime_token}"},
            timeout=60,
        )
        if response.status_code != 200:
            raise WorkflowError(f"{method}: {response.status_code} {response.text}")
        data: dict[str, Any] = response.json()
        return data

    def _upload_artifact(self, job: _Job, result: StepResult, inputs: Mapping[str, str]) -> None:
        """actions/upload-artifact@v4: files under the least common ancestor of the search paths, zipped."""
        workspace = job.workspace
        name = inputs.get("name") or "artifact"
        patterns = [line.strip() for line in (inputs.get("path") or "").splitlines() if line.strip()]
        if not patterns:
            raise WorkflowError("upload-artifact: `path` is required")
        include = [p for p in patterns if not p.startswith("!")]
        exclude = [p[1:] for p in patterns if p.startswith("!")]
        files: set[Path] = set()
        roots: list[Path] = []
        for pattern in include:
            path = Path(os.path.expandvars(pattern))
            path = path if path.is_absolute() else workspace / path
            static = Path(*path.parts[: _static_len(path)])
            if static != path:  # a glob: searched under its static prefix
                roots.append(static)
                files |= {p for p in static.glob(str(path.relative_to(static))) if p.is_file()}
            elif path.is_dir():
                roots.append(path)
                files |= {p for p in path.rglob("*") if p.is_file()}
            elif path.is_file():
                roots.append(path.parent)
                files.add(path)
        root = Path(os.path.commonpath(roots)) if roots else workspace
        hidden = inputs.get("include-hidden-files", "false") == "true"
        excluded = [e if Path(e).is_absolute() else str(workspace / e) for e in exclude]
        files = {
            f
            for f in files
            if not any(fnmatch.fnmatch(str(f), e) for e in excluded)
            and (hidden or not any(part.startswith(".") for part in f.relative_to(root).parts))
        }
        if not files:
            behaviour = inputs.get("if-no-files-found") or "warn"
            message = (
                f"No files were found with the provided path: {inputs.get('path')}. No artifacts will be uploaded."
            )
            result.executed = True
            if behaviour == "error":
                result.exit_code, result.stdout = 1, f"::error::{message}"
            else:
                result.exit_code = 0
                result.stdout = f"::warning::{message}" if behaviour == "warn" else message
            result.annotations, _, _ = parse_commands(result.stdout)
            return
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for path in sorted(files):
                archive.write(path, path.relative_to(root).as_posix())
        data = buffer.getvalue()
        created = self._twirp(job, "CreateArtifact", {"name": name, "version": 4})
        put = httpx.put(created["signed_upload_url"], content=data, headers={"x-ms-blob-type": "BlockBlob"}, timeout=60)
        if put.status_code != 201:
            raise WorkflowError(f"upload-artifact: blob upload answered {put.status_code}")
        digest = hashlib.sha256(data).hexdigest()
        final = self._twirp(job, "FinalizeArtifact", {"name": name, "size": str(len(data)), "hash": f"sha256:{digest}"})
        artifact_id = str(final["artifact_id"])
        result.executed, result.exit_code = True, 0
        result.outputs = {
            "artifact-id": artifact_id,
            "artifact-url": f"https://github.com/{self.github.full_name}/actions/runs/{job.run.run_id}/artifacts/{artifact_id}",
            "artifact-digest": digest,
        }
        result.stdout = f"Artifact {name} has been successfully uploaded! Final size is {len(data)} bytes."

    def _download_artifact(self, job: _Job, result: StepResult, inputs: Mapping[str, str]) -> None:
        """actions/download-artifact@v4 for artifacts of the same run: ``name`` into ``path`` directly;
        without a name, each artifact into ``path/<name>/``."""
        if inputs.get("run-id") or inputs.get("github-token"):
            raise WorkflowError("download-artifact from another run is not supported by the harness")
        target = Path(inputs.get("path") or ".")
        target = target if target.is_absolute() else job.workspace / target
        name = inputs.get("name")
        listing = self._twirp(job, "ListArtifacts", {"name_filter": name} if name else {})
        artifacts = listing.get("artifacts") or []
        if name and not artifacts:
            result.executed, result.exit_code = True, 1
            result.stdout = f"::error::Unable to download artifact(s): Artifact not found for name: {name}"
            result.annotations, _, _ = parse_commands(result.stdout)
            return
        for artifact in artifacts:
            signed = self._twirp(job, "GetSignedArtifactURL", {"name": artifact["name"]})
            blob = httpx.get(signed["signed_url"], timeout=60)
            blob.raise_for_status()
            dest = target if name else target / artifact["name"]
            dest.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(io.BytesIO(blob.content)) as archive:
                archive.extractall(dest)
        result.executed, result.exit_code = True, 0
        result.outputs = {"download-path": str(target)}

    def _run_action(
        self,
        job: _Job,
        result: StepResult,
        with_values: Mapping[str, str],
        env: Mapping[str, str],
        evaluator: Evaluator,
    ) -> None:
        """The product's container action, as the runner runs it (see the module docstring)."""
        declared: dict[str, Any] = dict(self.action.get("inputs") or {})
        unexpected = sorted(set(with_values) - set(declared))
        inputs: dict[str, str] = {}
        for name, spec in declared.items():
            default = (spec or {}).get("default", "")
            value = with_values[name] if name in with_values else to_env(evaluator.render(default))
            inputs["INPUT_" + name.replace(" ", "_").upper()] = value
        for name in unexpected:  # the runner warns and still passes them
            inputs["INPUT_" + name.replace(" ", "_").upper()] = with_values[name]
        dirs, contexts, job_key = job.dirs, job.contexts, job.key
        step_files = dirs["file_commands"]
        suffix = f"{result.index:02d}"
        output_file = step_files / f"set_output_{suffix}"
        summary_file = step_files / f"step_summary_{suffix}"
        env_file = step_files / f"set_env_{suffix}"
        for path in (
            output_file,
            summary_file,
            env_file,
            step_files / f"add_path_{suffix}",
            step_files / f"save_state_{suffix}",
        ):
            path.write_text("", encoding="utf-8")
        github = contexts["github"]
        runner_vars = {
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "HOME": str(dirs["home"]),
            "GITHUB_REPOSITORY": self.github.full_name,
            "GITHUB_REPOSITORY_OWNER": self.github.owner,
            "GITHUB_REPOSITORY_ID": str(self.github.repo_ids[self.github.full_name]),
            "GITHUB_RUN_ID": github["run_id"],
            "GITHUB_RUN_NUMBER": github["run_number"],
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_JOB": job_key,
            "GITHUB_ACTION": result.id or f"__{job_key}_{result.index}",
            "GITHUB_SHA": github["sha"],
            "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_REF_TYPE": "tag" if github["ref"].startswith("refs/tags/") else "branch",
            "GITHUB_HEAD_REF": github["head_ref"],
            "GITHUB_BASE_REF": github["base_ref"],
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_EVENT_PATH": github["event_path"],
            "GITHUB_SERVER_URL": github["server_url"],
            "GITHUB_API_URL": github["api_url"],
            "GITHUB_GRAPHQL_URL": github["graphql_url"],
            "GITHUB_WORKSPACE": str(dirs["workspace"]),
            "GITHUB_WORKFLOW": github["workflow"],
            "GITHUB_WORKFLOW_REF": github["workflow_ref"],
            "GITHUB_ACTOR": github["actor"],
            "GITHUB_TRIGGERING_ACTOR": github["triggering_actor"],
            "GITHUB_RETENTION_DAYS": github["retention_days"],
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "GITHUB_ENV": str(env_file),
            "GITHUB_PATH": str(step_files / f"add_path_{suffix}"),
            "GITHUB_STATE": str(step_files / f"save_state_{suffix}"),
            "RUNNER_TEMP": str(dirs["temp"]),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_NAME": "harness",
            "RUNNER_WORKSPACE": str(dirs["workspace"].parent),
            "ACTIONS_RUNTIME_TOKEN": job.credentials.runtime_token,
            "ACTIONS_RUNTIME_URL": self.github.results_url,
            "ACTIONS_RESULTS_URL": self.github.results_url,
        }
        process_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HTTP_PROXY": DEAD_PROXY,
            "HTTPS_PROXY": DEAD_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
            **self.container_env,
            # user env first: the runner's GITHUB_*/RUNNER_* variables cannot be overridden
            **{k: v for k, v in env.items() if not k.startswith(("GITHUB_", "RUNNER_"))},
            **runner_vars,
            **inputs,
        }
        result.env, result.inputs = process_env, inputs
        if unexpected:
            result.annotations.append(
                Annotation("warning", f"Unexpected input(s) {unexpected}, valid inputs are {sorted(declared)}", {})
            )
        try:
            done = subprocess.run(
                self.action_command,
                cwd=dirs["workspace"],
                env=process_env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            result.executed, result.exit_code = True, 124
            result.stdout = str(exc.stdout or "")
            result.stderr = f"the action did not finish within {self.timeout} s"
            return
        result.executed, result.exit_code = True, done.returncode
        result.stdout, result.stderr = done.stdout, done.stderr
        annotations, masks, stopped = parse_commands(done.stdout + "\n" + done.stderr)
        result.annotations += annotations
        result.masks = masks
        if stopped:
            result.note = "::stop-commands:: was used (it also suspends masking)"
        result.outputs = parse_file_command(output_file.read_text(encoding="utf-8"))
        result.summary = summary_file.read_text(encoding="utf-8")
        # GITHUB_ENV: variables for the job's later steps (the runner refuses NODE_OPTIONS).
        exported = parse_file_command(env_file.read_text(encoding="utf-8"))
        contexts["env"].update({k: v for k, v in exported.items() if k != "NODE_OPTIONS"})

    # -- leak scans ----------------------------------------------------------------------------------------

    def written_texts(self) -> Iterator[tuple[str, bytes]]:
        """Every byte the runs printed or wrote and the fake GitHub stored: (where, bytes)."""
        for run in self.runs:
            for job in run.all_jobs():
                where = f"{run.workflow.path.name} run {run.run_id} job {job.name}"
                for step in job.steps:
                    log = "\n".join(line for line in step.log.splitlines() if not line.startswith("::add-mask::"))
                    yield f"{where} step {step.name!r} log", log.encode()
                    yield f"{where} step {step.name!r} summary", step.summary.encode()
                if job.root is not None:
                    for path in sorted(job.root.rglob("*")):
                        if path.is_file() and ".git" not in path.relative_to(job.root).parts:
                            yield f"{where} file {path.relative_to(job.root)}", path.read_bytes()
        for artifact in self.github.artifacts():
            try:
                with zipfile.ZipFile(io.BytesIO(artifact.blob or b"")) as archive:
                    for member in archive.namelist():
                        yield f"artifact {artifact.name}/{member}", archive.read(member)
            except zipfile.BadZipFile:
                yield f"artifact {artifact.name} (not a zip)", artifact.blob or b""
        yield from self.github.stored_texts()

    def leaks(self, values: Sequence[str]) -> dict[str, list[str]]:
        """For each secret value found anywhere (:meth:`written_texts`), the places it was found."""
        found: dict[str, list[str]] = {}
        needles = [(value, value.encode()) for value in values if value]
        for where, data in self.written_texts():
            for value, needle in needles:
                if needle in data:
                    found.setdefault(value, []).append(where)
        return found

    def cleanup(self) -> None:
        """Remove the job folders."""
        shutil.rmtree(self.root, ignore_errors=True)


def _static_len(path: Path) -> int:
    """How many leading parts of ``path`` hold no glob character."""
    count = 0
    for part in path.parts:
        if any(c in part for c in "*?["):
            break
        count += 1
    return count


def to_env(value: Any) -> str:
    """A value as it lands in an environment variable or an input."""
    return to_str(value)


def example(name: str) -> Path:
    """A workflow file of ``workflows-examples/``."""
    path = EXAMPLES / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path
