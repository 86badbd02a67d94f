from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_deployer.errors import ConfigError
from ci_deployer.github.inputs import read_inputs
from ci_deployer.settings import Settings


def _environ(tmp_path: Path, event_name: str, event: dict[str, Any], **extra: str) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    env = {
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": "acme/config",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SHA": "m" * 40,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_WORKSPACE": str(tmp_path / "ws"),
        "RUNNER_TEMP": str(tmp_path / "tmp"),
        "INPUT_COMMAND": "plan",
        "INPUT_ENVIRONMENT": "uat",
    }
    env.update(extra)
    return env


def test_pull_request_event_gives_number_head_and_base_not_the_merge_sha(tmp_path: Path, make_pr_event: Any) -> None:
    ctx = Settings.from_environ(
        _environ(tmp_path, "pull_request", make_pr_event(number=12, head="h" * 40, base="b" * 40))
    )
    assert ctx.pull_request is not None
    assert (ctx.pull_request.number, ctx.pull_request.head_sha, ctx.pull_request.base_sha) == (12, "h" * 40, "b" * 40)
    assert ctx.head_sha == "h" * 40  # GITHUB_SHA is the test merge commit on pull_request
    assert not ctx.pull_request.from_fork
    assert ctx.run_url == "https://github.com/acme/config/actions/runs/42"


def test_fork_pull_request_is_recognised(tmp_path: Path, make_pr_event: Any) -> None:
    ctx = Settings.from_environ(_environ(tmp_path, "pull_request", make_pr_event(fork=True)))
    assert ctx.pull_request is not None and ctx.pull_request.from_fork


def test_push_on_default_branch_and_dispatch_inputs(tmp_path: Path) -> None:
    push = Settings.from_environ(
        _environ(tmp_path, "push", {"ref": "refs/heads/main", "repository": {"default_branch": "main"}})
    )
    assert push.pull_request is None and push.on_default_branch and push.default_branch == "main"
    dispatch = Settings.from_environ(
        _environ(
            tmp_path,
            "workflow_dispatch",
            {"inputs": {"ticket": "CHG-1", "n": 3}, "repository": {"default_branch": "trunk"}},
        )
    )
    assert dispatch.dispatch_inputs == {"ticket": "CHG-1", "n": "3"}
    assert not dispatch.on_default_branch  # GITHUB_REF is main, the default branch is trunk


def test_inputs_are_typed_and_checked(tmp_path: Path) -> None:
    ctx = Settings.from_environ(
        _environ(
            tmp_path,
            "push",
            {},
            INPUT_COMMENT="False",
            INPUT_ALLOW_DELETES="true",
            GITHUB_API_URL="https://ghe.acme/api/v3/",
        )
    )
    inputs = read_inputs(_environ(tmp_path, "push", {}, INPUT_COMMENT="False", INPUT_ALLOW_DELETES="true"))
    assert inputs.comment is False and inputs.allow_deletes is True
    assert ctx.api_url == "https://ghe.acme/api/v3"
    with pytest.raises(ConfigError, match="true or false"):
        read_inputs(_environ(tmp_path, "push", {}, INPUT_COMMENT="yes"))
    with pytest.raises(ConfigError, match="one of validate"):
        read_inputs(_environ(tmp_path, "push", {}, INPUT_COMMAND="destroy"))
    with pytest.raises(ConfigError, match="needs the `environment` input"):
        read_inputs(_environ(tmp_path, "push", {}, INPUT_ENVIRONMENT=""))


def test_the_action_token_is_its_input_and_the_cli_token_is_github_token(tmp_path: Path) -> None:
    # The runner passes `github_token` as INPUT_GITHUB_TOKEN; GITHUB_TOKEN never reaches a container.
    action = Settings.from_environ(_environ(tmp_path, "push", {}, INPUT_GITHUB_TOKEN="ghs_input"))
    assert action.github_token == "ghs_input"
    cli = Settings.from_environ(_environ(tmp_path, "push", {}, GITHUB_TOKEN="ghp_cli"))
    assert cli.github_token == "ghp_cli"
    assert "ghs_input" not in repr(action)  # never printed by accident
    dispatch = Settings.from_environ(
        _environ(tmp_path, "workflow_dispatch", {}, GITHUB_ACTOR="alice", GITHUB_TRIGGERING_ACTOR="bob")
    )
    assert dispatch.dispatcher == "bob"
    assert Settings.from_environ(_environ(tmp_path, "push", {}, GITHUB_ACTOR="alice")).dispatcher is None
