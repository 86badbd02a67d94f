"""The one error root of ci-deployer and the small tree under it.

    DeployerError                    anything the user can act on; never a traceback
    ├── ConfigError                  the config repository cannot be read or is invalid
    │   └── ValidationFailed         validation produced error findings (carries them)
    ├── ApiError                     the Vapi API (or the emulator) answered with an error
    │   └── TransportError           no answer at all (connection reset, timeout, lost response)
    ├── SecretStoreError             a secret manager (Vault, AWS, GCP) refused, failed or was unreachable
    ├── StateError                   state / snapshot missing, corrupt, or from another org
    ├── GateRefused                  a protection gate refused the operation
    ├── PlanChanged                  a reviewed plan no longer matches a fresh plan
    ├── DriftFound                   drift found where the environment's policy is `fail`
    ├── TestsFailed                  behavioural tests (evals, tool smoke tests) did not all pass
    │   └── CanaryFailed             the canary evals failed after a protected env's apply
    └── GitHubError                  the GitHub API or the Actions runtime failed

Each error has a ``failure_reason`` (stable, machine-readable, reported in JSON output and as the
action output) and a ``hint`` (what to do next).  Exit codes are decided in one place:
:func:`ci_deployer.cli.exit_code_for`.
"""

from __future__ import annotations

from typing import Any


class DeployerError(Exception):
    """Base of every error the user can act on."""

    failure_reason = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(DeployerError):
    """The config repository cannot be read (missing folder, unreadable environments.yaml, …)."""

    failure_reason = "invalid-config"

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{where}{self.message}"


class ValidationFailed(ConfigError):
    """Validation found errors; ``findings`` holds all of them (not only the first)."""

    def __init__(self, findings: list[Any], message: str | None = None) -> None:
        errors = [f for f in findings if getattr(f, "level", "error") == "error"]
        super().__init__(
            message or f"configuration has {len(errors)} error(s)",
            hint="run `ci-deployer validate` and fix the findings it lists",
        )
        self.findings = findings


class ApiError(DeployerError):
    """An error answer from the Vapi API: method, path, status and Vapi's own message."""

    failure_reason = "api-error"

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        message: str,
        *,
        hint: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.api_message = message
        self.body = body
        self.retry_after = retry_after
        super().__init__(f"{method} {path} → {status}: {message}", hint=hint)


class TransportError(ApiError):
    """No HTTP answer: connection refused/reset, timeout, or a response lost after sending."""

    def __init__(self, method: str, path: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(method, path, 0, message, hint=hint)
        self.message = f"{method} {path} → no response: {message}"

    def __str__(self) -> str:
        return self.message


class SecretStoreError(DeployerError):
    """A secret manager behind ``secrets://vault|aws|gcp/…`` refused (login, permission), failed or
    could not be reached.  Names the placeholder, the env and the provider; never a value or a credential."""

    failure_reason = "api-error"

    def __init__(self, provider: str, env: str, ref: str, message: str, *, hint: str | None = None) -> None:
        self.provider = provider
        self.env = env
        self.ref = ref
        where = f" ({provider}, environment {env!r})" if env else f" ({provider})"
        super().__init__(f"secrets://{ref}{where}: {message}", hint=hint)


class StateError(DeployerError):
    failure_reason = "state-error"


class GateRefused(DeployerError):
    failure_reason = "gate-refused"


class PlanChanged(DeployerError):
    failure_reason = "plan-changed"


class DriftFound(DeployerError):
    failure_reason = "drift"


class TestsFailed(DeployerError):
    """Behavioural tests ran and at least one failed (or could not be evaluated)."""

    __test__ = False  # not a pytest test class, whatever its name
    failure_reason = "tests-failed"


class CanaryFailed(TestsFailed):
    """The canary evals failed after an apply to a protected environment (rolled back or not)."""

    failure_reason = "canary-failed"


class GitHubError(DeployerError):
    failure_reason = "github-error"
