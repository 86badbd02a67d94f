"""``secrets://aws/NAME[#KEY]`` against moto's server (Secrets Manager and STS) on loopback: the job's
GitHub OIDC token exchanged with ``AssumeRoleWithWebIdentity``, or static credentials (local runs)."""

from __future__ import annotations

import json
import secrets as random
import sys
from typing import Any

import httpx
import pytest

from ci_deployer.errors import SecretStoreError
from ci_deployer.secrets.stores import SecretStores
from ci_deployer.settings import CloudCredentials
from support.loopback import LoopbackServer, Reply, Request
from support.secret_peers import OidcIssuer, aws_client, environment

ROLE = "arn:aws:iam::123456789012:role/ci-deployer-dev"


def stores(block: dict[str, Any], environ: dict[str, str]) -> tuple[SecretStores, list[str]]:
    masked: list[str] = []
    built = SecretStores(
        environment(block).secrets, "dev", CloudCredentials.from_environ(environ), masked.append, sleep=lambda _s: None
    )
    return built, masked


@pytest.fixture
def seeded(moto_url: str) -> str:
    """A unique prefix under which moto holds a JSON secret, a plain one and a binary one."""
    prefix = "t" + random.token_hex(4)
    client = aws_client(moto_url)
    client.create_secret(Name=f"{prefix}/orders", SecretString=json.dumps({"token": "aws-orders-token-1234", "n": 7}))
    client.create_secret(Name=f"{prefix}/plain", SecretString="aws-plain-value-5678")
    client.create_secret(Name=f"{prefix}/binary", SecretBinary=b"aws-binary-value-9012")
    client.create_secret(Name=f"{prefix}/list", SecretString="[1, 2]")
    return prefix


def test_a_job_assumes_its_role_with_the_oidc_token(moto_url: str, seeded: str, issuer: OidcIssuer) -> None:
    store, masked = stores({"aws": {"region": "us-east-1", "roleArn": ROLE, "endpoint": moto_url}}, issuer.environ)
    assert store.available(f"aws/{seeded}/orders#token")
    assert store.fetch(f"aws/{seeded}/orders#token") == "aws-orders-token-1234"
    assert store.fetch(f"aws/{seeded}/orders#n") == "7"
    assert store.fetch(f"aws/{seeded}/plain") == "aws-plain-value-5678"  # no key: the whole string
    assert store.fetch(f"aws/{seeded}/binary") == "aws-binary-value-9012"
    assert issuer.audiences == ["sts.amazonaws.com"]  # as aws-actions/configure-aws-credentials asks
    # The OIDC request token, the JWT, and the temporary secret key and session token were masked.
    assert issuer.request_token in masked and issuer.issued[0] in masked and len(masked) == 4


def test_locally_static_credentials_are_used(moto_url: str, seeded: str) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AKIALOCAL", "AWS_SECRET_ACCESS_KEY": "local-secret-access-key"}
    store, masked = stores({"aws": {"region": "us-east-1", "roleArn": ROLE, "endpoint": moto_url}}, environ)
    assert store.fetch(f"aws/{seeded}/plain") == "aws-plain-value-5678"
    assert masked == ["local-secret-access-key"]


def test_absent_secrets_are_not_resolvable_and_bad_keys_are_errors(moto_url: str, seeded: str) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AKIALOCAL", "AWS_SECRET_ACCESS_KEY": "local-secret-access-key"}
    store, _ = stores({"aws": {"region": "us-east-1", "endpoint": moto_url}}, environ)
    assert store.fetch(f"aws/{seeded}/absent") is None
    with pytest.raises(SecretStoreError, match=r"has no key 'tokn' \(its keys: n, token\)") as info:
        store.fetch(f"aws/{seeded}/orders#tokn")
    assert "aws-orders-token" not in str(info.value) and "environment 'dev'" in str(info.value)
    with pytest.raises(SecretStoreError, match="not a JSON object") as not_json:
        store.fetch(f"aws/{seeded}/list#a")
    assert not_json.value.hint == f"write secrets://aws/{seeded}/list for the whole string"


class Throttled:
    """A loopback peer answering the first ``n`` Secrets Manager calls with ThrottlingException (as
    AWS's JSON protocol does: HTTP 400, ``__type``), then passing every request on to moto."""

    def __init__(self, moto_url: str, n: int) -> None:
        self.moto_url, self.left, self.throttled = moto_url, n, 0
        self.server = LoopbackServer(self.handle)

    def handle(self, request: Request) -> Reply:
        target = request.headers.get("x-amz-target", "")
        if target.startswith("secretsmanager.") and self.left > 0:
            self.left -= 1
            self.throttled += 1
            body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
            return Reply(400, json.dumps(body).encode(), {"Content-Type": "application/x-amz-json-1.1"})
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        answer = httpx.request(request.method, self.moto_url + request.target, headers=headers, content=request.body)
        return Reply(answer.status_code, answer.content, {"Content-Type": answer.headers.get("content-type", "")})


def test_throttling_is_retried(moto_url: str, seeded: str) -> None:
    peer = Throttled(moto_url, 2)
    environ = {"AWS_ACCESS_KEY_ID": "AKIALOCAL", "AWS_SECRET_ACCESS_KEY": "local-secret-access-key"}
    store, _ = stores({"aws": {"region": "us-east-1", "endpoint": peer.server.url}}, environ)
    try:
        assert store.fetch(f"aws/{seeded}/plain") == "aws-plain-value-5678"
    finally:
        peer.server.stop()
    assert peer.throttled == 2


def test_sts_refusing_the_role_names_the_role_and_the_trust_policy(issuer: OidcIssuer) -> None:
    def refuse(request: Request) -> Reply:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            "<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>"
        )
        return Reply(403, body.encode(), {"Content-Type": "text/xml"})

    sts = LoopbackServer(refuse)
    store, _ = stores({"aws": {"region": "us-east-1", "roleArn": ROLE, "endpoint": sts.url}}, issuer.environ)
    try:
        with pytest.raises(SecretStoreError, match="STS refused AssumeRoleWithWebIdentity") as info:
            store.fetch("aws/orders#token")
    finally:
        sts.stop()
    assert ROLE in str(info.value) and "trust policy" in (info.value.hint or "")
    assert issuer.issued[0] not in str(info.value)


def test_a_missing_extra_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 → ImportError
    environ = {"AWS_ACCESS_KEY_ID": "AKIALOCAL", "AWS_SECRET_ACCESS_KEY": "local-secret-access-key"}
    store, _ = stores({"aws": {"region": "us-east-1"}}, environ)
    with pytest.raises(SecretStoreError, match=r"needs the `aws` extra \(boto3\)") as info:
        store.fetch("aws/orders#token")
    assert "pip install 'ci-deployer[aws]'" in (info.value.hint or "")
