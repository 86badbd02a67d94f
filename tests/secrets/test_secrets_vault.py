"""``secrets://vault/PATH#KEY`` against a real OpenBao (Vault's API) on loopback, with the job's identity
from a GitHub OIDC stand-in (JWT auth) or a plain token (local runs)."""

from __future__ import annotations

import secrets as random
from typing import Any

import httpx
import pytest

from ci_deployer.errors import SecretStoreError
from ci_deployer.secrets.stores import SecretStores
from ci_deployer.settings import CloudCredentials
from support.secret_peers import OidcIssuer, OpenBao, environment


def stores(
    block: dict[str, Any],
    environ: dict[str, str],
    env: str = "dev",
    transport: httpx.BaseTransport | None = None,
) -> tuple[SecretStores, list[str]]:
    """The env's stores and the list of credentials they handed over for masking."""
    masked: list[str] = []
    built = SecretStores(
        environment(block, env).secrets,
        env,
        CloudCredentials.from_environ(environ),
        masked.append,
        transport=transport,
        sleep=lambda _s: None,
    )
    return built, masked


@pytest.fixture
def vault(bao: OpenBao, issuer: OidcIssuer) -> dict[str, Any]:
    """A JWT mount of its own trusting this test's issuer, a dev role reading dev/* only, and secrets."""
    mount = "jwt-" + random.token_hex(4)
    bao.trust(issuer, mount)
    bao.role("dev-" + mount, env="dev", audience=bao.url, paths="secret/data/dev/*", mount=mount)
    bao.role("prod-" + mount, env="prod", audience=bao.url, paths="secret/data/prod/*", mount=mount)
    bao.put_secret("dev/orders", {"token": "dev-orders-token-1234", "port": 8443})
    bao.put_secret("prod/orders", {"token": "prod-orders-token-5678"})
    return {"address": bao.url, "auth": {"method": "jwt", "role": "dev-" + mount, "mount": mount}}


def test_a_job_logs_in_with_its_oidc_token_and_reads_a_key(
    vault: dict[str, Any], issuer: OidcIssuer, bao: OpenBao
) -> None:
    store, masked = stores({"vault": vault}, issuer.environ)
    assert store.available("vault/dev/orders#token")
    assert store.fetch("vault/dev/orders#token") == "dev-orders-token-1234"
    assert store.fetch("vault/dev/orders#port") == "8443"  # non-string values as JSON text
    assert issuer.audiences == [bao.url]  # the default audience: the Vault address, one token per run
    # The OIDC request token, the JWT and the Vault token were all handed over to be masked.
    assert issuer.request_token in masked and issuer.issued[0] in masked
    assert len(masked) == 3


def test_each_value_is_fetched_once_per_run(vault: dict[str, Any], issuer: OidcIssuer) -> None:
    transport = Throttling("", 0, 429)  # throttles nothing: records every request
    store, _ = stores({"vault": vault}, issuer.environ, transport=transport)
    for _ in range(3):
        assert store.fetch("vault/dev/orders#token") == "dev-orders-token-1234"
        assert store.fetch("vault/dev/orders#port") == "8443"
    assert [s for s in transport.seen if "/v1/" in s] == [
        f"POST /v1/auth/{vault['auth']['mount']}/login",
        "GET /v1/secret/data/dev/orders",
    ]
    transport.close()


def test_a_dev_job_cannot_read_prod_paths_nor_log_in_to_the_prod_role(
    vault: dict[str, Any], issuer: OidcIssuer
) -> None:
    store, _ = stores({"vault": vault}, issuer.environ)
    with pytest.raises(SecretStoreError, match="Vault denied reading secret/data/prod/orders") as denied:
        store.fetch("vault/prod/orders#token")
    assert "environment 'dev'" in str(denied.value) and "(vault" in str(denied.value)
    prod_role = {**vault, "auth": {**vault["auth"], "role": vault["auth"]["role"].replace("dev-", "prod-")}}
    store, _ = stores({"vault": prod_role}, issuer.environ)  # the job's environment claim is dev
    with pytest.raises(SecretStoreError, match="refused the JWT login") as refused:
        store.fetch("vault/prod/orders#token")
    assert "bound_audiences" in (refused.value.hint or "")


def test_absent_paths_are_not_resolvable_and_absent_keys_are_errors(vault: dict[str, Any], issuer: OidcIssuer) -> None:
    store, _ = stores({"vault": vault}, issuer.environ)
    assert store.fetch("vault/dev/nothing-here#token") is None
    with pytest.raises(SecretStoreError, match=r"no key 'tokn' \(its keys: port, token\)") as info:
        store.fetch("vault/dev/orders#tokn")
    assert "dev-orders-token" not in str(info.value)


def test_locally_a_vault_token_is_used(bao: OpenBao) -> None:
    bao.put_secret("local/app", {"password": "local-password-9876"})
    token = bao.token_for("secret/data/local/*")
    block = {"vault": {"address": bao.url, "auth": {"method": "jwt", "role": "unused"}}}
    store, masked = stores(block, {"VAULT_TOKEN": token})  # no OIDC variables: not in a job
    assert store.fetch("vault/local/app#password") == "local-password-9876"
    assert masked == [token]
    nobody, _ = stores(block, {})  # neither: not resolvable here, without a request
    assert not nobody.available("vault/local/app#password")
    assert nobody.fetch("vault/local/app#password") is None


def test_a_custom_kv_mount_and_a_mount_that_is_not_kv_v2(bao: OpenBao) -> None:
    mount = "kv-" + random.token_hex(4)
    bao.api("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})
    bao.put_secret("app", {"key": "custom-mount-value-1"}, mount=mount)
    v1 = "kv1-" + random.token_hex(4)
    bao.api("POST", f"sys/mounts/{v1}", {"type": "kv", "options": {"version": "1"}})
    bao.api("POST", f"{v1}/data/app", {"key": "v1-value-123456"})
    env = {"VAULT_TOKEN": bao.root_token}
    store, _ = stores({"vault": {"address": bao.url, "mount": mount}}, env)
    assert store.fetch("vault/app#key") == "custom-mount-value-1"
    store, _ = stores({"vault": {"address": bao.url, "mount": v1}}, env)
    with pytest.raises(SecretStoreError, match="not a KV version 2 secret"):
        store.fetch("vault/app#key")


class Throttling(httpx.BaseTransport):
    """Answers the first ``n`` requests of ``path`` with ``status`` (Vault's rate-limit quota, or a
    standby), then lets them through to the real server."""

    def __init__(self, path: str, n: int, status: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.path, self.left, self.status = path, n, status
        self.throttled = 0
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        if request.url.path == self.path and self.left > 0:
            self.left -= 1
            self.throttled += 1
            return httpx.Response(self.status, json={"errors": ["request path: rate limit quota exceeded"]})
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_is_retried(vault: dict[str, Any], issuer: OidcIssuer, status: int) -> None:
    transport = Throttling("/v1/secret/data/dev/orders", 2, status)
    store, _ = stores({"vault": vault}, issuer.environ, transport=transport)
    assert store.fetch("vault/dev/orders#token") == "dev-orders-token-1234"
    assert transport.throttled == 2
    transport.close()


def test_an_unreachable_vault_names_the_placeholder_env_and_provider(issuer: OidcIssuer) -> None:
    from support.secret_peers import free_port

    block = {"vault": {"address": f"http://127.0.0.1:{free_port()}", "auth": {"method": "token"}}}
    store, _ = stores(block, {"VAULT_TOKEN": "hvs.local-token-value"})
    with pytest.raises(SecretStoreError) as info:
        store.fetch("vault/dev/orders#token")
    message = str(info.value)
    assert message.startswith("secrets://vault/dev/orders#token (vault, environment 'dev'): GET /v1/secret/data")
    assert "no answer" in message and "hvs.local-token-value" not in message


def test_github_refusing_the_oidc_request_is_explained(vault: dict[str, Any], issuer: OidcIssuer) -> None:
    environ = {**issuer.environ, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong-request-token"}
    store, _ = stores({"vault": vault}, environ)
    with pytest.raises(SecretStoreError, match="id-token: write"):
        store.fetch("vault/dev/orders#token")
    assert issuer.refusals == 1
