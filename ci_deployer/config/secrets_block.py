"""The per-environment ``secrets:`` block of ``environments.yaml`` → :class:`SecretSettings`.

```yaml
prod:
  secrets:
    allow: ["ORDERS_*", "TWILIO_*"]   # env-var name patterns placeholders may read (default: any not denied)
    fileRoot: /run/secrets            # secrets://file/ only below this folder (relative: to the working dir)
    hmacKey: secrets://CI_DEPLOYER_HMAC_KEY_PROD   # key for secret fingerprints; never readable by placeholders
    vault:                            # secrets://vault/PATH#KEY (KV v2)
      address: https://vault.acme.example:8200
      mount: secret                   # the KV v2 engine (default secret)
      namespace: acme/prod            # optional (Vault Enterprise, HCP Vault)
      auth: {method: jwt, role: ci-deployer-prod}   # GitHub OIDC → POST /v1/auth/jwt/login; or method: token
    aws:                              # secrets://aws/NAME#KEY (Secrets Manager)
      region: us-east-1
      roleArn: arn:aws:iam::123456789012:role/ci-deployer-prod   # assumed with the GitHub OIDC token
    gcp:                              # secrets://gcp/NAME[#VERSION] (Secret Manager)
      project: acme-prod
      workloadIdentityProvider: projects/123/locations/global/workloadIdentityPools/github/providers/github
```

Like every environment key it is deep-merged from ``defaults``.  Each key has one parser in
:data:`PARSERS` (key → settings field, parse function); a provider block is one entry there, one
field on :class:`SecretSettings` and one table of its keys (:data:`VAULT_KEYS`, …).  Problems are
findings located on the key's line, never exceptions.  A provider block holds addresses and names,
never a credential: those come from the CI identity (GitHub OIDC) or the runner's environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ci_deployer import redact
from ci_deployer.config.model import AwsSettings, GcpSettings, SecretSettings, VaultSettings
from ci_deployer.config.secrets import SECRET_TOKEN
from ci_deployer.paths import Path

# What an allow pattern may hold: environment variable name characters and fnmatch wildcards.
_ALLOW_PATTERN = re.compile(r"^[A-Za-z0-9_*?\[\]!-]+$")


class Checker(Protocol):
    """The part of environments.yaml's checker the block needs (see ``environments._Checker``)."""

    def error(self, path: Path, code: str, message: str, hint: str) -> None: ...

    def map_of(self, value: Any, path: Path, what: str) -> dict[str, Any]: ...

    def unknown_keys(self, data: dict[str, Any], allowed: tuple[str, ...], path: Path, what: str) -> None: ...


def _allow(check: Checker, value: Any, path: Path) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        check.error(
            path,
            "E-ENV-TYPE",
            "secrets.allow must be a list of environment variable name patterns",
            'e.g. allow: ["ORDERS_*", "TWILIO_*"] (an empty list allows no variable)',
        )
        return None
    bad = [v for v in value if not _ALLOW_PATTERN.fullmatch(v)]
    if bad:
        check.error(
            path,
            "E-ENV-VALUE",
            f"secrets.allow pattern {bad[0]!r} is not a variable name pattern",
            "use letters, digits, '_' and the wildcards * ? [...] (e.g. ORDERS_*)",
        )
        return None
    return tuple(value)


def _file_root(check: Checker, value: Any, path: Path) -> str | None:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        check.error(
            path,
            "E-ENV-TYPE",
            "secrets.fileRoot must be a folder path",
            "e.g. fileRoot: /run/secrets (a relative path is relative to the working directory)",
        )
        return None
    return value


def _hmac_key(check: Checker, value: Any, path: Path) -> str | None:
    if not isinstance(value, str) or SECRET_TOKEN.fullmatch(value) is None:
        if isinstance(value, str):
            redact.register(value)  # a key typed in clear: never echo it
        check.error(
            path,
            "E-ENV-SECRET-LITERAL",
            "secrets.hmacKey must be a secrets:// placeholder, not a literal value",
            "write `hmacKey: secrets://CI_DEPLOYER_HMAC_KEY_<ENV>` and provide the variable from your CI "
            "secrets (rotate the key if it was committed)",
        )
        return None
    return value


# -- provider blocks ---------------------------------------------------------------------------------

_URL = re.compile(r"^https?://[^\s/?#]+(?:/[^\s?#]*)?$")
_MOUNT = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
_AWS_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_AWS_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_GCP_PROJECT = re.compile(r"^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|\d+)$")  # an id or a number
_GCP_PROVIDER = re.compile(r"^projects/\d+/locations/global/workloadIdentityPools/[a-z0-9-]+/providers/[a-z0-9-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]+$")


@dataclass(frozen=True)
class Key:
    """One key of a provider block: the settings field, a check, what a good value looks like."""

    field: str
    valid: Callable[[Any], bool]
    expected: str
    required: bool = False


def _text(pattern: re.Pattern[str] | None = None) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip()) and (pattern is None or bool(pattern.fullmatch(value)))

    return valid


def _url_without_credentials(value: Any) -> bool:
    return _text(_URL)(value) and "@" not in value.split("//", 1)[1].split("/", 1)[0]


VAULT_KEYS: dict[str, Key] = {
    "address": Key("address", _url_without_credentials, "the server's URL, e.g. https://vault.acme.example:8200", True),
    "mount": Key("mount", _text(_MOUNT), "the KV v2 engine's mount path, e.g. secret"),
    "namespace": Key("namespace", _text(_MOUNT), "a namespace path, e.g. acme/prod"),
}
VAULT_AUTH_KEYS: dict[str, Key] = {
    "method": Key("auth_method", lambda v: v in ("jwt", "token"), "jwt (GitHub OIDC) or token (VAULT_TOKEN)"),
    "mount": Key("auth_mount", _text(_MOUNT), "the JWT auth method's mount path, e.g. jwt"),
    "role": Key("role", _text(), "the JWT auth role's name"),
    "audience": Key("audience", _text(), "the aud the role's bound_audiences lists"),
}
AWS_KEYS: dict[str, Key] = {
    "region": Key("region", _text(_AWS_REGION), "an AWS region, e.g. us-east-1", True),
    "roleArn": Key("role_arn", _text(_AWS_ROLE), "an IAM role ARN, e.g. arn:aws:iam::123456789012:role/ci-deployer"),
    "audience": Key("audience", _text(), "the aud the role's OIDC provider accepts (default sts.amazonaws.com)"),
    "endpoint": Key("endpoint", _url_without_credentials, "an http(s) URL of a Secrets Manager (and STS) endpoint"),
}
GCP_KEYS: dict[str, Key] = {
    "project": Key("project", _text(_GCP_PROJECT), "a project id (acme-prod) or number", True),
    "endpoint": Key("endpoint", _url_without_credentials, "an http(s) URL of the Secret Manager API"),
    "workloadIdentityProvider": Key(
        "workload_identity_provider",
        _text(_GCP_PROVIDER),
        "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER",
    ),
    "serviceAccount": Key("service_account", _text(_EMAIL), "a service account email"),
    "audience": Key("audience", _text(), "the aud the workload identity provider accepts"),
}


def _keys(
    check: Checker, data: dict[str, Any], keys: dict[str, Key], path: Path, what: str, *, known: bool = False
) -> dict[str, Any] | None:
    """The fields of ``data`` per ``keys``; None after reporting a missing required key or a bad value
    (unknown keys are reported too, unless the caller did: ``known``)."""
    if not known:
        check.unknown_keys(data, tuple(keys), path, what)
    fields: dict[str, Any] = {}
    ok = True
    for name, key in keys.items():
        value = data.get(name)
        if value is None:
            if key.required:
                check.error(path, "E-ENV-SECRETS-PROVIDER", f"{what} needs {name}", f"add `{name}:` ({key.expected})")
                ok = False
            continue
        if not key.valid(value):
            check.error((*path, name), "E-ENV-VALUE", f"{what}.{name} is not valid", f"write {key.expected}")
            ok = False
            continue
        fields[key.field] = value
    return fields if ok else None


def _vault(check: Checker, value: Any, path: Path) -> VaultSettings | None:
    data = check.map_of(value, path, "secrets.vault")
    if not isinstance(value, dict):
        return None  # reported by map_of
    auth = check.map_of(data.get("auth"), (*path, "auth"), "secrets.vault.auth")
    own = {k: v for k, v in data.items() if k != "auth"}
    check.unknown_keys(own, (*VAULT_KEYS, "auth"), path, "secrets.vault")
    fields = _keys(check, own, VAULT_KEYS, path, "secrets.vault", known=True)
    auth_fields = _keys(check, auth, VAULT_AUTH_KEYS, (*path, "auth"), "secrets.vault.auth")
    if fields is None or auth_fields is None:
        return None
    if auth_fields.get("auth_method") == "jwt" and not auth_fields.get("role"):
        check.error(
            (*path, "auth"),
            "E-ENV-SECRETS-PROVIDER",
            "secrets.vault.auth: method jwt needs a role",
            "add `role:` naming the JWT auth role bound to this repository and environment",
        )
        return None
    return VaultSettings(**fields, **auth_fields)


def _aws(check: Checker, value: Any, path: Path) -> AwsSettings | None:
    data = check.map_of(value, path, "secrets.aws")
    if not isinstance(value, dict):
        return None  # reported by map_of
    fields = _keys(check, data, AWS_KEYS, path, "secrets.aws")
    return AwsSettings(**fields) if fields is not None else None


def _gcp(check: Checker, value: Any, path: Path) -> GcpSettings | None:
    data = check.map_of(value, path, "secrets.gcp")
    if not isinstance(value, dict):
        return None  # reported by map_of
    fields = _keys(check, data, GCP_KEYS, path, "secrets.gcp")
    if fields is None:
        return None
    if fields.get("service_account") and not fields.get("workload_identity_provider"):
        check.error(
            (*path, "serviceAccount"),
            "E-ENV-SECRETS-PROVIDER",
            "secrets.gcp.serviceAccount is impersonated after Workload Identity Federation, which is not configured",
            "add `workloadIdentityProvider:`, or remove serviceAccount "
            "(local runs use application-default credentials)",
        )
        return None
    return GcpSettings(**fields)


# key in YAML → (field of SecretSettings, parser).  Parsers return None after reporting a problem.
PARSERS: dict[str, tuple[str, Callable[[Checker, Any, Path], Any]]] = {
    "allow": ("allow", _allow),
    "fileRoot": ("file_root", _file_root),
    "hmacKey": ("hmac_key", _hmac_key),
    "vault": ("vault", _vault),
    "aws": ("aws", _aws),
    "gcp": ("gcp", _gcp),
}


def parse_secrets_block(check: Checker, value: Any, path: Path) -> SecretSettings:
    """The settings of one environment's (merged) ``secrets:`` block; problems go to ``check``."""
    if value is None:
        return SecretSettings()
    data = check.map_of(value, path, "secrets")
    check.unknown_keys(data, tuple(PARSERS), path, "secrets")
    fields: dict[str, Any] = {}
    for key, (field, parse) in PARSERS.items():
        if data.get(key) is None:
            continue
        parsed = parse(check, data[key], (*path, key))
        if parsed is not None:
            fields[field] = parsed
    return SecretSettings(**fields)


def credential_refs(env_data: Any) -> set[str]:
    """The refs of the deployer's own credentials in one environment's raw (merged) data:
    ``api.token`` and ``secrets.hmacKey``, read even when the rest of the environment is invalid."""
    refs: set[str] = set()
    if not isinstance(env_data, dict):
        return refs
    api, block = env_data.get("api"), env_data.get("secrets")
    for holder, key in ((api, "token"), (block, "hmacKey")):
        value = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(value, str):
            refs.update(match.group(1) for match in SECRET_TOKEN.finditer(value))
    return refs
