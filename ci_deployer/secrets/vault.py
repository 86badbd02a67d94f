"""``secrets://vault/PATH#KEY``: a key of a KV v2 secret in HashiCorp Vault (or OpenBao).

Two HTTP calls, over httpx (already a dependency; hvac would add requests and a second HTTP stack
for what is one login and one read, and could not take the transport the tests inject):

* login, when the env's ``auth.method`` is ``jwt`` and the job has a GitHub OIDC token:
  ``POST /v1/auth/<auth mount>/login`` with ``{"role", "jwt"}`` → ``auth.client_token``
  (Vault docs, "JWT/OIDC auth method (API)"); otherwise ``VAULT_TOKEN`` (a developer's
  ``vault login``); with neither, placeholders are "not resolvable here";
* read: ``GET /v1/<mount>/data/<PATH>`` with ``X-Vault-Token`` (and ``X-Vault-Namespace``) →
  ``data.data`` holds the keys (Vault docs, "KV secrets engine - version 2 (API)").  One read per
  PATH per run, whatever the number of keys used.

404 is "no such secret here" (``None``): the same placeholder planned in dev reads dev's Vault, where
a prod path is absent.  403 and other errors are :class:`SecretStoreError` with Vault's message.
429 (rate-limit quotas) and 503 (sealed, standby) are retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ci_deployer.config.model import VaultSettings
from ci_deployer.errors import SecretStoreError
from ci_deployer.secrets.base import TIMEOUT, StoreRef, as_text, error_text, send
from ci_deployer.secrets.oidc import GitHubOidc
from ci_deployer.settings import CloudCredentials


class VaultStore:
    """One env's Vault (``secrets.vault``)."""

    def __init__(
        self,
        settings: VaultSettings,
        env: str,
        credentials: CloudCredentials,
        oidc: GitHubOidc,
        on_credential: Callable[[str], None],
        *,
        transport: object = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._env = env
        self._static_token = credentials.vault_token
        self._oidc = oidc
        self._on_credential = on_credential
        self._transport = transport
        self._sleep = sleep
        self._token: str | None = None
        self._paths: dict[str, dict[str, Any] | None] = {}

    def _uses_jwt(self) -> bool:
        return self._settings.auth_method == "jwt" and self._oidc.available

    def available(self) -> bool:
        return self._uses_jwt() or bool(self._static_token)

    def fetch(self, ref: StoreRef) -> str | None:
        if ref.name not in self._paths:
            self._paths[ref.name] = self._read(ref)
        data = self._paths[ref.name]
        if data is None:
            return None
        assert ref.key is not None
        if ref.key not in data:
            known = ", ".join(sorted(data)) or "none"
            raise self._error(ref, f"the secret at {ref.name} has no key {ref.key!r} (its keys: {known})")
        return as_text(data[ref.key])

    # -- HTTP ------------------------------------------------------------------------------------------

    def _error(self, ref: StoreRef, message: str, hint: str | None = None) -> SecretStoreError:
        return SecretStoreError("vault", self._env, ref.ref, message, hint=hint)

    def _url(self, path: str) -> str:
        return f"{self._settings.address.rstrip('/')}/v1/{path}"

    def _headers(self, token: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._settings.namespace:
            headers["X-Vault-Namespace"] = self._settings.namespace
        if token:
            headers["X-Vault-Token"] = token
        return headers

    def _read(self, ref: StoreRef) -> dict[str, Any] | None:
        import httpx

        def failed(reason: str) -> SecretStoreError:
            return self._error(ref, reason, hint=f"check that {self._settings.address} is reachable from this run")

        with httpx.Client(transport=self._transport, timeout=TIMEOUT) as client:  # type: ignore[arg-type]
            token = self._login(client, ref, failed)
            if token is None:
                return None
            url = self._url(f"{self._settings.mount}/data/{ref.name}")
            response = send(client, "GET", url, failed, sleep=self._sleep, headers=self._headers(token))
        if response.status_code == 404:
            return None
        if response.status_code == 403:
            raise self._error(
                ref,
                f"Vault denied reading {self._settings.mount}/data/{ref.name} ({error_text(response)})",
                hint="grant the token's policy `read` on that path (KV v2 paths start with <mount>/data/)",
            )
        if response.status_code != 200:
            raise self._error(ref, f"Vault answered {error_text(response)}")
        try:
            data = response.json()["data"]["data"]
        except (ValueError, KeyError, TypeError):
            data = None
        if not isinstance(data, dict):
            raise self._error(
                ref,
                f"{self._settings.mount}/data/{ref.name} is not a KV version 2 secret",
                hint=f"secrets.vault.mount must name a KV v2 engine (it is {self._settings.mount!r})",
            )
        return data

    def _login(self, client: Any, ref: StoreRef, failed: Callable[[str], SecretStoreError]) -> str | None:
        """The Vault token: JWT login with the GitHub OIDC token, else VAULT_TOKEN, else None."""
        if self._token is not None:
            return self._token
        if not self._uses_jwt():
            if self._static_token:
                self._on_credential(self._static_token)
                self._token = self._static_token
            return self._token
        audience = self._settings.audience or self._settings.address.rstrip("/")
        jwt = self._oidc.token(audience, failed)
        url = self._url(f"auth/{self._settings.auth_mount}/login")
        body = {"role": self._settings.role, "jwt": jwt}
        response = send(client, "POST", url, failed, sleep=self._sleep, headers=self._headers(), json=body)
        if response.status_code != 200:
            raise self._error(
                ref,
                f"Vault refused the JWT login to role {self._settings.role!r} ({error_text(response)})",
                hint=f"the role must be of auth/{self._settings.auth_mount}, list {audience!r} in bound_audiences "
                "and bind claims this job has (repository, environment, ref)",
            )
        try:
            token = response.json()["auth"]["client_token"]
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise self._error(ref, "Vault's login answer carries no client token")
        self._on_credential(token)
        self._token = token
        return token
