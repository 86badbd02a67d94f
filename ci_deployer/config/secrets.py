"""``secrets://REF`` placeholders (DESIGN §2): finding them, and resolving them when a value is sent.

A placeholder is a whole value or a token inside a string; REF ends at the first character outside
``[A-Za-z0-9_./#-]``.  ``secrets://NAME`` reads the environment variable ``NAME``;
``secrets://file/PATH`` reads a file (relative to the working directory, trailing newline dropped);
``vault/``, ``aws/`` and ``gcp/`` need provider extras and are "not resolvable here" without them.

Every resolved value is registered with :mod:`ci_deployer.redact` before it is used, and errors
name the REF, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ci_deployer import redact
from ci_deployer.errors import ConfigError

SECRET_TOKEN = re.compile(r"secrets://([A-Za-z0-9_./#-]+)")
PROVIDERS = ("file", "vault", "aws", "gcp")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def find_placeholders(value: str) -> list[tuple[str, int, int]]:
    """Every ``secrets://REF`` in ``value`` as ``(ref, start, end)`` (offsets of the whole token)."""
    if "secrets://" not in value:
        return []
    return [(m.group(1), m.start(), m.end()) for m in SECRET_TOKEN.finditer(value)]


class SecretResolver(Protocol):
    """Turns a REF into its value; ``None`` when it cannot be resolved here."""

    def resolve(self, ref: str) -> str | None: ...


class EnvSecretResolver:
    """Resolves ``NAME`` from ``environ`` and ``file/PATH`` from disk; other providers give ``None``.

    An empty variable counts as unset: GitHub Actions passes a missing secret as an empty string.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def resolve(self, ref: str) -> str | None:
        """The value of ``ref``, or ``None`` when it is not available here."""
        provider, _, rest = ref.partition("/")
        if provider == "file" and rest:
            try:
                text = Path(rest).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None
            text = text.rstrip("\r\n")
            return text or None
        if provider in PROVIDERS or not _ENV_NAME.match(ref):
            return None
        return self._environ.get(ref) or None


def _hint(ref: str) -> str:
    provider, _, rest = ref.partition("/")
    if provider == "file" and rest:
        return f"create the file {rest} (relative to the working directory) holding the secret"
    if provider in PROVIDERS:
        return f"install the `{provider}` provider extra (pip install 'ci-deployer[{provider}]') and its credentials"
    return (
        f"set the environment variable {ref} (in GitHub Actions: `env: {ref}: ${{{{ secrets.{ref} }}}}`); "
        "empty values count as unset"
    )


def substitute(value: Any, resolver: SecretResolver) -> Any:
    """Deep copy of ``value`` with every placeholder replaced by its resolved value.

    Each resolved value is registered for redaction.  Raises :class:`ConfigError` naming the REF
    (never a value) when a placeholder cannot be resolved.
    """
    cache: dict[str, str] = {}

    def lookup(ref: str) -> str:
        if ref not in cache:
            resolved = resolver.resolve(ref)
            if resolved is None:
                raise ConfigError(f"secret secrets://{ref} cannot be resolved here", hint=_hint(ref))
            redact.register(resolved)
            cache[ref] = resolved
        return cache[ref]

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            if "secrets://" not in node:
                return node
            return SECRET_TOKEN.sub(lambda m: lookup(m.group(1)), node)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)
