"""The per-environment ``secrets:`` block of ``environments.yaml`` → :class:`SecretSettings`.

```yaml
prod:
  secrets:
    allow: ["ORDERS_*", "TWILIO_*"]   # env-var name patterns placeholders may read (default: any not denied)
    fileRoot: /run/secrets            # secrets://file/ only below this folder (relative: to the working dir)
    hmacKey: secrets://CI_DEPLOYER_HMAC_KEY_PROD   # key for secret fingerprints; never readable by placeholders
```

Like every environment key it is deep-merged from ``defaults``.  Each key has one parser in
:data:`PARSERS` (key → settings field, parse function); a provider block (``vault:``, ``aws:``,
``gcp:``) is one more entry there and one more field on :class:`SecretSettings`.  Problems are
findings located on the key's line, never exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from ci_deployer import redact
from ci_deployer.config.model import SecretSettings
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


# key in YAML → (field of SecretSettings, parser).  Parsers return None after reporting a problem.
PARSERS: dict[str, tuple[str, Callable[[Checker, Any, Path], Any]]] = {
    "allow": ("allow", _allow),
    "fileRoot": ("file_root", _file_root),
    "hmacKey": ("hmac_key", _hmac_key),
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
