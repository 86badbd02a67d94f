"""``secrets://gcp/NAME[#VERSION]`` against a loopback Secret Manager (REST ``versions.access``, base64
``payload.data``), with an access token (local runs) or Workload Identity Federation from the job's
GitHub OIDC token (Google STS and IAM Credentials stand-ins)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_deployer.errors import SecretStoreError
from ci_deployer.secrets.gcp import GcpStore
from ci_deployer.secrets.oidc import GitHubOidc
from ci_deployer.secrets.stores import SecretStores
from ci_deployer.settings import CloudCredentials
from support.secret_peers import GoogleCloud, OidcIssuer, environment

PROVIDER = "projects/123456/locations/global/workloadIdentityPools/github/providers/github"
ACCOUNT = "deployer@acme-dev.iam.gserviceaccount.com"


def stores(block: dict[str, Any], environ: dict[str, str]) -> tuple[SecretStores, list[str]]:
    masked: list[str] = []
    built = SecretStores(
        environment(block).secrets, "dev", CloudCredentials.from_environ(environ), masked.append, sleep=lambda _s: None
    )
    return built, masked


@pytest.fixture
def seeded(gcloud: GoogleCloud) -> GoogleCloud:
    gcloud.add("acme-dev", "orders-token", "gcp-orders-v1-1234", "gcp-orders-v2-5678")
    gcloud.add("acme-prod", "orders-token", "gcp-prod-orders-9012")
    gcloud.tokens["ya29.local-access-token"] = {"acme-dev"}
    return gcloud


def test_an_access_token_reads_the_latest_or_a_given_version(seeded: GoogleCloud) -> None:
    block = {"gcp": {"project": "acme-dev", "endpoint": seeded.url}}
    store, masked = stores(block, {"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.local-access-token"})
    assert store.available("gcp/orders-token")
    assert store.fetch("gcp/orders-token") == "gcp-orders-v2-5678"
    assert store.fetch("gcp/orders-token#latest") == "gcp-orders-v2-5678"
    assert store.fetch("gcp/orders-token#1") == "gcp-orders-v1-1234"
    assert store.fetch("gcp/absent") is None
    assert store.fetch("gcp/orders-token#9") is None
    assert masked == ["ya29.local-access-token"]
    # One request per (name, version), whatever the number of reads.
    store.fetch("gcp/orders-token")
    assert seeded.requests.count("GET /v1/projects/acme-dev/secrets/orders-token/versions/latest:access") == 1


def test_the_env_reads_its_own_project_only(seeded: GoogleCloud) -> None:
    store, _ = stores(
        {"gcp": {"project": "acme-prod", "endpoint": seeded.url}},
        {"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.local-access-token"},
    )
    with pytest.raises(SecretStoreError, match="Secret Manager denied access") as info:
        store.fetch("gcp/orders-token")
    assert "secretAccessor" in (info.value.hint or "") and "gcp-prod" not in str(info.value)


def test_throttling_is_retried(seeded: GoogleCloud) -> None:
    seeded.throttle = 3
    store, _ = stores(
        {"gcp": {"project": "acme-dev", "endpoint": seeded.url}},
        {"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.local-access-token"},
    )
    assert store.fetch("gcp/orders-token#1") == "gcp-orders-v1-1234"
    assert seeded.throttle == 0


def test_a_job_federates_its_oidc_token_and_impersonates_the_service_account(
    seeded: GoogleCloud, issuer: OidcIssuer
) -> None:
    seeded.federate(issuer, PROVIDER, ACCOUNT, {"acme-dev"})
    block = {
        "project": "acme-dev",
        "endpoint": seeded.url,
        "workloadIdentityProvider": PROVIDER,
        "serviceAccount": ACCOUNT,
    }
    settings = environment({"gcp": block}).secrets.gcp
    masked: list[str] = []
    credentials = CloudCredentials.from_environ(issuer.environ)
    store = GcpStore(
        settings,
        "dev",
        credentials,
        GitHubOidc(credentials, masked.append),
        masked.append,
        sts_url=f"{seeded.url}/v1/token",
        iam_credentials_url=seeded.url,
    )
    from ci_deployer.secrets.base import parse_ref

    ref = parse_ref("gcp/orders-token")
    assert ref is not None and store.available()
    assert store.fetch(ref) == "gcp-orders-v2-5678"
    assert issuer.audiences == [f"https://iam.googleapis.com/{PROVIDER}"]  # as google-github-actions/auth asks
    assert "POST /v1/token" in seeded.requests
    assert f"POST /v1/projects/-/serviceAccounts/{ACCOUNT}:generateAccessToken" in seeded.requests
    impersonated = [t for t in seeded.tokens if t.startswith("sa-")]
    assert impersonated and impersonated[0] in masked and issuer.issued[0] in masked


class ToLoopback(httpx.BaseTransport):
    """Sends requests for Google's hosts to the loopback stand-in (google-auth pins some token URIs,
    e.g. an authorized-user file's, to https://oauth2.googleapis.com/token)."""

    def __init__(self, url: str) -> None:
        self.target = httpx.URL(url)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.endswith("googleapis.com"):
            request.url = request.url.copy_with(scheme="http", host=self.target.host, port=self.target.port)
            request.headers["host"] = f"{self.target.host}:{self.target.port}"
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_application_default_credentials_from_a_file(seeded: GoogleCloud, tmp_path: Path) -> None:
    """An authorized-user ADC file (what `gcloud auth application-default login` writes): google-auth
    refreshes it at Google's token endpoint, through the store's httpx transport."""
    seeded.tokens["ya29.refreshed-adc-token"] = {"acme-dev"}
    seeded.oauth_tokens["adc-refresh-token-1234"] = "ya29.refreshed-adc-token"
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "cid.apps.googleusercontent.com",
                "client_secret": "adc-client-secret",
                "refresh_token": "adc-refresh-token-1234",
            }
        )
    )
    masked: list[str] = []
    transport = ToLoopback(seeded.url)
    store = SecretStores(
        environment({"gcp": {"project": "acme-dev"}}).secrets,  # the real API URL, sent to loopback
        "dev",
        CloudCredentials.from_environ({"GOOGLE_APPLICATION_CREDENTIALS": str(adc)}),
        masked.append,
        transport=transport,
    )
    assert store.fetch("gcp/orders-token#1") == "gcp-orders-v1-1234"
    assert masked == ["ya29.refreshed-adc-token"]
    assert seeded.requests[:2] == [
        "POST /token",
        "GET /v1/projects/acme-dev/secrets/orders-token/versions/1:access",
    ]
    transport.close()


def test_an_unusable_credentials_file_is_an_error(seeded: GoogleCloud, tmp_path: Path) -> None:
    for content, words in (("{not json", "readable JSON"), ('{"type": "gdch_service_account"}', "does not load")):
        (tmp_path / "c.json").write_text(content)
        store, _ = stores(
            {"gcp": {"project": "acme-dev", "endpoint": seeded.url}},
            {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "c.json")},
        )
        with pytest.raises(SecretStoreError, match=words):
            store.fetch("gcp/orders-token")


def test_a_missing_extra_is_an_error_naming_it(seeded: GoogleCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)
    store, _ = stores(
        {"gcp": {"project": "acme-dev", "endpoint": seeded.url}},
        {"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent.json"},
    )
    with pytest.raises(SecretStoreError, match=r"needs the `gcp` extra \(google-auth\)") as info:
        store.fetch("gcp/orders-token")
    assert "pip install 'ci-deployer[gcp]'" in (info.value.hint or "")
    # An access token needs no extra at all.
    token_only, _ = stores(
        {"gcp": {"project": "acme-dev", "endpoint": seeded.url}},
        {"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.local-access-token"},
    )
    assert token_only.fetch("gcp/orders-token#1") == "gcp-orders-v1-1234"
