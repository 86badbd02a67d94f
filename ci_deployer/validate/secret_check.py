"""``validate --check-secrets``: every placeholder of an env resolved now, the unresolvable reported.

The same resolver plan, apply and the checklist's "secrets present" line use (built by the
composition root: env variables, files and the env's own secret managers), so a green check means
the next apply of that env can read every secret from here.  Findings are located on each
placeholder (and on the env for its API key and HMAC key); they carry the REF and the store's
message, never a value.  Placeholders outside the boundary are left to ``secret_boundary``.
"""

from __future__ import annotations

from collections.abc import Callable

from ci_deployer.config.model import Environment, Position, RenderedResource
from ci_deployer.config.secrets import SecretResolver, check_boundary, find_placeholders, hint_for, resolve_credential
from ci_deployer.errors import DeployerError
from ci_deployer.findings import Finding
from ci_deployer.paths import format_path

CODE = "E-SECRET-UNRESOLVED"


def check_env(environment: Environment, resources: list[RenderedResource], resolver: SecretResolver) -> list[Finding]:
    """One finding per placeholder of ``environment`` (its resources, ``api.token``, ``secrets.hmacKey``)
    that ``resolver`` cannot resolve here."""
    outcomes: dict[str, tuple[str, str] | None] = {}  # ref → (message, hint) when unresolvable

    def outcome(ref: str, read: Callable[[str], str | None]) -> tuple[str, str] | None:
        if ref not in outcomes:
            try:
                value = read(ref)
            except DeployerError as exc:
                outcomes[ref] = (exc.message, exc.hint or hint_for(ref))
            else:
                where = f"in environment {environment.name!r}"
                outcomes[ref] = (
                    None if value is not None else (f"secrets://{ref} is not resolvable {where}", hint_for(ref))
                )
        return outcomes[ref]

    findings: list[Finding] = []
    for res in resources:
        for ref in res.secrets:
            if check_boundary(ref.ref, environment.secrets, environment.name) is not None:
                continue  # reported by the boundary check, never resolved
            problem = outcome(ref.ref, resolver.resolve)
            if problem is not None:
                pos = res.position(ref.path)
                findings.append(
                    Finding(
                        pos.file,
                        pos.line,
                        pos.column,
                        CODE,
                        problem[0],
                        "error",
                        problem[1],
                        format_path(ref.path, "spec"),
                    )
                )
    credentials = [("api.token", environment.api_token if environment.api_url != "embedded" else None)]
    credentials.append(("secrets.hmacKey", environment.secrets.hmac_key))
    for key, placeholder in credentials:
        for credential, _, _ in find_placeholders(placeholder or ""):
            problem = outcome(credential, lambda r: resolve_credential(resolver, r))
            if problem is not None:
                at: Position = environment.position
                findings.append(
                    Finding(
                        at.file,
                        at.line,
                        at.column,
                        CODE,
                        f"{problem[0]} ({key})",
                        "error",
                        problem[1],
                        f"environments.{environment.name}.{key}",
                    )
                )
    return findings
