"""The PyGithub client, built in one place, and the translation of its errors.

The API base comes from ``GITHUB_API_URL`` so GitHub Enterprise Server works (``https://HOST/api/v3``).
Errors of PyGithub are translated here into :class:`~ci_deployer.errors.GitHubError` carrying the
status and GitHub's message (``raise … from exc``); callers above this boundary never see them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_deployer.errors import GitHubError

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

_DEFAULT: Any = object()


@dataclass(frozen=True)
class ClientOptions:
    """Knobs of the PyGithub client; tests pass ``retry=None`` and no throttling (no sleeps)."""

    retry: Any = _DEFAULT
    seconds_between_requests: float | None = 0.25
    seconds_between_writes: float | None = 1.0
    per_page: int = 100

    @classmethod
    def for_tests(cls) -> ClientOptions:
        """No retries, no pauses between calls: one mocked response per request."""
        return cls(retry=None, seconds_between_requests=None, seconds_between_writes=None)


@dataclass
class GitHubSource:
    """A PyGithub client and the repository the config lives in (what the gates and the action
    read GitHub through)."""

    client: Github
    repo: Repository


class GitHubApiError(GitHubError):
    """A GitHub API call failed: status and GitHub's own message."""

    def __init__(self, action: str, status: int | None, message: str, *, hint: str | None = None) -> None:
        self.action = action
        self.status = status
        self.api_message = message
        text = f"GitHub API: {action} failed" + (f" ({status})" if status else "") + (f": {message}" if message else "")
        super().__init__(text, hint=hint)


def connect(token: str, api_url: str, options: ClientOptions | None = None) -> Github:
    """A PyGithub client for ``api_url`` authenticated with ``token`` (lazy: no request until used)."""
    from github import Auth, Github, GithubRetry

    opts = options or ClientOptions()
    retry = GithubRetry(total=3) if opts.retry is _DEFAULT else opts.retry
    return Github(
        auth=Auth.Token(token) if token else None,
        base_url=api_url,
        per_page=opts.per_page,
        retry=retry,
        seconds_between_requests=opts.seconds_between_requests,
        seconds_between_writes=opts.seconds_between_writes,
        lazy=True,
    )


def _message(exc: Exception) -> str:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            details = "; ".join(
                str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e) for e in errors
            )
            message = f"{message} ({details})" if message else details
        return message
    return str(data or exc)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a translated or PyGithub error (None: no answer)."""
    if isinstance(exc, GitHubApiError):
        return exc.status
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


_HINTS: dict[int, str] = {
    401: "check the `github_token` input",
    403: "the token lacks a permission: see the `permissions:` of the job (fork PRs only get read access)",
    404: "check the repository, or that the token can see it",
}


@contextmanager
def translated(action: str, hint: Callable[[int | None], str | None] | None = None) -> Iterator[None]:
    """Run GitHub calls, turning PyGithub and network errors into :class:`GitHubApiError`."""
    from github import GithubException

    try:
        yield
    except GithubException as exc:
        status = exc.status if isinstance(exc.status, int) else None
        chosen = hint(status) if hint else None
        raise GitHubApiError(action, status, _message(exc), hint=chosen or _HINTS.get(status or 0)) from exc
    except OSError as exc:  # requests.RequestException is an OSError (IOError) subclass
        raise GitHubApiError(
            action, None, f"no answer: {type(exc).__name__}", hint="GitHub may be unreachable"
        ) from exc
