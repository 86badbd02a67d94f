"""The sticky pull-request comments: one per environment (and per kind), edited in place on every push.

A comment is ours when its body carries the hidden marker for the environment::

    <!-- ci-deployer:v1 {"env":"prod","planHash":"sha256:…","baseSha":"…","headSha":"…"} -->

The plan's comment has that marker; the behavioural tests of an environment have a comment of their
own, whose marker adds ``"kind":"test"`` (and no plan hash).  A separate comment, because the plan
job and the test job run at the same time: editing one comment from both would lose one report
(each writes the whole body), and the test job must never touch the marker holding the reviewed plan.

**and** its author is the identity the action posts as (``comment_author``: ``github-actions[bot]`` for
the workflow token, ``<app-slug>[bot]`` for a GitHub App's token), a bot account (``user.type ==
"Bot"``): a person pasting the marker — or another bot, e.g. one a PR author controls — cannot
hijack the comment or supply a reviewed plan hash.  The identity is configured, not asked for:
``GET /user`` answers 403 to the workflow token.  Every page of comments is read (Digger #2094 and
pulumi/actions #633 missed comments beyond the first page).  The marker's ``planHash`` is what
reviewers saw: apply compares it with a fresh plan (stale-plan protection).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_deployer.github.client import GitHubApiError, status_of, translated

if TYPE_CHECKING:
    from github.IssueComment import IssueComment
    from github.Repository import Repository

MARKER_PREFIX = "<!-- ci-deployer:v1 "
_MARKER = re.compile(r"<!-- ci-deployer:v1 (\{.*?\}) -->")


@dataclass(frozen=True)
class Marker:
    """What the hidden marker records: the environment, the plan hash and the commits planned."""

    env: str
    plan_hash: str | None
    base_sha: str
    head_sha: str
    kind: str = "plan"  # "plan" (the reviewed plan) | "test" (behavioural test results)
    # a partial plan's scope (engine/scope.py Scope.to_dict): the hash covers it, apply replans it
    scope: dict[str, Any] | None = None

    def render(self) -> str:
        """The HTML comment (JSON inside; ``--`` cannot occur in it, so the comment cannot end early)."""
        data: dict[str, Any] = {
            "env": self.env,
            "planHash": self.plan_hash,
            "baseSha": self.base_sha,
            "headSha": self.head_sha,
        }
        if self.kind != "plan":
            data["kind"] = self.kind
        if self.scope is not None:
            data["scope"] = self.scope
        text = json.dumps(data, separators=(",", ":")).replace("--", "-\\u002d")
        return f"{MARKER_PREFIX}{text} -->"


def parse_marker(body: str | None) -> Marker | None:
    """The first ci-deployer marker in a comment body (None when there is none or it is malformed)."""
    if not body:
        return None
    match = _MARKER.search(body)
    if not match:
        return None
    try:
        data: Any = json.loads(match.group(1))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("env"), str):
        return None
    plan_hash = data.get("planHash")
    return Marker(
        env=data["env"],
        plan_hash=plan_hash if isinstance(plan_hash, str) else None,
        base_sha=str(data.get("baseSha") or ""),
        head_sha=str(data.get("headSha") or ""),
        kind=str(data.get("kind") or "plan"),
        scope=data["scope"] if isinstance(data.get("scope"), dict) else None,
    )


DEFAULT_AUTHOR = "github-actions[bot]"


def written_by(comment: IssueComment, author: str) -> bool:
    """Written by ``author``, a bot account (the identity the action posts as)."""
    user = comment.user
    return user is not None and user.type == "Bot" and user.login.lower() == author.lower()


@dataclass(frozen=True)
class CommentOutcome:
    """What happened to the sticky comment: ``created``, ``updated`` or ``forbidden`` (no write access)."""

    action: str
    comment_id: int | None = None
    url: str = ""


class StickyComments:
    """The ci-deployer comments of one pull request."""

    def __init__(self, repo: Repository, number: int, author: str = DEFAULT_AUTHOR) -> None:
        self.repo = repo
        self.number = number
        self.author = author

    def find(self, env: str, kind: str = "plan") -> tuple[IssueComment, Marker] | None:
        """Our ``kind`` comment for ``env`` (the newest, if a past bug left several), reading every page."""
        found: tuple[IssueComment, Marker] | None = None
        with translated(f"list comments of #{self.number}"):
            for comment in self.repo.get_issue(self.number).get_comments():
                marker = parse_marker(comment.body)
                if (
                    marker is not None
                    and marker.env == env
                    and marker.kind == kind
                    and written_by(comment, self.author)
                ):
                    found = (comment, marker)
        return found

    def reviewed_marker(self, env: str) -> Marker | None:
        """The marker of the plan reviewers saw for ``env`` (None: no plan comment)."""
        found = self.find(env)
        return found[1] if found else None

    def upsert(self, env: str, body: str, kind: str = "plan") -> CommentOutcome:
        """Edit our ``kind`` comment for ``env`` in place, or create it; never a duplicate.

        A 403 (fork PRs get a read-only token; a job without ``pull-requests: write``) is not a crash:
        the outcome is ``forbidden`` and the report stays in the job summary.
        """
        found = self.find(env, kind)
        try:
            if found is not None:
                comment = found[0]
                with translated(f"edit comment {comment.id}"):
                    comment.edit(body)
                return CommentOutcome("updated", comment.id, comment.html_url)
            with translated(f"comment on #{self.number}"):
                created = self.repo.get_issue(self.number).create_comment(body)
            return CommentOutcome("created", created.id, created.html_url)
        except GitHubApiError as error:
            if status_of(error) == 403:
                return CommentOutcome("forbidden")
            raise


def pull_for_commit(repo: Repository, sha: str) -> tuple[int, str, str] | None:
    """``(number, head_sha, base_sha)`` of the PR that brought ``sha`` (a push after merge, a dispatch).

    ``GET /repos/{o}/{r}/commits/{sha}/pulls`` lists the merged PR for a default-branch commit; the one
    whose ``merge_commit_sha`` is ``sha`` wins (dflook #362: apply could not find the PR after merge).
    """
    with translated(f"find the pull request of commit {sha[:12]}"):
        pulls = list(repo.get_commit(sha).get_pulls())
    if not pulls:
        return None
    chosen = next((p for p in pulls if p.merge_commit_sha == sha), pulls[0])
    return chosen.number, chosen.head.sha, chosen.base.sha
