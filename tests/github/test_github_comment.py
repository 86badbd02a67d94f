from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from responses import matchers

from ci_deployer.errors import GitHubError
from ci_deployer.github.client import ClientOptions, connect
from ci_deployer.github.comment import Marker, StickyComments, parse_marker, pull_for_commit

API = "https://api.github.com:443"  # PyGithub sends the port; URLs inside payloads must not have it
COMMENTS = f"{API}/repos/acme/config/issues/7/comments"
BOT = {"login": "github-actions[bot]", "type": "Bot", "id": 41898282}
HUMAN = {"login": "mallory", "type": "User", "id": 5}
OTHER_BOT = {"login": "mallory-app[bot]", "type": "Bot", "id": 77}


def comment(cid: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": cid,
        "body": body,
        "user": user,
        "html_url": f"https://github.com/acme/config/pull/7#issuecomment-{cid}",
        "url": f"https://api.github.com/repos/acme/config/issues/comments/{cid}",
    }


def marker(env: str, plan_hash: str = "sha256:old") -> str:
    return Marker(env=env, plan_hash=plan_hash, base_sha="b" * 40, head_sha="a" * 40).render()


@pytest.fixture
def comments() -> StickyComments:
    gh = connect("ghs_token", "https://api.github.com", ClientOptions.for_tests())
    return StickyComments(gh.get_repo("acme/config"), 7)


def test_marker_round_trips_and_cannot_close_the_html_comment_early() -> None:
    m = Marker(env="prod", plan_hash="sha256:--> x", base_sha="b", head_sha="h")
    text = m.render()
    assert text.count("-->") == 1 and text.endswith(" -->")
    assert parse_marker(f"hello\n{text}\nbody") == m
    assert parse_marker("<!-- ci-deployer:v1 {not json} -->") is None


@responses.activate
def test_first_plan_creates_the_comment(comments: StickyComments) -> None:
    responses.get(COMMENTS, json=[comment(1, "LGTM", HUMAN)], match=[matchers.query_param_matcher({"per_page": "100"})])
    created = responses.post(COMMENTS, status=201, json=comment(99, "new", BOT))
    outcome = comments.upsert("uat", f"{marker('uat')}\nplan")
    assert (outcome.action, outcome.comment_id) == ("created", 99)
    assert created.call_count == 1
    assert json.loads(created.calls[0].request.body) == {"body": f"{marker('uat')}\nplan"}


@responses.activate
def test_the_bot_comment_on_a_later_page_is_edited_in_place(comments: StickyComments) -> None:
    page2 = "https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2"
    responses.get(
        COMMENTS,
        json=[comment(1, marker("prod"), BOT), comment(2, marker("uat"), HUMAN)],  # a person's copy is not ours
        headers={"Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'},
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    responses.get(
        f"{API}/repositories/1/issues/7/comments",
        json=[comment(3, f"{marker('uat')}\nold plan", BOT)],
        match=[matchers.query_param_matcher({"per_page": "100", "page": "2"})],
    )
    edited = responses.patch(f"{API}/repos/acme/config/issues/comments/3", json=comment(3, "new", BOT))
    created = responses.post(COMMENTS, status=201, json=comment(4, "dup", BOT))
    outcome = comments.upsert("uat", f"{marker('uat', 'sha256:new')}\nnew plan")
    assert (outcome.action, outcome.comment_id) == ("updated", 3)
    assert edited.call_count == 1 and created.call_count == 0
    assert json.loads(edited.calls[0].request.body)["body"].endswith("new plan")


@responses.activate
def test_reviewed_marker_is_read_from_the_bot_comment(comments: StickyComments) -> None:
    responses.get(
        COMMENTS,
        json=[
            comment(1, marker("prod", "sha256:abc"), BOT),
            comment(2, marker("prod", "sha256:evil"), HUMAN),
            comment(3, marker("prod", "sha256:evil-bot"), OTHER_BOT),  # any bot is not enough: ours only
        ],
    )
    found = comments.reviewed_marker("prod")
    assert found is not None and found.plan_hash == "sha256:abc"
    assert comments.reviewed_marker("uat") is None
    app = StickyComments(comments.repo, 7, author="Mallory-App[bot]")
    assert app.reviewed_marker("prod") is not None and app.reviewed_marker("prod").plan_hash == "sha256:evil-bot"


@responses.activate
def test_forbidden_comment_is_an_outcome_not_a_crash(comments: StickyComments) -> None:
    responses.get(COMMENTS, json=[])
    responses.post(COMMENTS, status=403, json={"message": "Resource not accessible by integration"})
    assert comments.upsert("uat", "body").action == "forbidden"


@responses.activate
def test_other_api_failures_become_github_errors(comments: StickyComments) -> None:
    responses.get(COMMENTS, status=500, json={"message": "Server Error"})
    with pytest.raises(GitHubError, match=r"list comments of #7 failed \(500\): Server Error") as info:
        comments.upsert("uat", "body")
    assert info.value.failure_reason == "github-error"
    assert info.value.__cause__ is not None


@responses.activate
def test_the_pr_of_a_merge_commit_is_found() -> None:
    gh = connect("ghs_token", "https://api.github.com", ClientOptions.for_tests())
    pulls = [
        {"number": 3, "merge_commit_sha": "x" * 40, "head": {"sha": "3" * 40}, "base": {"sha": "0" * 40}},
        {"number": 7, "merge_commit_sha": "m" * 40, "head": {"sha": "7" * 40}, "base": {"sha": "0" * 40}},
    ]
    responses.get(f"{API}/repos/acme/config/commits/{'m' * 40}/pulls", json=pulls)
    assert pull_for_commit(gh.get_repo("acme/config"), "m" * 40) == (7, "7" * 40, "0" * 40)
