"""One env's secret stores: built from its ``secrets:`` block on first use, each value fetched once.

The composition root builds one :class:`SecretStores` per run and env (``compose.secret_resolver``)
and hands it to the env-bound resolver (``config/secrets.py``), which has already checked the
placeholder against the boundary.  A store the env's block does not configure is never built: its
placeholders are refused (a validate error naming the env and the provider).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ci_deployer.errors import SecretStoreError
from ci_deployer.secrets.base import BLOCK_EXAMPLE, SecretStore, parse_ref, ref_problem, store_of
from ci_deployer.secrets.oidc import GitHubOidc
from ci_deployer.settings import CloudCredentials

if TYPE_CHECKING:
    from ci_deployer.config.model import SecretSettings


class SecretStores:
    """The stores one env configures, with a per-run cache of the values they gave."""

    def __init__(
        self,
        settings: SecretSettings,
        env: str,
        credentials: CloudCredentials,
        on_credential: Callable[[str], None],
        *,
        transport: object = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._env = env
        self._credentials = credentials
        self._on_credential = on_credential
        self._transport = transport
        self._sleep = sleep
        self._oidc = GitHubOidc(credentials, on_credential, transport=transport, sleep=sleep)
        self._stores: dict[str, SecretStore] = {}
        self._values: dict[str, str | None] = {}
        self._lock = threading.Lock()  # apply resolves from worker threads: one fetch per ref

    def configured(self, store: str) -> bool:
        """Whether the env's block configures ``store`` (vault, aws or gcp)."""
        return getattr(self._settings, store, None) is not None

    def available(self, ref: str) -> bool:
        """Whether this run has an identity for ``ref``'s store (no request is made)."""
        store = store_of(ref)
        return store is not None and self.configured(store) and self._store(store).available()

    def fetch(self, ref: str) -> str | None:
        """The value of store reference ``ref`` (once per run), or None when not resolvable here."""
        with self._lock:
            if ref not in self._values:
                self._values[ref] = self._fetch(ref)
            return self._values[ref]

    def _fetch(self, ref: str) -> str | None:
        store = store_of(ref)
        parsed = parse_ref(ref)
        if store is None or parsed is None:
            raise SecretStoreError(store or "?", self._env, ref, f"malformed reference: write {ref_problem(ref)}")
        if not self.configured(store):
            raise SecretStoreError(
                store,
                self._env,
                ref,
                f"environment {self._env!r} configures no {store} secret store",
                hint=f"add it to the env's block, e.g. `{BLOCK_EXAMPLE[store]}`",
            )
        return self._store(store).fetch(parsed)

    def _store(self, store: str) -> SecretStore:
        if store not in self._stores:
            self._stores[store] = self._build(store)
        return self._stores[store]

    def _build(self, store: str) -> SecretStore:
        common = (self._env, self._credentials, self._oidc, self._on_credential)
        if store == "vault":
            from ci_deployer.secrets.vault import VaultStore

            assert self._settings.vault is not None
            return VaultStore(self._settings.vault, *common, transport=self._transport, sleep=self._sleep)
        if store == "aws":
            from ci_deployer.secrets.aws import AwsStore

            assert self._settings.aws is not None
            return AwsStore(self._settings.aws, *common)
        from ci_deployer.secrets.gcp import GcpStore

        assert self._settings.gcp is not None
        return GcpStore(self._settings.gcp, *common, transport=self._transport, sleep=self._sleep)
