"""Approvals: every PR merged since the env's last applied sha needs ``requiredApprovals``.

Pure over plain data (no PyGithub types; :mod:`ci_deployer.gates.github_evidence` gathers it).
For each PR, reviews are read in chronological order and each reviewer's *latest opinionated*
review is kept (GitHub's ``latestOpinionatedReviews``): ``APPROVED`` and ``CHANGES_REQUESTED``
replace the reviewer's state, ``DISMISSED`` removes it, ``COMMENTED`` and ``PENDING`` change
nothing.  A remaining approval counts only when all of these hold:

- it was given on the PR's head, or on a commit after which the config did not change up to the
  head (``unchanged_since``);
- the reviewer is not the PR's author, did not author or commit any of its commits, and did not
  dispatch this deployment;
- the reviewer is listed in ``reviewers`` — as a user, or as a member of a listed ``@org/team``
  (which needs ``team_members``).  With no reviewers listed, any other reviewer counts.

Logins compare case-insensitively, as GitHub's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ci_deployer.gates.model import CheckItem

APPROVED = "APPROVED"
CHANGES_REQUESTED = "CHANGES_REQUESTED"
DISMISSED = "DISMISSED"


@dataclass
class Review:
    """One submitted review of a PR."""

    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str
    submitted_at: datetime


@dataclass
class PullRequestEvidence:
    """What the approvals and ticket gates need to know about one merged PR."""

    number: int
    title: str
    body: str
    branch: str
    author: str
    head_sha: str
    committers: list[str] = field(default_factory=list)  # authors and committers of its commits
    reviews: list[Review] = field(default_factory=list)
    unchanged_since: set[str] = field(default_factory=set)  # commits after which the config did not change


def is_team(reviewer: str) -> bool:
    """``@org/team`` names a team; anything else a user."""
    return reviewer.startswith("@") and "/" in reviewer


def latest_opinions(reviews: list[Review]) -> dict[str, Review]:
    """Each reviewer's latest opinionated review (login lowercased → review)."""
    latest: dict[str, Review] = {}
    for review in sorted(reviews, key=lambda r: r.submitted_at):  # stable: ties keep API order
        login = review.user.lower()
        state = review.state.upper()
        if state in (APPROVED, CHANGES_REQUESTED):
            latest[login] = review
        elif state == DISMISSED:
            latest.pop(login, None)
    return latest


@dataclass
class _Eligibility:
    users: set[str]
    teams: list[str]
    team_members: dict[str, set[str]] | None

    def why_not(self, login: str) -> str | None:
        if not self.users and not self.teams:
            return None
        if login in self.users:
            return None
        known = self.team_members or {}
        if any(login in {m.lower() for m in known.get(team, set())} for team in self.teams):
            return None
        return "not a listed reviewer"


def _pr_verdict(
    pr: PullRequestEvidence, required: int, eligible: _Eligibility, dispatcher: str | None
) -> tuple[bool, str, int]:
    author = pr.author.lower()
    committers = {c.lower() for c in pr.committers if c}
    counted: list[str] = []
    rejected: list[str] = []
    changes: list[str] = []
    for login, review in sorted(latest_opinions(pr.reviews).items()):
        name = review.user
        if review.state.upper() == CHANGES_REQUESTED:
            changes.append(name)
            continue
        why: str | None
        if login == author:
            why = "author of the PR"
        elif login in committers:
            why = "committed to the PR"
        elif dispatcher and login == dispatcher.lower():
            why = "dispatched this deployment"
        else:
            why = eligible.why_not(login)
        if why is None and review.commit_id != pr.head_sha:
            if review.commit_id in pr.unchanged_since:
                name = f"{name} (on {review.commit_id[:7]}, config unchanged since)"
            else:
                why = f"approved {review.commit_id[:7]}, config changed since"
        if why is None:
            counted.append(name)
        else:
            rejected.append(f"{name} ({why})")
    ok = len(counted) >= required
    text = f"#{pr.number} {pr.title}: {len(counted)}/{required} approvals"
    text += f" ({', '.join(counted)})" if counted else ""
    if rejected:
        text += f"; not counted: {', '.join(rejected)}"
    if changes:
        text += f"; changes requested by {', '.join(changes)}"
    return ok, text, max(0, required - len(counted))


def evaluate_approvals(
    prs: list[PullRequestEvidence] | None,
    required: int,
    reviewers: list[str],
    team_members: dict[str, set[str]] | None,
    dispatcher: str | None,
    *,
    team_lookup_error: str | None = None,
    no_github_reason: str = "no GitHub context: approvals are checked in CI",
) -> CheckItem:
    """The approvals line: pass when every PR in ``prs`` has ``required`` counted approvals.

    ``prs`` is ``None`` when the PRs could not be gathered (no GitHub context): pending.
    """
    title = f"{required} approval{'s' if required != 1 else ''} on every merged PR"
    if required <= 0:
        return CheckItem("approvals", "Approvals", "skip", "no approvals required", blocking=False)
    if prs is None:
        return CheckItem(
            "approvals", title, "pending", no_github_reason, hint="run the gate in CI, where the PRs can be read"
        )
    if not prs:
        return CheckItem("approvals", title, "pass", "no pull requests merged since the last apply")
    eligible = _Eligibility(
        users={r.lower() for r in reviewers if not is_team(r)},
        teams=[r for r in reviewers if is_team(r)],
        team_members=team_members,
    )
    lines: list[str] = []
    missing: list[str] = []
    for pr in sorted(prs, key=lambda p: p.number):
        ok, text, short = _pr_verdict(pr, required, eligible, dispatcher)
        lines.append(text)
        if not ok:
            missing.append(f"{short} more on #{pr.number}")
    unresolved = [t for t in eligible.teams if team_members is None or t not in team_members]
    if unresolved:
        lines.append(
            f"teams not checked ({', '.join(unresolved)}): "
            + (team_lookup_error or "team membership was not looked up")
        )
    evidence = "\n".join(lines)
    if not missing:
        return CheckItem("approvals", title, "pass", evidence)
    hint = f"get {', '.join(missing)} from listed reviewers who neither authored nor committed to it"
    if unresolved and team_lookup_error:
        hint += f"; {team_lookup_error}"
    return CheckItem("approvals", title, "fail", evidence, hint=hint)
