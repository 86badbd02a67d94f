"""Approvals over plain data: latest opinion per reviewer, dismissals, stale heads, who never counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ci_deployer.gates.approvals import PullRequestEvidence, Review, evaluate_approvals, latest_opinions

HEAD = "h" * 40
OLD = "a" * 40
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def review(user: str, state: str, minutes: int, commit: str = HEAD) -> Review:
    return Review(user, state, commit, T0 + timedelta(minutes=minutes))


def pr(reviews: list[Review], number: int = 12, **kw: object) -> PullRequestEvidence:
    base: dict[str, object] = {
        "number": number,
        "title": "Add jira tool",
        "body": "",
        "branch": "feature/jira",
        "author": "carol",
        "head_sha": HEAD,
        "committers": ["carol"],
        "reviews": reviews,
    }
    base.update(kw)
    return PullRequestEvidence(**base)  # type: ignore[arg-type]


def test_latest_opinion_wins_and_comments_do_not_clear_an_approval() -> None:
    reviews = [
        review("alice", "CHANGES_REQUESTED", 1),
        review("alice", "APPROVED", 2),
        review("alice", "COMMENTED", 3),
        review("bob", "APPROVED", 1),
        review("bob", "CHANGES_REQUESTED", 5),
    ]
    latest = latest_opinions(reviews)
    assert {k: v.state for k, v in latest.items()} == {"alice": "APPROVED", "bob": "CHANGES_REQUESTED"}


def test_two_listed_reviewers_pass() -> None:
    item = evaluate_approvals(
        [pr([review("alice", "APPROVED", 1), review("bob", "APPROVED", 2)])], 2, ["alice", "bob"], None, None
    )
    assert item.status == "pass"
    assert item.evidence == "#12 Add jira tool: 2/2 approvals (alice, bob)"


def test_changes_requested_after_approval_replaces_it() -> None:
    item = evaluate_approvals(
        [pr([review("alice", "APPROVED", 1), review("bob", "APPROVED", 2), review("bob", "CHANGES_REQUESTED", 3)])],
        2,
        ["alice", "bob"],
        None,
        None,
    )
    assert item.status == "fail"
    assert item.evidence == "#12 Add jira tool: 1/2 approvals (alice); changes requested by bob"
    assert item.hint is not None and "1 more on #12" in item.hint


def test_dismissed_approval_does_not_count() -> None:
    item = evaluate_approvals(
        [pr([review("alice", "APPROVED", 1), review("bob", "DISMISSED", 2)])], 2, ["alice", "bob"], None, None
    )
    assert item.status == "fail"
    assert "1/2 approvals (alice)" in item.evidence


def test_reapproval_after_dismissal_counts() -> None:
    reviews = [review("bob", "DISMISSED", 1), review("bob", "APPROVED", 2)]
    assert evaluate_approvals([pr(reviews)], 1, ["bob"], None, None).status == "pass"


def test_stale_head_counts_only_when_config_unchanged() -> None:
    reviews = [review("alice", "APPROVED", 1, commit=OLD), review("bob", "APPROVED", 2)]
    changed = evaluate_approvals([pr(reviews)], 2, ["alice", "bob"], None, None)
    assert changed.status == "fail"
    assert "alice (approved aaaaaaa, config changed since)" in changed.evidence
    unchanged = evaluate_approvals([pr(reviews, unchanged_since={OLD})], 2, ["alice", "bob"], None, None)
    assert unchanged.status == "pass"
    assert "alice (on aaaaaaa, config unchanged since)" in unchanged.evidence


def test_author_committer_and_dispatcher_never_count() -> None:
    reviews = [
        review("carol", "APPROVED", 1),  # author
        review("dave", "APPROVED", 2),  # pushed a commit to the PR
        review("Erin", "APPROVED", 3),  # dispatched the deployment (case differs)
        review("alice", "APPROVED", 4),
    ]
    item = evaluate_approvals(
        [pr(reviews, committers=["carol", "dave"])], 2, ["alice", "carol", "dave", "erin"], None, "erin"
    )
    assert item.status == "fail"
    assert item.evidence == (
        "#12 Add jira tool: 1/2 approvals (alice); not counted: carol (author of the PR), "
        "dave (committed to the PR), Erin (dispatched this deployment)"
    )


def test_only_listed_reviewers_count_and_logins_are_case_insensitive() -> None:
    item = evaluate_approvals(
        [pr([review("Alice", "APPROVED", 1), review("mallory", "APPROVED", 2)])], 1, ["alice"], None, None
    )
    assert item.status == "pass"
    assert "mallory (not a listed reviewer)" in item.evidence


def test_no_reviewers_listed_means_anyone_else_counts() -> None:
    assert evaluate_approvals([pr([review("mallory", "APPROVED", 1)])], 1, [], None, None).status == "pass"


def test_team_members_count_when_resolved() -> None:
    prs = [pr([review("frank", "APPROVED", 1)])]
    reviewers = ["@acme/platform-owners"]
    assert evaluate_approvals(prs, 1, reviewers, {"@acme/platform-owners": {"frank"}}, None).status == "pass"
    denied = evaluate_approvals(
        prs, 1, reviewers, {}, None, team_lookup_error="token cannot read org membership of @acme/platform-owners"
    )
    assert denied.status == "fail"
    assert "frank (not a listed reviewer)" in denied.evidence
    assert "teams not checked (@acme/platform-owners): token cannot read org membership" in denied.evidence
    assert denied.hint is not None and "token cannot read org membership" in denied.hint


def test_every_merged_pr_needs_its_own_approvals() -> None:
    good = pr([review("alice", "APPROVED", 1)], number=12)
    bad = pr([review("carol", "APPROVED", 1)], number=13, title="Tweak prompt")
    item = evaluate_approvals([bad, good], 1, ["alice", "carol"], None, None)
    assert item.status == "fail"
    assert item.evidence.splitlines() == [
        "#12 Add jira tool: 1/1 approvals (alice)",
        "#13 Tweak prompt: 0/1 approvals; not counted: carol (author of the PR)",
    ]


def test_missing_github_context_is_pending_and_no_prs_pass() -> None:
    pending = evaluate_approvals(None, 2, ["alice"], None, None)
    assert (pending.status, pending.evidence) == ("pending", "no GitHub context: approvals are checked in CI")
    assert evaluate_approvals([], 2, ["alice"], None, None).status == "pass"
    assert evaluate_approvals(None, 0, [], None, None).status == "skip"
