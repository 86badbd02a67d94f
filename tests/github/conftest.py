"""Fixtures for the GitHub edge: a fake Actions results service on loopback, runtime tokens, events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.results_service import ServedResults, make_runtime_token, runtime_scopes, serve_results

RUN_BACKEND = "ce7f54c7-61c7-4aae-887f-30da475f5f1a"
JOB_BACKEND = "ca395085-040a-526b-2ce8-bdc85f692774"


@pytest.fixture
def fake_results() -> Iterator[ServedResults]:
    """A loopback HTTP server speaking the artifact v4 Twirp API and the blob upload (one job registered)."""
    with serve_results(RUN_BACKEND, JOB_BACKEND) as served:
        yield served


def write_event(path: Path, payload: dict[str, Any]) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def pr_event(number: int = 7, head: str = "a" * 40, base: str = "b" * 40, fork: bool = False) -> dict[str, Any]:
    """A pull_request webhook payload (the fields the action reads)."""
    repo = {"full_name": "acme/config", "default_branch": "main", "id": 1}
    head_repo = {"full_name": "mallory/config" if fork else "acme/config"}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": head, "ref": "feature", "repo": head_repo},
            "base": {"sha": base, "ref": "main", "repo": {"full_name": "acme/config"}},
        },
        "repository": repo,
    }


@pytest.fixture
def make_pr_event() -> Any:
    """The pull_request payload builder (fixtures, not imports: tests/ has no packages)."""
    return pr_event


@pytest.fixture
def token_for() -> Any:
    """Builds runtime tokens with a given ``scp`` claim (default: this job's backend ids)."""

    def build(scp: str = runtime_scopes(RUN_BACKEND, JOB_BACKEND)) -> str:
        return make_runtime_token(scp)

    return build
