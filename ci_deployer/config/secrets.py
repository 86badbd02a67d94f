"""``secrets://REF`` placeholders (DESIGN §2): finding them, checking their boundary, resolving them.

A placeholder is a whole value or a token inside a string; REF ends at the first character outside
``[A-Za-z0-9_./#-]``.  ``secrets://NAME`` reads the environment variable ``NAME``;
``secrets://file/PATH`` reads a file (relative to the working directory, or absolute; trailing
newline dropped); ``vault/PATH#KEY``, ``aws/NAME[#KEY]`` and ``gcp/NAME[#VERSION]`` read the secret
managers the env's block configures (:mod:`ci_deployer.secrets`, handed in as ``stores``).

**The boundary.**  A placeholder's value is sent to Vapi, which forwards tool headers to the tool's
URL on every call: a placeholder that could read the deployer's own credentials would let a merged
PR exfiltrate them.  So (:func:`check_boundary`):

* never the workflow's and runner's variables (:data:`BUILTIN_DENY`: ``GITHUB_*``, ``INPUT_*``,
  ``ACTIONS_*`` — the OIDC request token among them — ``RUNNER_*``, compared case-insensitively as
  Windows runners do), nor the secret managers' credentials (``VAULT_*``, ``BAO_*``, ``AWS_*``,
  ``GOOGLE_*``, ``CLOUDSDK_*``), nor any env's ``api.token`` or ``secrets.hmacKey`` ref
  (:attr:`SecretSettings.reserved`, all envs, store references included);
* ``vault/``, ``aws/`` and ``gcp/`` only when the env's block configures that store (a prod secret
  is read with prod's configuration only), and only in their syntax (:mod:`ci_deployer.secrets.base`);
* other variables are allowed unless the env lists ``secrets.allow`` patterns (then only those);
* ``secrets://file/PATH`` only below the env's ``secrets.fileRoot`` (no default: without one, file
  placeholders are refused), no ``..``, and — when read — nothing outside the root once symlinks
  are resolved, regular files only, at most :data:`MAX_FILE_BYTES`.

``validate`` reports a violation with the placeholder's position (``validate/secret_boundary.py``);
:class:`EnvSecretResolver` enforces the same rules again when a value is read, so no code path can
resolve a denied ref.  Values shorter than :data:`MIN_SECRET_LENGTH` are refused: they cannot be
masked reliably.  The deployer's own credentials (``api.token``, ``secrets.hmacKey``) are read with
:meth:`EnvSecretResolver.resolve_credential`, outside the placeholder boundary.

Every resolved value is registered with :mod:`ci_deployer.redact` before it is used, and errors
name the REF, never the value.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ci_deployer import redact
from ci_deployer.errors import ConfigError
from ci_deployer.secrets.base import BLOCK_EXAMPLE, ref_problem, store_of

if TYPE_CHECKING:
    from ci_deployer.config.model import Environment, SecretSettings

SECRET_TOKEN = re.compile(r"secrets://([A-Za-z0-9_./#-]+)")
PROVIDERS = ("file", "vault", "aws", "gcp")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# The workflow's and the runner's own variables (GitHub documents GITHUB_*, RUNNER_* and ACTIONS_*
# as reserved; INPUT_* carries the action's inputs, github_token included; ACTIONS_ID_TOKEN_* asks
# for the job's OIDC identity), then the secret managers' credentials and settings: Vault's CLI and
# OpenBao's (VAULT_TOKEN, VAULT_ADDR, BAO_TOKEN …), the AWS SDKs' (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_* …), Google's
# client libraries' and gcloud's (GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN,
# CLOUDSDK_AUTH_ACCESS_TOKEN …).
BUILTIN_DENY = (
    "GITHUB_*",
    "INPUT_*",
    "ACTIONS_*",
    "RUNNER_*",
    "VAULT_*",
    "BAO_*",
    "AWS_*",
    "GOOGLE_*",
    "CLOUDSDK_*",
)
MIN_SECRET_LENGTH = 8  # shorter values cannot be masked reliably in logs (ci_deployer.redact)
MAX_FILE_BYTES = 64 * 1024  # a secret file is small; /dev/zero under a careless root must not hang us

CODE_DENIED = "E-SECRET-DENIED"
CODE_NOT_ALLOWED = "E-SECRET-NOT-ALLOWED"
CODE_FILE = "E-SECRET-FILE"
CODE_REF = "E-SECRET-REF"
CODE_STORE = "E-SECRET-STORE"


def find_placeholders(value: str) -> list[tuple[str, int, int]]:
    """Every ``secrets://REF`` in ``value`` as ``(ref, start, end)`` (offsets of the whole token)."""
    if "secrets://" not in value:
        return []
    return [(m.group(1), m.start(), m.end()) for m in SECRET_TOKEN.finditer(value)]


@dataclass(frozen=True)
class Violation:
    """Why a placeholder may not be resolved: a finding code, a message and a hint (never a value)."""

    code: str
    message: str
    hint: str


def _denied_name(name: str, reserved: frozenset[str]) -> str | None:
    """Why the variable ``name`` is one of the deployer's own credentials, or None."""
    upper = name.upper()
    for pattern in BUILTIN_DENY:
        if fnmatch.fnmatchcase(upper, pattern):
            return f"{pattern} variables belong to the workflow and the runner"
    if upper in {ref.upper() for ref in reserved}:
        return "it holds an API token or HMAC key of an environment (api.token / secrets.hmacKey)"
    return None


def _store_violation(ref: str, store: str, settings: SecretSettings | None, env: str) -> Violation | None:
    """Why a ``vault/``, ``aws/`` or ``gcp/`` reference may not be resolved in ``env``, or None."""
    expected = ref_problem(ref)
    if expected is not None:
        return Violation(CODE_REF, f"secrets://{ref} is not a valid {store} reference", f"write {expected}")
    if settings is not None and ref in settings.reserved:
        return Violation(
            CODE_DENIED,
            f"secrets://{ref} may not be read by a placeholder: it holds an API token or HMAC key of an environment "
            "(api.token / secrets.hmacKey)",
            "placeholders may never read the deployer's own credentials; store that secret under a name of its own",
        )
    if settings is None or getattr(settings, store) is None:
        who = f"environment {env!r}" if env else "the environment"
        return Violation(
            CODE_STORE,
            f"secrets://{ref} reads {store}, but {who} configures no {store} secret store",
            f"add it to {who}'s secrets block (e.g. `{BLOCK_EXAMPLE[store]}`); each env reads its own store only",
        )
    return None


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def check_boundary(ref: str, settings: SecretSettings | None, env: str = "") -> Violation | None:
    """The violation of the DESIGN §2 boundary by ``secrets://ref`` in ``env``, or None.

    Static: no file is read (``validate`` runs where secrets are absent).  ``settings=None`` is the
    built-in boundary alone: variables of :data:`BUILTIN_DENY` denied, file placeholders refused."""
    where = f" in environment {env!r}" if env else ""
    reserved = settings.reserved if settings is not None else frozenset()
    provider, _, rest = ref.partition("/")
    if provider == "file" and rest:
        root = settings.file_root if settings is not None else None
        if root is None:
            return Violation(
                CODE_FILE,
                f"secrets://{ref} reads a file, but {f'environment {env!r}' if env else 'the environment'} "
                "declares no secrets.fileRoot",
                "add `secrets: {fileRoot: /run/secrets}` (the folder holding secret files) to the environment; "
                "file placeholders are refused outside it",
            )
        if ".." in Path(rest).parts:
            return Violation(
                CODE_FILE,
                f"secrets://{ref} climbs out of its folder with '..'",
                f"name the file below secrets.fileRoot ({root}) directly",
            )
        # Textual (no symlink resolution: validate runs where the files are absent); the resolver
        # checks again with links resolved.
        target, base = os.path.abspath(rest), os.path.abspath(root)  # noqa: PTH100
        if not _inside(target, base):
            return Violation(
                CODE_FILE,
                f"secrets://{ref} is outside secrets.fileRoot ({root}){where}",
                f"keep secret files below {root} (relative paths are relative to the working directory)",
            )
        credential_files = {os.path.abspath(r.partition("/")[2]) for r in reserved if r.startswith("file/")}  # noqa: PTH100
        if target in credential_files:
            return Violation(
                CODE_DENIED,
                f"secrets://{ref} reads the file holding an API token or HMAC key of an environment",
                "placeholders may never read the deployer's own credentials; use a file of its own",
            )
        return None
    store = store_of(ref)
    if store is not None:
        return _store_violation(ref, store, settings, env)
    if not _ENV_NAME.fullmatch(ref):
        return Violation(
            CODE_REF,
            f"secrets://{ref} is neither an environment variable name nor a provider reference",
            "write secrets://NAME (letters, digits, '_'), secrets://file/PATH, secrets://vault/PATH#KEY, "
            "secrets://aws/NAME#KEY or secrets://gcp/NAME",
        )
    denied = _denied_name(ref, reserved)
    if denied is not None:
        return Violation(
            CODE_DENIED,
            f"secrets://{ref} may not be read by a placeholder: {denied}",
            "a placeholder's value is sent to Vapi (and tool headers on to the tool's URL): use a variable "
            "of its own, e.g. ORDERS_API_TOKEN",
        )
    allow = settings.allow if settings is not None else None
    if allow is not None and not any(fnmatch.fnmatchcase(ref, pattern) for pattern in allow):
        listed = ", ".join(allow) or "nothing"
        return Violation(
            CODE_NOT_ALLOWED,
            f"secrets://{ref} is not allowed{where}: secrets.allow lists {listed}",
            "add a pattern matching it to secrets.allow, or use an allowed variable",
        )
    return None


class SecretResolver(Protocol):
    """Turns a REF into its value; ``None`` when it cannot be resolved here."""

    def resolve(self, ref: str) -> str | None: ...


def _refuse(violation: Violation) -> ConfigError:
    return ConfigError(f"{violation.code}: {violation.message}", hint=violation.hint)


def _check_length(ref: str, value: str | None) -> str | None:
    if value is not None and len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"secret secrets://{ref} is shorter than {MIN_SECRET_LENGTH} characters",
            hint=f"use a value of at least {MIN_SECRET_LENGTH} characters: shorter ones cannot be masked "
            "reliably in logs",
        )
    return value


def _read_file(path: str, root: str | None) -> str | None:
    """The text of ``path`` (trailing newline dropped), or None when absent or empty.

    With ``root``: the file, symlinks resolved, must lie below the root (also resolved) and be a
    regular file; otherwise :class:`ConfigError`."""
    if root is not None:
        real, real_root = os.path.realpath(path), os.path.realpath(root)
        if not _inside(real, real_root):
            raise ConfigError(
                f"{CODE_FILE}: secrets://file/{path} leads outside secrets.fileRoot ({root}) once links are resolved",
                hint=f"keep secret files (not links out of it) below {root}",
            )
        path = real
    try:
        info = Path(path).stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            f"{CODE_FILE}: secrets://file/{path} is not a regular file", hint="point it at a file holding the secret"
        )
    if info.st_size > MAX_FILE_BYTES:
        raise ConfigError(
            f"{CODE_FILE}: secrets://file/{path} is over {MAX_FILE_BYTES // 1024} KiB",
            hint="a secret file holds one secret",
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    text = text.rstrip("\r\n")
    return text or None


class SecretStoreSet(Protocol):
    """The env's secret managers (:class:`ci_deployer.secrets.stores.SecretStores`)."""

    def fetch(self, ref: str) -> str | None: ...


class EnvSecretResolver:
    """Resolves ``NAME`` from ``environ``, ``file/PATH`` from disk and ``vault/``, ``aws/``, ``gcp/``
    from the env's ``stores`` (``None`` without them).

    ``environment`` sets the boundary (:func:`check_boundary`); without one only the built-in part
    applies (no ``GITHUB_*``/``INPUT_*``/``ACTIONS_*``/``RUNNER_*``…, no files, no stores).  An empty
    variable counts as unset: GitHub Actions passes a missing secret as an empty string.
    """

    def __init__(
        self,
        environ: Mapping[str, str],
        environment: Environment | None = None,
        stores: SecretStoreSet | None = None,
    ) -> None:
        self._environ = environ
        self._settings = environment.secrets if environment is not None else None
        self._env = environment.name if environment is not None else ""
        self._stores = stores

    def resolve(self, ref: str) -> str | None:
        """The value of placeholder ``ref``, or ``None`` when it is not available here.

        Raises :class:`ConfigError` when ``ref`` is outside the boundary or its value is too short."""
        violation = check_boundary(ref, self._settings, self._env)
        if violation is not None:
            raise _refuse(violation)
        root = self._settings.file_root if self._settings is not None else None
        return _check_length(ref, self._read(ref, root))

    def resolve_credential(self, ref: str) -> str | None:
        """The value of one of the deployer's own credentials (``api.token``, ``secrets.hmacKey``).

        Outside the placeholder boundary (these refs are exactly what placeholders may not read);
        files are read relative to the working directory.  Too-short values are refused all the same."""
        return _check_length(ref, self._read(ref, None))

    def _read(self, ref: str, file_root: str | None) -> str | None:
        provider, _, rest = ref.partition("/")
        if provider == "file" and rest:
            return _read_file(rest, file_root)
        if store_of(ref) is not None:
            return self._stores.fetch(ref) if self._stores is not None else None
        if provider in PROVIDERS or not _ENV_NAME.fullmatch(ref):
            return None
        return self._environ.get(ref) or None


def resolve_credential(resolver: SecretResolver, ref: str) -> str | None:
    """``resolver``'s value for one of the deployer's own credentials (see
    :meth:`EnvSecretResolver.resolve_credential`); a resolver without that method resolves it plainly."""
    own = getattr(resolver, "resolve_credential", None)
    value = own(ref) if callable(own) else resolver.resolve(ref)
    return value if isinstance(value, str) else None


STORE_HINTS = {
    "vault": "store the key in the env's Vault (KV v2 path {rest}, below secrets.vault.mount) and give the run an "
    "identity: in GitHub Actions `permissions: id-token: write` with secrets.vault.auth {{method: jwt, role: …}}, "
    "locally VAULT_TOKEN",
    "aws": "store the secret {rest} in the env's Secrets Manager (secrets.aws.region) and give the run an identity: "
    "in GitHub Actions `permissions: id-token: write` with secrets.aws.roleArn, locally the AWS credential chain "
    "(AWS_PROFILE, aws sso login, AWS_ACCESS_KEY_ID); needs the `aws` extra",
    "gcp": "store the secret {rest} in the env's project (secrets.gcp.project) and give the run an identity: in "
    "GitHub Actions `permissions: id-token: write` with secrets.gcp.workloadIdentityProvider, locally "
    "application-default credentials (gcloud auth application-default login) or GOOGLE_OAUTH_ACCESS_TOKEN",
}


def hint_for(ref: str) -> str:
    """What to do so that ``secrets://ref`` resolves here (never names a value)."""
    provider, _, rest = ref.partition("/")
    if provider == "file" and rest:
        return f"create the file {rest} (relative to the working directory, below secrets.fileRoot) holding the secret"
    if provider in STORE_HINTS:
        return STORE_HINTS[provider].format(rest=rest)
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
                raise ConfigError(f"secret secrets://{ref} cannot be resolved here", hint=hint_for(ref))
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
