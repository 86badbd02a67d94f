"""A stateful GitHub stand-in at the HTTP layer, on loopback, backed by a real git repository.

One :class:`FakeGitHub` serves, on one port of 127.0.0.1:

- the REST API routes of :data:`ROUTES` (the explicit table: anything else answers 404 and is
  recorded in :attr:`FakeGitHub.unknown_routes`, so a test can prove the product calls no route real
  GitHub lacks);
- the Actions results service (artifact v4 Twirp API, :mod:`support.results_service`) and its blob
  store.  Signed blob URLs name the server as ``localhost`` rather than ``127.0.0.1``: blob storage is
  another host on GitHub, so a client that follows the artifact download redirect must drop its
  ``Authorization`` header there (``requests`` does so when the host changes, as for real).

Point the product at it with ``GITHUB_API_URL=<url>`` (PyGithub accepts an http base URL; every
URL inside payloads and Link headers is built from that same base, scheme, host and port included,
because PyGithub asserts that followed URLs match its base) and ``ACTIONS_RESULTS_URL=<url>/``, and
keep ``GITHUB_SERVER_URL=https://github.com`` so the product treats it as github.com, not GHES.

State: pull requests (refs, shas, fork or not, merge), reviews (with dismissal), issue comments
(real pagination through Link headers and ``per_page``), commit statuses, deployments and their
statuses, workflow runs, artifacts (those finalized through the results service, attributed to the
run whose runtime token uploaded them), teams and users.  Commits, compares and PR files come from
the git repository (:class:`support.gitrepo.GitRepo`).

Tokens: :meth:`FakeGitHub.start_job` issues a workflow token with a job's permission scopes
(read-only for fork PRs, whatever the workflow says) and a separate Actions runtime token; routes
check the scope they need and answer 403 with GitHub's JSON error body when it is missing.
``GET /user`` answers 403 to workflow tokens, as real GitHub does.  Workflow tokens cannot read
organization teams (404, as GitHub answers an integration without org access).

Not modelled (documented, so a test does not over-trust the fake): check runs, GraphQL, plain issues
(issues exist only as pull requests), review comments, labels, branch protection, environments'
REST API, deployment ``auto_merge`` (never merges), rate limits, ETags/conditional requests,
secondary rate limits, and the 1000-statuses-per-context limit.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from support.gitrepo import ZERO_SHA, CommitInfo, GitRepo, Identity
from support.loopback import LoopbackServer, Reply, Request
from support.results_service import ResultsService, StoredArtifact

SERVER_URL = "https://github.com"
BOT_LOGIN = "github-actions[bot]"
BOT_ID = 41898282  # the real id of github-actions[bot]
DOCS = "https://docs.github.com/rest"
# Permission scopes of the GITHUB_TOKEN (GitHub docs "Controlling permissions for GITHUB_TOKEN").
SCOPES = (
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
)
LEVELS = {"none": 0, "read": 1, "write": 2}
COMMENT_LIMIT = 65_536  # "body is too long (maximum is 65536 characters)"


def now_iso() -> str:
    """The current time as GitHub writes it (``2026-01-02T03:04:05Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- records --------------------------------------------------------------------------------------------


@dataclass
class User:
    """A GitHub account (its email maps commit authors to logins)."""

    login: str
    id: int
    email: str
    name: str
    type: str = "User"  # User | Bot | Organization

    @property
    def identity(self) -> Identity:
        """The git identity commits by this user carry."""
        return Identity(self.name, self.email)


@dataclass
class TokenInfo:
    """Who a token is and what it may do."""

    token: str
    kind: str  # "workflow" | "user"
    login: str
    scopes: dict[str, str]  # scope → "read" | "write"
    run_id: int | None = None
    job: str | None = None
    org_members_read: bool = False

    def allows(self, scope: str, level: str) -> bool:
        """True when the token holds ``scope`` at ``level`` or above."""
        return LEVELS[self.scopes.get(scope, "none")] >= LEVELS[level]

    def label(self) -> str:
        """A short description for request logs."""
        if self.kind == "workflow":
            return f"workflow token (run {self.run_id}, job {self.job})"
        return f"user token ({self.login})"


@dataclass
class RecordedRequest:
    """One REST request as the fake saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    identity: str  # TokenInfo.label(), "anonymous" or "invalid token"
    run_id: int | None
    status: int
    body: bytes


@dataclass
class PullRecord:
    """A pull request."""

    number: int
    title: str
    body: str
    user: str
    head_ref: str
    head_sha: str
    head_repo: str
    base_ref: str
    base_sha: str
    created_at: str
    updated_at: str
    state: str = "open"
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    commits: list[str] = field(default_factory=list)
    draft: bool = False


@dataclass
class ReviewRecord:
    """A submitted pull-request review."""

    id: int
    number: int
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    body: str
    commit_id: str
    submitted_at: str


@dataclass
class CommentRecord:
    """An issue comment (on a pull request's conversation)."""

    id: int
    number: int
    user: str
    body: str
    created_at: str
    updated_at: str


@dataclass
class StatusRecord:
    """A commit status."""

    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str


@dataclass
class DeploymentStatusRecord:
    """A deployment status."""

    id: int
    deployment_id: int
    state: str
    description: str
    environment: str
    target_url: str
    log_url: str
    environment_url: str
    creator: str
    created_at: str


@dataclass
class DeploymentRecord:
    """A deployment and its statuses (newest last)."""

    id: int
    sha: str
    ref: str
    task: str
    environment: str
    payload: Any
    description: str | None
    creator: str
    created_at: str
    transient: bool
    production: bool
    statuses: list[DeploymentStatusRecord] = field(default_factory=list)
    by_runner: bool = False  # GitHub's own record of a job with `environment:`, not an API call


@dataclass
class JobRecord:
    """A job of a workflow run: its backend id and tokens."""

    key: str
    backend_id: str
    token: str
    runtime_token: str


@dataclass
class RunRecord:
    """A workflow run."""

    id: int
    name: str
    path: str
    event: str
    head_branch: str
    head_sha: str
    head_repo: str
    actor: str
    run_number: int
    backend_id: str
    created_at: str
    status: str = "in_progress"
    conclusion: str | None = None
    jobs: dict[str, JobRecord] = field(default_factory=dict)


@dataclass
class Route:
    """One REST route: method, path pattern, handler and the permission it needs."""

    method: str
    pattern: str
    handler: str  # name of a FakeGitHub method taking (request, token, *groups)
    scope: tuple[str, ...] = ()  # any of these scopes (empty: metadata, always granted)
    level: str = "read"
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.regex = re.compile("^" + self.pattern + "$")


_R = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/user", "get_user"),
    Route("GET", _R, "get_repo"),
    Route("GET", _R + r"/pulls", "list_pulls", ("pull-requests",)),
    Route("GET", _R + r"/pulls/(\d+)", "get_pull", ("pull-requests",)),
    Route("GET", _R + r"/pulls/(\d+)/reviews", "list_reviews", ("pull-requests",)),
    Route("GET", _R + r"/pulls/(\d+)/commits", "list_pull_commits", ("pull-requests",)),
    Route("GET", _R + r"/pulls/(\d+)/files", "list_pull_files", ("pull-requests",)),
    # Issue routes on a pull request accept either permission (GitHub docs, "Issue comments").
    Route("GET", _R + r"/issues/(\d+)", "get_issue", ("issues", "pull-requests")),
    Route("GET", _R + r"/issues/(\d+)/comments", "list_comments", ("issues", "pull-requests")),
    Route("POST", _R + r"/issues/(\d+)/comments", "create_comment", ("issues", "pull-requests"), "write"),
    Route("GET", _R + r"/issues/comments/(\d+)", "get_comment", ("issues", "pull-requests")),
    Route("PATCH", _R + r"/issues/comments/(\d+)", "edit_comment", ("issues", "pull-requests"), "write"),
    Route("DELETE", _R + r"/issues/comments/(\d+)", "delete_comment", ("issues", "pull-requests"), "write"),
    Route("GET", _R + r"/commits", "list_commits", ("contents",)),
    Route("GET", _R + r"/commits/([^/]+)", "get_commit", ("contents",)),
    # [inferred] the fine-grained docs list "Pull requests: read" for the commit's pulls.
    Route("GET", _R + r"/commits/([^/]+)/pulls", "commit_pulls", ("pull-requests",)),
    Route("GET", _R + r"/commits/([^/]+)/statuses", "list_statuses", ("statuses",)),
    Route("GET", _R + r"/commits/([^/]+)/status", "combined_status", ("statuses",)),
    Route("POST", _R + r"/statuses/([0-9a-fA-F]+)", "create_status", ("statuses",), "write"),
    # The older spelling of the list, still answered by GitHub and used by PyGithub's Commit.get_statuses().
    Route("GET", _R + r"/statuses/([^/]+)", "list_statuses", ("statuses",)),
    Route("GET", _R + r"/compare/(.+)", "compare", ("contents",)),
    Route("GET", _R + r"/deployments", "list_deployments", ("deployments",)),
    Route("POST", _R + r"/deployments", "create_deployment", ("deployments",), "write"),
    Route("GET", _R + r"/deployments/(\d+)", "get_deployment", ("deployments",)),
    Route("GET", _R + r"/deployments/(\d+)/statuses", "list_deployment_statuses", ("deployments",)),
    Route("POST", _R + r"/deployments/(\d+)/statuses", "create_deployment_status", ("deployments",), "write"),
    Route("GET", _R + r"/actions/runs/(\d+)", "get_run", ("actions",)),
    Route("GET", _R + r"/actions/runs/(\d+)/artifacts", "list_run_artifacts", ("actions",)),
    Route("GET", _R + r"/actions/artifacts", "list_artifacts", ("actions",)),
    Route("GET", _R + r"/actions/artifacts/(\d+)", "get_artifact", ("actions",)),
    Route("GET", _R + r"/actions/artifacts/(\d+)/zip", "download_artifact", ("actions",)),
    Route("GET", r"/orgs/(?P<org>[^/]+)/teams/([^/]+)", "get_team"),
    Route("GET", r"/orgs/(?P<org>[^/]+)/teams/([^/]+)/memberships/([^/]+)", "get_membership"),
)


class ApiError(Exception):
    """An error answer: status and GitHub's JSON body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"message": message, "documentation_url": DOCS, "status": str(status), **extra}


def _validation(resource: str, field_name: str, message: str) -> ApiError:
    return ApiError(
        422,
        "Validation Failed",
        errors=[{"resource": resource, "code": "custom", "field": field_name, "message": message}],
    )


def effective_scopes(permissions: Any, *, read_only: bool = False) -> dict[str, str]:
    """The token scopes of a ``permissions:`` value (a map, ``read-all``, ``write-all`` or ``{}``).

    A fork PR's token is read-only whatever the workflow asks (GitHub docs, "Permissions for the
    GITHUB_TOKEN"); ``id-token`` is never readable, only writable.
    """
    if permissions == "read-all":
        scopes = dict.fromkeys(SCOPES, "read")
    elif permissions == "write-all":
        scopes = dict.fromkeys(SCOPES, "write")
    elif isinstance(permissions, Mapping):
        unknown = set(permissions) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown permission scope(s): {sorted(unknown)}")
        scopes = {str(k): str(v) for k, v in permissions.items() if str(v) != "none"}
        bad = {k: v for k, v in scopes.items() if v not in LEVELS}
        if bad:
            raise ValueError(f"bad permission level(s): {bad}")
    else:
        raise ValueError(f"permissions must be a map, read-all or write-all, not {permissions!r}")
    if read_only:
        scopes = dict.fromkeys(scopes, "read")
    return scopes


class FakeGitHub:
    """GitHub for one repository (``owner/name``), served on loopback.  Use as a context manager."""

    def __init__(self, repo: GitRepo, full_name: str = "acme/config", *, private: bool = True) -> None:
        self.git = repo
        self.full_name = full_name
        self.owner, self.name = full_name.split("/")
        self.private = private
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.pulls: dict[int, PullRecord] = {}
        self.reviews: list[ReviewRecord] = []
        self.comments: dict[int, CommentRecord] = {}
        self.statuses: list[StatusRecord] = []
        self.deployments: dict[int, DeploymentRecord] = {}
        self.runs: dict[int, RunRecord] = {}
        self.teams: dict[tuple[str, str], dict[str, Any]] = {}
        self.repo_ids: dict[str, int] = {full_name: 1001}
        self.expired_artifacts: set[int] = set()
        self.requests: list[RecordedRequest] = []
        self.unknown_routes: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._numbers = itertools.count(1)
        self._run_ids = itertools.count(7_000_000_001)
        self.results = ResultsService()
        self.add_user(BOT_LOGIN, type="Bot", user_id=BOT_ID)
        self._server = LoopbackServer(self.handle)
        self.url = self._server.url
        # Blob storage is another host on GitHub: name the same server differently (see module docstring).
        self.results.blob_base = f"http://localhost:{self._server.port}"

    # -- lifecycle -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the server."""
        self._server.stop()

    def __enter__(self) -> FakeGitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api(self) -> str:
        """The value for ``GITHUB_API_URL``."""
        return self.url

    @property
    def results_url(self) -> str:
        """The value for ``ACTIONS_RESULTS_URL``."""
        return self.url + "/"

    @property
    def repo_api(self) -> str:
        """This repository's REST URL."""
        return f"{self.url}/repos/{self.full_name}"

    # -- users, teams, tokens --------------------------------------------------------------------------

    def add_user(self, login: str, *, email: str | None = None, type: str = "User", user_id: int | None = None) -> User:
        """Register an account (idempotent); commits by its email are attributed to it."""
        with self.lock:
            if login not in self.users:
                self.users[login] = User(
                    login=login,
                    id=user_id or 5000 + len(self.users),
                    email=email or f"{login.replace('[bot]', '')}@users.noreply.example",
                    name=login,
                    type=type,
                )
            return self.users[login]

    def user(self, login: str) -> User:
        """The account ``login`` (registered on first use)."""
        return self.add_user(login)

    def add_team(self, org: str, slug: str, members: list[str]) -> None:
        """An organization team with active members."""
        with self.lock:
            self.teams[(org, slug)] = {"id": 900 + len(self.teams), "members": dict.fromkeys(members, "active")}

    def user_token(self, login: str, scopes: Mapping[str, str] | None = None, *, org_members_read: bool = True) -> str:
        """A personal access token for ``login`` (all scopes writable unless given)."""
        self.add_user(login)
        token = "ghp_" + secrets.token_hex(18)
        with self.lock:
            self.tokens[token] = TokenInfo(
                token,
                "user",
                login,
                dict(scopes) if scopes is not None else dict.fromkeys(SCOPES, "write"),
                org_members_read=org_members_read,
            )
        return token

    def token_info(self, token: str) -> TokenInfo | None:
        """What the fake knows about a token."""
        with self.lock:
            return self.tokens.get(token)

    # -- workflow runs ---------------------------------------------------------------------------------

    def start_run(
        self, *, name: str, path: str, event: str, head_branch: str, head_sha: str, head_repo: str, actor: str
    ) -> RunRecord:
        """A new workflow run (its id is ``GITHUB_RUN_ID``)."""
        with self.lock:
            run_id = next(self._run_ids)
            run = RunRecord(
                id=run_id,
                name=name,
                path=path,
                event=event,
                head_branch=head_branch,
                head_sha=head_sha,
                head_repo=head_repo,
                actor=actor,
                run_number=len(self.runs) + 1,
                backend_id=f"run-backend-{run_id}",
                created_at=now_iso(),
            )
            self.runs[run_id] = run
            self.repo_ids.setdefault(head_repo, 2000 + len(self.repo_ids))
            return run

    def start_job(self, run_id: int, job_key: str, scopes: Mapping[str, str]) -> JobRecord:
        """Credentials of one job: a workflow token with ``scopes`` and an Actions runtime token."""
        with self.lock:
            run = self.runs[run_id]
            token = "ghs_" + secrets.token_hex(18)
            self.tokens[token] = TokenInfo(token, "workflow", BOT_LOGIN, dict(scopes), run_id=run_id, job=job_key)
            backend = f"job-backend-{run_id}-{len(run.jobs) + 1}"
            runtime = self.results.register_job(run.backend_id, backend, owner=(run_id, job_key))
            job = JobRecord(job_key, backend, token, runtime)
            run.jobs[job_key] = job
            return job

    def finish_run(self, run_id: int, conclusion: str) -> None:
        """Mark a run completed; its job tokens stop working, as GITHUB_TOKEN expires with the job."""
        with self.lock:
            run = self.runs[run_id]
            run.status, run.conclusion = "completed", conclusion
            for job in run.jobs.values():
                self.tokens.pop(job.token, None)

    def requests_of_run(self, run_id: int) -> list[RecordedRequest]:
        """The REST requests made with the tokens of one run."""
        return [r for r in self.requests if r.run_id == run_id]

    def artifacts(self) -> list[StoredArtifact]:
        """Finalized artifacts, newest first."""
        with self.results.lock:
            found = [a for a in self.results.artifacts.values() if a.finalized]
        return sorted(found, key=lambda a: a.id, reverse=True)

    # -- repository operations (what people do on github.com) -------------------------------------------

    def commit(self, branch: str, files: Mapping[str, str | bytes | None], message: str, author: str) -> str:
        """A commit pushed straight to ``branch``."""
        return self.git.commit(branch, files, message, self.user(author).identity)

    def open_pull_request(
        self,
        head_ref: str,
        files: Mapping[str, str | bytes | None],
        *,
        title: str,
        author: str,
        body: str = "",
        base_ref: str | None = None,
        fork_owner: str | None = None,
    ) -> PullRecord:
        """Commit ``files`` on a new branch (of a fork, with ``fork_owner``) and open a PR into ``base_ref``."""
        base_ref = base_ref or self.git.default_branch
        with self.lock:
            number = next(self._numbers)
            head_repo = f"{fork_owner}/{self.name}" if fork_owner else self.full_name
            self.repo_ids.setdefault(head_repo, 2000 + len(self.repo_ids))
            branch = f"forks/{fork_owner}/{head_ref}" if fork_owner else head_ref
            base_sha = self.git.branch_head(base_ref)
            head_sha = self.git.commit(branch, files, title, self.user(author).identity, start=base_sha)
            stamp = now_iso()
            pr = PullRecord(
                number=number,
                title=title,
                body=body,
                user=author,
                head_ref=head_ref,
                head_sha=head_sha,
                head_repo=head_repo,
                base_ref=base_ref,
                base_sha=base_sha or ZERO_SHA,
                created_at=stamp,
                updated_at=stamp,
            )
            self.pulls[number] = pr
            self._sync(pr)
            return pr

    def push_to_pull_request(self, number: int, files: Mapping[str, str | bytes | None], message: str) -> str:
        """Another commit on the PR's head branch (a ``synchronize``)."""
        with self.lock:
            pr = self.pulls[number]
            branch = f"forks/{pr.head_repo.split('/')[0]}/{pr.head_ref}" if self.is_fork(pr) else pr.head_ref
            pr.head_sha = self.git.commit(branch, files, message, self.user(pr.user).identity)
            pr.updated_at = now_iso()
            self._sync(pr)
            return pr.head_sha

    def is_fork(self, pr: PullRecord) -> bool:
        """True when the PR comes from another repository."""
        return pr.head_repo != self.full_name

    def _sync(self, pr: PullRecord) -> None:
        # GitHub keeps refs/pull/N/head and a test merge refs/pull/N/merge (GITHUB_SHA of PR runs).
        pr.base_sha = self.git.branch_head(pr.base_ref) or pr.base_sha
        self.git.update_ref(f"refs/pull/{pr.number}/head", pr.head_sha)
        merge = self.git.test_merge(pr.base_sha, pr.head_sha)
        if merge is not None:
            self.git.update_ref(f"refs/pull/{pr.number}/merge", merge)
        pr.merge_commit_sha = merge
        pr.commits = self.git.commits_between(pr.base_sha, pr.head_sha)

    def test_merge_sha(self, number: int) -> str:
        """The sha of ``refs/pull/N/merge`` (``GITHUB_SHA`` of pull_request runs)."""
        sha = self.git.resolve(f"refs/pull/{number}/merge")
        if sha is None:
            raise ValueError(f"PR #{number} has no test merge (conflict?)")
        return sha

    def review(self, number: int, user: str, state: str = "APPROVED", *, commit_id: str | None = None) -> ReviewRecord:
        """Submit a review (``APPROVED``, ``CHANGES_REQUESTED`` or ``COMMENTED``) on the PR's head or ``commit_id``."""
        assert state in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED"), state
        with self.lock:
            pr = self.pulls[number]
            review = ReviewRecord(next(self._ids), number, user, state, "", commit_id or pr.head_sha, now_iso())
            self.add_user(user)
            self.reviews.append(review)
            return review

    def dismiss_review(self, review_id: int) -> None:
        """Dismiss a review: it stays in the list with state ``DISMISSED``."""
        with self.lock:
            next(r for r in self.reviews if r.id == review_id).state = "DISMISSED"

    def merge_pull_request(self, number: int, merged_by: str) -> tuple[str, str]:
        """Merge the PR with a merge commit (``git merge --no-ff``); returns (before, after) of the base branch."""
        with self.lock:
            pr = self.pulls[number]
            assert pr.state == "open", f"PR #{number} is {pr.state}"
            before = self.git.branch_head(pr.base_ref) or ZERO_SHA
            pr.commits = self.git.commits_between(before, pr.head_sha)
            message = f"Merge pull request #{number} from {pr.head_repo.split('/')[0]}/{pr.head_ref}\n\n{pr.title}"
            after = self.git.merge(pr.base_ref, pr.head_sha, message, self.user(merged_by).identity)
            stamp = now_iso()
            pr.state, pr.merged, pr.merged_at, pr.merged_by = "closed", True, stamp, merged_by
            pr.merge_commit_sha, pr.updated_at = after, stamp
            return before, after

    def record_environment_deployment(self, environment: str, sha: str, ref: str) -> int:
        """The deployment GitHub itself creates for a job with ``environment:`` (no API call)."""
        with self.lock:
            deployment = DeploymentRecord(
                id=next(self._ids),
                sha=sha,
                ref=ref.removeprefix("refs/heads/"),
                task="deploy",
                environment=environment,
                payload={},
                description=None,
                creator=BOT_LOGIN,
                created_at=now_iso(),
                transient=False,
                production=False,
                by_runner=True,
            )
            self.deployments[deployment.id] = deployment
            self._add_deployment_status(deployment, "in_progress", BOT_LOGIN)
            return deployment.id

    def record_environment_deployment_status(self, deployment_id: int, conclusion: str) -> None:
        """The final status GitHub gives its own environment deployment when the job ends."""
        with self.lock:
            deployment = self.deployments[deployment_id]
            self._add_deployment_status(deployment, "success" if conclusion == "success" else "failure", BOT_LOGIN)

    def _add_deployment_status(self, deployment: DeploymentRecord, state: str, creator: str) -> DeploymentStatusRecord:
        status = DeploymentStatusRecord(
            next(self._ids), deployment.id, state, "", deployment.environment, "", "", "", creator, now_iso()
        )
        deployment.statuses.append(status)
        return status

    # -- event payloads --------------------------------------------------------------------------------

    def _push_commit(self, sha: str) -> dict[str, Any]:
        info = self.git.commit_info(sha)
        changes = self.git.changed_files(info.parents[0], sha) if info.parents else []

        def person(who: Identity) -> dict[str, Any]:
            login = self._author_login(who)
            return {"name": who.name, "email": who.email, **({"username": login} if login else {})}

        return {
            "id": sha,
            "tree_id": info.tree,
            "distinct": True,
            "message": info.message,
            "timestamp": info.committer_date,
            "url": f"{SERVER_URL}/{self.full_name}/commit/{sha}",
            "author": person(info.author),
            "committer": person(info.committer),
            "added": [c.filename for c in changes if c.status == "added"],
            "removed": [c.filename for c in changes if c.status == "removed"],
            "modified": [c.filename for c in changes if c.status not in ("added", "removed")],
        }

    def pull_request_event(self, number: int, action: str = "opened") -> dict[str, Any]:
        """The ``pull_request`` webhook payload of a PR."""
        with self.lock:
            pr = self.pulls[number]
            return {
                "action": action,
                "number": number,
                "pull_request": self._pull_json(pr),
                "repository": self._repo_json(self.full_name),
                "sender": self._user_json(pr.user),
            }

    def push_event(self, branch: str, before: str, after: str, pusher: str) -> dict[str, Any]:
        """The ``push`` webhook payload of a branch update."""
        commits = [
            self._push_commit(sha) for sha in self.git.commits_between(None if before == ZERO_SHA else before, after)
        ]
        return {
            "ref": f"refs/heads/{branch}",
            "before": before,
            "after": after,
            "base_ref": None,
            "created": before == ZERO_SHA,
            "deleted": False,
            "forced": False,
            "compare": f"{SERVER_URL}/{self.full_name}/compare/{before[:12]}...{after[:12]}",
            "commits": commits[-20:],  # GitHub lists at most 20 commits in a push payload
            "head_commit": commits[-1] if commits else None,
            "pusher": {"name": pusher, "email": self.user(pusher).email},
            "repository": self._repo_json(self.full_name),
            "sender": self._user_json(pusher),
        }

    def dispatch_event(
        self, workflow_path: str, inputs: Mapping[str, Any], sender: str, ref: str = ""
    ) -> dict[str, Any]:
        """The ``workflow_dispatch`` webhook payload."""
        return {
            "inputs": dict(inputs),
            "ref": ref or f"refs/heads/{self.git.default_branch}",
            "repository": self._repo_json(self.full_name),
            "sender": self._user_json(sender),
            "workflow": workflow_path,
        }

    def schedule_event(self, cron: str, workflow_path: str) -> dict[str, Any]:
        """The ``schedule`` event payload."""
        return {"schedule": cron, "workflow": workflow_path, "repository": self._repo_json(self.full_name)}

    # -- the HTTP front ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request: results service, blob store, or a REST route."""
        if self.results.handles(request):
            return self.results.handle(request)
        token = self._token_of(request)
        identity = token.label() if isinstance(token, TokenInfo) else token or "anonymous"
        run_id = token.run_id if isinstance(token, TokenInfo) else None
        route, groups = self._match(request)
        try:
            if route is None:
                raise ApiError(404, "Not Found")
            if token == "invalid token":
                raise ApiError(401, "Bad credentials")
            info = token if isinstance(token, TokenInfo) else None
            self._authorize(route, info, groups)
            reply: Reply = getattr(self, "_" + route.handler)(request, info, *groups.values())
        except ApiError as error:
            reply = _json_reply(error.status, error.body)
        record = RecordedRequest(
            request.method, request.path, request.query, identity, run_id, reply.status, request.body
        )
        with self.lock:
            self.requests.append(record)
            if route is None:
                self.unknown_routes.append(record)
        return reply

    def _token_of(self, request: Request) -> TokenInfo | str | None:
        auth = request.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if not value or scheme.lower() not in ("token", "bearer"):
            return None
        return self.token_info(value.strip()) or "invalid token"

    def _match(self, request: Request) -> tuple[Route | None, dict[str, str]]:
        for route in ROUTES:
            if route.method != request.method:
                continue
            match = route.regex.match(request.path)
            if match:
                groups = {f"g{i}": unquote(v) for i, v in enumerate(match.groups())}
                return route, groups
        return None, {}

    def _authorize(self, route: Route, token: TokenInfo | None, groups: dict[str, str]) -> None:
        if route.pattern.startswith("/repos/"):
            full = f"{groups['g0']}/{groups['g1']}"
            if full.lower() != self.full_name.lower():
                raise ApiError(404, "Not Found")
            del groups["g0"], groups["g1"]
            if token is None:
                if self.private:
                    raise ApiError(404, "Not Found")  # a private repository is invisible without a token
                if route.level == "write":
                    raise ApiError(401, "Requires authentication")
                return
            if route.scope and not any(token.allows(scope, route.level) for scope in route.scope):
                raise ApiError(403, "Resource not accessible by integration")

    # -- JSON shapes -----------------------------------------------------------------------------------

    def _user_json(self, login: str) -> dict[str, Any]:
        user = self.user(login)
        return {
            "login": user.login,
            "id": user.id,
            "node_id": f"U_{user.id}",
            "type": user.type,
            "site_admin": False,
            "url": f"{self.url}/users/{user.login}",
            "html_url": f"{SERVER_URL}/{user.login}" if user.type != "Bot" else f"{SERVER_URL}/apps/github-actions",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}",
        }

    def _repo_json(self, full_name: str) -> dict[str, Any]:
        owner = full_name.split("/", maxsplit=1)[0]
        rid = self.repo_ids.setdefault(full_name, 2000 + len(self.repo_ids))
        return {
            "id": rid,
            "node_id": f"R_{rid}",
            "name": full_name.split("/")[1],
            "full_name": full_name,
            "private": self.private,
            "fork": full_name != self.full_name,
            "owner": {**self._user_json(owner), "type": "Organization" if owner == self.owner else "User"},
            "url": f"{self.url}/repos/{full_name}",
            "html_url": f"{SERVER_URL}/{full_name}",
            "default_branch": self.git.default_branch,
            "visibility": "private" if self.private else "public",
        }

    def _author_login(self, identity: Identity) -> str | None:
        return next((u.login for u in self.users.values() if u.email == identity.email), None)

    def _commit_json(self, info: CommitInfo, *, files: bool = False) -> dict[str, Any]:
        author, committer = self._author_login(info.author), self._author_login(info.committer)
        data: dict[str, Any] = {
            "sha": info.sha,
            "node_id": f"C_{info.sha[:12]}",
            "url": f"{self.repo_api}/commits/{info.sha}",
            "html_url": f"{SERVER_URL}/{self.full_name}/commit/{info.sha}",
            "comments_url": f"{self.repo_api}/commits/{info.sha}/comments",
            "commit": {
                "url": f"{self.repo_api}/git/commits/{info.sha}",
                "author": {"name": info.author.name, "email": info.author.email, "date": info.author_date},
                "committer": {"name": info.committer.name, "email": info.committer.email, "date": info.committer_date},
                "message": info.message,
                "tree": {"sha": info.tree, "url": f"{self.repo_api}/git/trees/{info.tree}"},
                "comment_count": 0,
            },
            "author": self._user_json(author) if author else None,
            "committer": self._user_json(committer) if committer else None,
            "parents": [
                {
                    "sha": p,
                    "url": f"{self.repo_api}/commits/{p}",
                    "html_url": f"{SERVER_URL}/{self.full_name}/commit/{p}",
                }
                for p in info.parents
            ],
        }
        if files:
            changes = self._files_json(info.parents[0], info.sha) if info.parents else []
            data["files"] = changes
            added, deleted = sum(f["additions"] for f in changes), sum(f["deletions"] for f in changes)
            data["stats"] = {"additions": added, "deletions": deleted, "total": added + deleted}
        return data

    def _files_json(self, base: str, head: str) -> list[dict[str, Any]]:
        out = []
        for change in self.git.changed_files(base, head):
            item: dict[str, Any] = {
                "sha": head,
                "filename": change.filename,
                "status": change.status,
                "additions": change.additions,
                "deletions": change.deletions,
                "changes": change.additions + change.deletions,
                "blob_url": f"{SERVER_URL}/{self.full_name}/blob/{head}/{change.filename}",
                "raw_url": f"{SERVER_URL}/{self.full_name}/raw/{head}/{change.filename}",
                "contents_url": f"{self.repo_api}/contents/{change.filename}?ref={head}",
            }
            if change.previous_filename:
                item["previous_filename"] = change.previous_filename
            out.append(item)
        return out

    def _pull_json(self, pr: PullRecord) -> dict[str, Any]:
        api = f"{self.repo_api}/pulls/{pr.number}"
        html = f"{SERVER_URL}/{self.full_name}/pull/{pr.number}"
        head_owner = pr.head_repo.split("/")[0]
        return {
            "url": api,
            "id": 300_000 + pr.number,
            "node_id": f"PR_{pr.number}",
            "html_url": html,
            "diff_url": html + ".diff",
            "patch_url": html + ".patch",
            "issue_url": f"{self.repo_api}/issues/{pr.number}",
            "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "comments_url": f"{self.repo_api}/issues/{pr.number}/comments",
            "statuses_url": f"{self.repo_api}/statuses/{pr.head_sha}",
            "number": pr.number,
            "state": pr.state,
            "locked": False,
            "title": pr.title,
            "user": self._user_json(pr.user),
            "body": pr.body or None,
            "labels": [],
            "created_at": pr.created_at,
            "updated_at": pr.updated_at,
            "closed_at": pr.merged_at,
            "merged_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
            "draft": pr.draft,
            "head": {
                "label": f"{head_owner}:{pr.head_ref}",
                "ref": pr.head_ref,
                "sha": pr.head_sha,
                "user": self._user_json(head_owner),
                "repo": self._repo_json(pr.head_repo),
            },
            "base": {
                "label": f"{self.owner}:{pr.base_ref}",
                "ref": pr.base_ref,
                "sha": pr.base_sha,
                "user": self._user_json(self.owner),
                "repo": self._repo_json(self.full_name),
            },
            "author_association": "CONTRIBUTOR",
            "merged": pr.merged,
            "mergeable": pr.merge_commit_sha is not None if pr.state == "open" else None,
            "merged_by": self._user_json(pr.merged_by) if pr.merged_by else None,
            "comments": sum(1 for c in self.comments.values() if c.number == pr.number),
            "commits": len(pr.commits),
        }

    def _review_json(self, review: ReviewRecord) -> dict[str, Any]:
        return {
            "id": review.id,
            "node_id": f"PRR_{review.id}",
            "user": self._user_json(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": f"{SERVER_URL}/{self.full_name}/pull/{review.number}#pullrequestreview-{review.id}",
            "pull_request_url": f"{self.repo_api}/pulls/{review.number}",
            "submitted_at": review.submitted_at,
            "commit_id": review.commit_id,
            "author_association": "MEMBER",
        }

    def _comment_json(self, comment: CommentRecord) -> dict[str, Any]:
        return {
            "id": comment.id,
            "node_id": f"IC_{comment.id}",
            "url": f"{self.repo_api}/issues/comments/{comment.id}",
            "html_url": f"{SERVER_URL}/{self.full_name}/pull/{comment.number}#issuecomment-{comment.id}",
            "issue_url": f"{self.repo_api}/issues/{comment.number}",
            "body": comment.body,
            "user": self._user_json(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "author_association": "NONE" if self.user(comment.user).type == "Bot" else "MEMBER",
        }

    def _status_json(self, status: StatusRecord) -> dict[str, Any]:
        return {
            "id": status.id,
            "node_id": f"SC_{status.id}",
            "url": f"{self.repo_api}/statuses/{status.sha}",
            "avatar_url": None,
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": status.created_at,
            "updated_at": status.created_at,
            "creator": self._user_json(status.creator),
        }

    def _deployment_json(self, deployment: DeploymentRecord) -> dict[str, Any]:
        url = f"{self.repo_api}/deployments/{deployment.id}"
        return {
            "url": url,
            "id": deployment.id,
            "node_id": f"DE_{deployment.id}",
            "sha": deployment.sha,
            "ref": deployment.ref,
            "task": deployment.task,
            "payload": deployment.payload,
            "original_environment": deployment.environment,
            "environment": deployment.environment,
            "description": deployment.description,
            "creator": self._user_json(deployment.creator),
            "created_at": deployment.created_at,
            "updated_at": deployment.statuses[-1].created_at if deployment.statuses else deployment.created_at,
            "statuses_url": f"{url}/statuses",
            "repository_url": self.repo_api,
            "transient_environment": deployment.transient,
            "production_environment": deployment.production,
        }

    def _deployment_status_json(self, status: DeploymentStatusRecord) -> dict[str, Any]:
        url = f"{self.repo_api}/deployments/{status.deployment_id}"
        return {
            "url": f"{url}/statuses/{status.id}",
            "id": status.id,
            "node_id": f"DES_{status.id}",
            "state": status.state,
            "creator": self._user_json(status.creator),
            "description": status.description,
            "environment": status.environment,
            "target_url": status.target_url,
            "log_url": status.log_url,
            "environment_url": status.environment_url,
            "created_at": status.created_at,
            "updated_at": status.created_at,
            "deployment_url": url,
            "repository_url": self.repo_api,
        }

    def _run_json(self, run: RunRecord) -> dict[str, Any]:
        url = f"{self.repo_api}/actions/runs/{run.id}"
        return {
            "id": run.id,
            "name": run.name,
            "node_id": f"WFR_{run.id}",
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": run.path,
            "display_title": run.name,
            "run_number": run.run_number,
            "run_attempt": 1,
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": 100 + sum(map(ord, run.path)),
            "url": url,
            "html_url": f"{SERVER_URL}/{self.full_name}/actions/runs/{run.id}",
            "pull_requests": [],
            "created_at": run.created_at,
            "updated_at": run.created_at,
            "run_started_at": run.created_at,
            "actor": self._user_json(run.actor),
            "triggering_actor": self._user_json(run.actor),
            "jobs_url": f"{url}/jobs",
            "logs_url": f"{url}/logs",
            "artifacts_url": f"{url}/artifacts",
            "cancel_url": f"{url}/cancel",
            "rerun_url": f"{url}/rerun",
            "workflow_url": f"{self.repo_api}/actions/workflows/{run.path.rsplit('/', 1)[-1]}",
            "repository": self._repo_json(self.full_name),
            "head_repository": self._repo_json(run.head_repo),
            "head_repository_id": self.repo_ids[run.head_repo],
            "repository_id": self.repo_ids[self.full_name],
        }

    def _artifact_json(self, artifact: StoredArtifact) -> dict[str, Any]:
        run = self.runs[artifact.owner[0]]
        url = f"{self.repo_api}/actions/artifacts/{artifact.id}"
        expired = artifact.id in self.expired_artifacts or artifact.expires_at < datetime.now(UTC)
        return {
            "id": artifact.id,
            "node_id": f"A_{artifact.id}",
            "name": artifact.name,
            "size_in_bytes": artifact.size,
            "url": url,
            "archive_download_url": f"{url}/zip",
            "expired": expired,
            "digest": artifact.digest,
            "created_at": _iso(artifact.created_at),
            "updated_at": _iso(artifact.created_at),
            "expires_at": _iso(artifact.expires_at),
            "workflow_run": {
                "id": run.id,
                "repository_id": self.repo_ids[self.full_name],
                "head_repository_id": self.repo_ids[run.head_repo],
                "head_branch": run.head_branch,
                "head_sha": run.head_sha,
            },
        }

    # -- pagination ------------------------------------------------------------------------------------

    def _page(
        self, request: Request, items: list[Any], *, wrap: str | None = None, default: int = 30, maximum: int = 100
    ) -> Reply:
        """One page of ``items`` (``page``/``per_page``), with GitHub's Link header; ``wrap`` puts the
        page under that key beside ``total_count``."""
        per_page = min(max(_int(request.param("per_page"), default), 1), maximum)
        page = max(_int(request.param("page"), 1), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(number: int, rel: str) -> str:
            query = {k: v[0] for k, v in request.query.items()}
            query["page"] = str(number)
            return f'<{self.url}{request.path}?{urlencode(query)}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        payload: Any = {"total_count": len(items), wrap: chunk} if wrap else chunk
        reply = _json_reply(200, payload)
        if links:
            reply.headers["Link"] = ", ".join(links)
        return reply

    # -- route handlers (named in ROUTES) --------------------------------------------------------------

    def _get_user(self, request: Request, token: TokenInfo | None) -> Reply:
        if token is None:
            raise ApiError(401, "Requires authentication")
        if token.kind == "workflow":
            raise ApiError(403, "Resource not accessible by integration")
        return _json_reply(200, self._user_json(token.login))

    def _get_repo(self, request: Request, token: TokenInfo | None) -> Reply:
        return _json_reply(200, self._repo_json(self.full_name))

    def _pull(self, number: str) -> PullRecord:
        pr = self.pulls.get(int(number))
        if pr is None:
            raise ApiError(404, "Not Found")
        return pr

    def _list_pulls(self, request: Request, token: TokenInfo | None) -> Reply:
        state = request.param("state", "open")
        with self.lock:
            pulls = [p for p in self.pulls.values() if state in ("all", p.state)]
            head, base = request.param("head"), request.param("base")
            pulls = [p for p in pulls if (not base or p.base_ref == base)]
            pulls = [p for p in pulls if (not head or f"{p.head_repo.split('/')[0]}:{p.head_ref}" == head)]
            items = [self._pull_json(p) for p in sorted(pulls, key=lambda p: p.number, reverse=True)]
        return self._page(request, items)

    def _get_pull(self, request: Request, token: TokenInfo | None, number: str) -> Reply:
        with self.lock:
            return _json_reply(200, self._pull_json(self._pull(number)))

    def _list_reviews(self, request: Request, token: TokenInfo | None, number: str) -> Reply:
        with self.lock:
            pr = self._pull(number)
            items = [self._review_json(r) for r in self.reviews if r.number == pr.number]  # chronological
        return self._page(request, items)

    def _list_pull_commits(self, request: Request, token: TokenInfo | None, number: str) -> Reply:
        with self.lock:
            pr = self._pull(number)
            items = [self._commit_json(self.git.commit_info(sha)) for sha in pr.commits]
        return self._page(request, items, maximum=100)

    def _list_pull_files(self, request: Request, token: TokenInfo | None, number: str) -> Reply:
        with self.lock:
            pr = self._pull(number)
            base = self.git.merge_base(pr.base_sha, pr.head_sha) or pr.base_sha
            items = self._files_json(base, pr.head_sha)
        return self._page(request, items)

    def _get_issue(self, request: Request, token: TokenInfo | None, number: str) -> Reply:
        with self.lock:
            pr = self._pull(number)
            data = {
                "url": f"{self.repo_api}/issues/{pr.number}",
                "id": 400_000 + pr.number,
                "node_id": f"I_{pr.number}",
                "number": pr.number,
                "title": pr.title,
                "user": self._user_json(pr.user),
                "state": pr.state,
                "body": pr.body or None,
                "comments": sum(1 for c in self.comments.values() if c.number == pr.number),
                "comments_url": f"{self.repo_api}/issues/{pr.number}/comments",
                "html_url": f"{SERVER_URL}/{self.full_name}/pull/{pr.number}",
                "pull_request": {
                    "url": f"{self.repo_api}/pulls/{pr.number}",
                    "html_url": f"{SERVER_URL}/{self.full_name}/pull/{pr.number}",
                    "merged_at": pr.merged_at,
                },
                "created_at": pr.created_at,
                "updated_at": pr.updated_at,
            }
        return _json_reply(200, data)

    def _list_comments(self, request: Request, token: TokenInfo | None, number: str) -> Reply:
        with self.lock:
            pr = self._pull(number)
            items = [
                self._comment_json(c)
                for c in sorted(self.comments.values(), key=lambda c: c.id)
                if c.number == pr.number
            ]
        return self._page(request, items)

    def _comment_body(self, request: Request) -> str:
        data = _body(request)
        body = data.get("body")
        if not isinstance(body, str):
            raise _validation("IssueComment", "body", "body is missing")
        if len(body) > COMMENT_LIMIT:
            raise _validation("IssueComment", "body", f"body is too long (maximum is {COMMENT_LIMIT} characters)")
        return body

    def _create_comment(self, request: Request, token: TokenInfo | None, number: str) -> Reply:
        assert token is not None
        body = self._comment_body(request)
        with self.lock:
            pr = self._pull(number)
            stamp = now_iso()
            comment = CommentRecord(next(self._ids), pr.number, token.login, body, stamp, stamp)
            self.comments[comment.id] = comment
            return _json_reply(201, self._comment_json(comment))

    def _comment(self, comment_id: str) -> CommentRecord:
        comment = self.comments.get(int(comment_id))
        if comment is None:
            raise ApiError(404, "Not Found")
        return comment

    def _get_comment(self, request: Request, token: TokenInfo | None, comment_id: str) -> Reply:
        with self.lock:
            return _json_reply(200, self._comment_json(self._comment(comment_id)))

    def _edit_comment(self, request: Request, token: TokenInfo | None, comment_id: str) -> Reply:
        body = self._comment_body(request)
        with self.lock:
            comment = self._comment(comment_id)
            comment.body, comment.updated_at = body, now_iso()
            return _json_reply(200, self._comment_json(comment))

    def _delete_comment(self, request: Request, token: TokenInfo | None, comment_id: str) -> Reply:
        with self.lock:
            del self.comments[self._comment(comment_id).id]
        return Reply(204)

    def _resolve(self, ref: str) -> str:
        sha = self.git.resolve(ref)
        if sha is None:
            raise _validation("Commit", "sha", f"No commit found for SHA: {ref}")
        return sha

    def _list_commits(self, request: Request, token: TokenInfo | None) -> Reply:
        head = self._resolve(request.param("sha") or self.git.default_branch)
        shas = list(reversed(self.git.commits_between(None, head)))  # newest first
        path = request.param("path")
        if path:
            shas = [s for s in shas if self.git.git("log", "-1", "--format=%H", s, "--", path) == s]
        return self._page(request, [self._commit_json(self.git.commit_info(s)) for s in shas])

    def _get_commit(self, request: Request, token: TokenInfo | None, ref: str) -> Reply:
        return _json_reply(200, self._commit_json(self.git.commit_info(self._resolve(ref)), files=True))

    def _commit_pulls(self, request: Request, token: TokenInfo | None, ref: str) -> Reply:
        sha = self._resolve(ref)
        default_head = self.git.branch_head(self.git.default_branch)
        on_default = default_head is not None and self.git.is_ancestor(sha, default_head)
        with self.lock:
            found = []
            for pr in sorted(self.pulls.values(), key=lambda p: p.number):
                introduced = (sha == pr.merge_commit_sha and pr.merged) or sha in pr.commits
                # On the default branch: the merged PR that brought the commit; elsewhere open ones too
                # (GitHub docs, "List pull requests associated with a commit").
                if introduced and (pr.merged or not on_default):
                    found.append(self._pull_json(pr))
        return self._page(request, found)

    def _statuses_of(self, ref: str) -> list[StatusRecord]:
        sha = self._resolve(ref)
        with self.lock:
            return [s for s in reversed(self.statuses) if s.sha == sha]  # newest first

    def _list_statuses(self, request: Request, token: TokenInfo | None, ref: str) -> Reply:
        return self._page(request, [self._status_json(s) for s in self._statuses_of(ref)])

    def _combined_status(self, request: Request, token: TokenInfo | None, ref: str) -> Reply:
        sha = self._resolve(ref)
        latest: dict[str, StatusRecord] = {}
        for status in self._statuses_of(sha):
            latest.setdefault(status.context, status)
        states = {s.state for s in latest.values()}
        state = (
            "failure"
            if states & {"error", "failure"}
            else "pending"
            if "pending" in states or not states
            else "success"
        )
        return _json_reply(
            200,
            {
                "state": state,
                "statuses": [self._status_json(s) for s in latest.values()],
                "sha": sha,
                "total_count": len(latest),
                "repository": self._repo_json(self.full_name),
                "commit_url": f"{self.repo_api}/commits/{sha}",
                "url": f"{self.repo_api}/commits/{sha}/status",
            },
        )

    def _create_status(self, request: Request, token: TokenInfo | None, sha: str) -> Reply:
        assert token is not None
        data = _body(request)
        state = data.get("state")
        if state not in ("error", "failure", "pending", "success"):
            raise _validation("Status", "state", f"state is not included in the list (got {state!r})")
        full = self.git.resolve(sha)
        if full is None or full != sha.lower():
            raise _validation("Status", "sha", f"No commit found for SHA: {sha}")
        with self.lock:
            status = StatusRecord(
                next(self._ids),
                full,
                state,
                str(data.get("context") or "default"),
                data.get("description"),
                data.get("target_url"),
                token.login,
                now_iso(),
            )
            self.statuses.append(status)
            return _json_reply(201, self._status_json(status))

    def _compare(self, request: Request, token: TokenInfo | None, basehead: str) -> Reply:
        base_ref, sep, head_ref = basehead.partition("...")
        if not sep:
            base_ref, sep, head_ref = basehead.partition("..")
        base, head = self.git.resolve(base_ref), self.git.resolve(head_ref)
        if not sep or base is None or head is None:
            raise ApiError(404, "Not Found")
        merge_base = self.git.merge_base(base, head)
        if base == head:
            status = "identical"
        elif self.git.is_ancestor(base, head):
            status = "ahead"
        elif self.git.is_ancestor(head, base):
            status = "behind"
        else:
            status = "diverged"
        ahead = self.git.commits_between(base, head)
        behind = self.git.commits_between(head, base)
        per_page = min(max(_int(request.param("per_page"), 250), 1), 1000)
        page = max(_int(request.param("page"), 1), 1)
        chunk = ahead[(page - 1) * per_page : page * per_page]
        data = {
            "url": f"{self.repo_api}/compare/{base_ref}...{head_ref}",
            "html_url": f"{SERVER_URL}/{self.full_name}/compare/{base_ref}...{head_ref}",
            "permalink_url": f"{SERVER_URL}/{self.full_name}/compare/{base}...{head}",
            "diff_url": f"{SERVER_URL}/{self.full_name}/compare/{base_ref}...{head_ref}.diff",
            "patch_url": f"{SERVER_URL}/{self.full_name}/compare/{base_ref}...{head_ref}.patch",
            "base_commit": self._commit_json(self.git.commit_info(base)),
            "merge_base_commit": self._commit_json(self.git.commit_info(merge_base or base)),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [self._commit_json(self.git.commit_info(s)) for s in chunk],
            # three-dot: the changes of head since the merge base, at most 300 files
            "files": self._files_json(merge_base or base, head)[:300],
        }
        reply = _json_reply(200, data)
        last = max((len(ahead) + per_page - 1) // per_page, 1)
        if page < last:
            query = {k: v[0] for k, v in request.query.items()}
            query["page"] = str(page + 1)
            reply.headers["Link"] = f'<{self.url}{request.path}?{urlencode(query)}>; rel="next"'
        return reply

    def _list_deployments(self, request: Request, token: TokenInfo | None) -> Reply:
        filters = {key: request.param(key) for key in ("sha", "ref", "task", "environment") if request.param(key)}
        with self.lock:
            items = [
                self._deployment_json(d)
                for d in sorted(self.deployments.values(), key=lambda d: d.id, reverse=True)
                if all(getattr(d, key) == value for key, value in filters.items())
            ]
        return self._page(request, items)

    def _create_deployment(self, request: Request, token: TokenInfo | None) -> Reply:
        assert token is not None
        data = _body(request)
        ref = data.get("ref")
        if not isinstance(ref, str) or not ref:
            raise _validation("Deployment", "ref", "ref is missing")
        sha = self.git.resolve(ref)
        if sha is None:
            raise ApiError(422, f"No ref found for: {ref}")
        required = data.get("required_contexts")
        # Default: every context with a status on the commit must be success (GitHub docs).
        latest: dict[str, str] = {}
        for status in self._statuses_of(sha):
            latest.setdefault(status.context, status.state)
        wanted = latest.keys() if required is None else required
        failing = [{"context": c, "state": latest.get(c, "missing")} for c in wanted if latest.get(c) != "success"]
        if failing:
            raise ApiError(
                409,
                f"Conflict: Commit status checks failed for {ref}.",
                errors=[
                    {"contexts": failing, "resource": "Deployment", "field": "required_contexts", "code": "invalid"}
                ],
            )
        payload = data.get("payload", {})
        if isinstance(payload, str):
            try:
                payload = json.loads(payload) if payload else {}
            except ValueError:
                raise _validation("Deployment", "payload", "payload is not valid JSON") from None
        environment = str(data.get("environment") or "production")
        with self.lock:
            deployment = DeploymentRecord(
                id=next(self._ids),
                sha=sha,
                ref=ref,
                task=str(data.get("task") or "deploy"),
                environment=environment,
                payload=payload,
                description=data.get("description"),
                creator=token.login,
                created_at=now_iso(),
                transient=bool(data.get("transient_environment", False)),
                production=bool(data.get("production_environment", environment == "production")),
            )
            self.deployments[deployment.id] = deployment
            return _json_reply(201, self._deployment_json(deployment))

    def _deployment(self, deployment_id: str) -> DeploymentRecord:
        deployment = self.deployments.get(int(deployment_id))
        if deployment is None:
            raise ApiError(404, "Not Found")
        return deployment

    def _get_deployment(self, request: Request, token: TokenInfo | None, deployment_id: str) -> Reply:
        with self.lock:
            return _json_reply(200, self._deployment_json(self._deployment(deployment_id)))

    def _list_deployment_statuses(self, request: Request, token: TokenInfo | None, deployment_id: str) -> Reply:
        with self.lock:
            deployment = self._deployment(deployment_id)
            items = [self._deployment_status_json(s) for s in reversed(deployment.statuses)]
        return self._page(request, items)

    def _create_deployment_status(self, request: Request, token: TokenInfo | None, deployment_id: str) -> Reply:
        assert token is not None
        data = _body(request)
        state = data.get("state")
        if state not in ("error", "failure", "inactive", "in_progress", "queued", "pending", "success"):
            raise _validation("DeploymentStatus", "state", f"state is not included in the list (got {state!r})")
        with self.lock:
            deployment = self._deployment(deployment_id)
            stamp = now_iso()
            status = DeploymentStatusRecord(
                id=next(self._ids),
                deployment_id=deployment.id,
                state=state,
                description=str(data.get("description") or ""),
                environment=str(data.get("environment") or deployment.environment),
                target_url=str(data.get("target_url") or ""),
                log_url=str(data.get("log_url") or data.get("target_url") or ""),
                environment_url=str(data.get("environment_url") or ""),
                creator=token.login,
                created_at=stamp,
            )
            deployment.statuses.append(status)
            if state == "success" and data.get("auto_inactive", True):
                # Earlier successful, non-transient, non-production deployments of the env become inactive.
                for other in self.deployments.values():
                    last = other.statuses[-1] if other.statuses else None
                    if (
                        other.id != deployment.id
                        and other.environment == deployment.environment
                        and not other.transient
                        and not other.production
                        and last is not None
                        and last.state == "success"
                    ):
                        other.statuses.append(
                            DeploymentStatusRecord(
                                next(self._ids),
                                other.id,
                                "inactive",
                                "",
                                other.environment,
                                "",
                                "",
                                "",
                                token.login,
                                stamp,
                            )
                        )
            return _json_reply(201, self._deployment_status_json(status))

    def _run(self, run_id: str) -> RunRecord:
        run = self.runs.get(int(run_id))
        if run is None:
            raise ApiError(404, "Not Found")
        return run

    def _get_run(self, request: Request, token: TokenInfo | None, run_id: str) -> Reply:
        with self.lock:
            return _json_reply(200, self._run_json(self._run(run_id)))

    def _list_artifacts(self, request: Request, token: TokenInfo | None) -> Reply:
        name = request.param("name")
        with self.lock:
            items = [self._artifact_json(a) for a in self.artifacts() if not name or a.name == name]
        return self._page(request, items, wrap="artifacts")

    def _list_run_artifacts(self, request: Request, token: TokenInfo | None, run_id: str) -> Reply:
        name = request.param("name")
        with self.lock:
            run = self._run(run_id)
            items = [
                self._artifact_json(a)
                for a in self.artifacts()
                if a.owner[0] == run.id and (not name or a.name == name)
            ]
        return self._page(request, items, wrap="artifacts")

    def _artifact(self, artifact_id: str) -> StoredArtifact:
        artifact = self.results.artifacts.get(int(artifact_id))
        if artifact is None or not artifact.finalized:
            raise ApiError(404, "Not Found")
        return artifact

    def _get_artifact(self, request: Request, token: TokenInfo | None, artifact_id: str) -> Reply:
        with self.lock:
            return _json_reply(200, self._artifact_json(self._artifact(artifact_id)))

    def _download_artifact(self, request: Request, token: TokenInfo | None, artifact_id: str) -> Reply:
        with self.lock:
            artifact = self._artifact(artifact_id)
            if self._artifact_json(artifact)["expired"]:
                raise ApiError(410, "Artifact has expired")
        # GitHub answers with a redirect to a short-lived signed blob URL on another host.
        return Reply(302, b"", {"Location": self.results.signed_url(artifact)})

    def _team(self, token: TokenInfo | None, org: str, slug: str) -> dict[str, Any]:
        # An installation token without org access (the workflow token) cannot see teams: 404.
        if token is None or not token.org_members_read:
            raise ApiError(404, "Not Found")
        team = self.teams.get((org, slug))
        if team is None:
            raise ApiError(404, "Not Found")
        return team

    def _get_team(self, request: Request, token: TokenInfo | None, org: str, slug: str) -> Reply:
        team = self._team(token, org, slug)
        return _json_reply(
            200,
            {
                "id": team["id"],
                "node_id": f"T_{team['id']}",
                "name": slug,
                "slug": slug,
                "url": f"{self.url}/organizations/1/team/{team['id']}",
                "html_url": f"{SERVER_URL}/orgs/{org}/teams/{slug}",
                "members_url": f"{self.url}/organizations/1/team/{team['id']}/members{{/member}}",
                "privacy": "closed",
                "permission": "pull",
                "organization": {"login": org, "id": 1, "url": f"{self.url}/orgs/{org}"},
            },
        )

    def _get_membership(self, request: Request, token: TokenInfo | None, org: str, slug: str, login: str) -> Reply:
        team = self._team(token, org, slug)
        state = team["members"].get(login)
        if state is None:
            raise ApiError(404, "Not Found")
        return _json_reply(
            200,
            {
                "url": f"{self.url}/organizations/1/team/{team['id']}/memberships/{login}",
                "role": "member",
                "state": state,
            },
        )

    # -- for leak scans --------------------------------------------------------------------------------

    def stored_texts(self) -> Iterator[tuple[str, bytes]]:
        """Everything the fake holds that the product wrote: (where, bytes)."""
        with self.lock:
            for comment in self.comments.values():
                yield f"PR #{comment.number} comment {comment.id}", comment.body.encode()
            for status in self.statuses:
                text = json.dumps([status.context, status.description, status.target_url])
                yield f"commit status {status.context} on {status.sha[:12]}", text.encode()
            for deployment in self.deployments.values():
                text = json.dumps([deployment.payload, deployment.description, deployment.task, deployment.ref])
                yield f"deployment {deployment.id}", text.encode()
                for status in deployment.statuses:
                    text = json.dumps([status.description, status.target_url, status.log_url, status.environment_url])
                    yield f"deployment {deployment.id} status {status.id}", text.encode()
            for number, request in enumerate(self.requests):
                if request.body:
                    yield f"request #{number} body ({request.method} {request.path})", request.body
                yield f"request #{number} query ({request.method} {request.path})", json.dumps(request.query).encode()
        with self.results.lock:
            for method, target, _, body in self.results.requests:
                if method != "PUT" and body:
                    yield f"results service request ({method} {target})", body


def _json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json; charset=utf-8"})


def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise ApiError(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Problems parsing JSON")
    return data


def _int(text: str, default: int) -> int:
    return int(text) if text.isdigit() else default


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
