"""The secrets boundary as validation findings: every placeholder of an environment's rendered
resources checked against :func:`ci_deployer.config.secrets.check_boundary` (DESIGN §2).

Located on the placeholder's value (the document, policy or include that holds it), before any
request: a denied ref never reaches plan or apply, where the resolver would refuse it again.
"""

from __future__ import annotations

from ci_deployer.config.model import Environment, RenderedResource
from ci_deployer.config.secrets import check_boundary
from ci_deployer.findings import Finding
from ci_deployer.paths import format_path


def check_env(environment: Environment, resources: list[RenderedResource]) -> list[Finding]:
    """One finding per placeholder of ``resources`` that ``environment`` may not resolve."""
    findings = []
    for res in resources:
        for ref in res.secrets:
            violation = check_boundary(ref.ref, environment.secrets, environment.name)
            if violation is None:
                continue
            pos = res.position(ref.path)
            findings.append(
                Finding(
                    pos.file,
                    pos.line,
                    pos.column,
                    violation.code,
                    violation.message,
                    "error",
                    violation.hint,
                    format_path(ref.path, "spec"),
                )
            )
    return findings
