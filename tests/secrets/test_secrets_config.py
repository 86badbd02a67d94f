"""The providers' configuration (``secrets.vault|aws|gcp``), their reference syntax, and the boundary
around their credentials — parser, schema and resolver agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ci_deployer.config.model import AwsSettings, GcpSettings, VaultSettings
from ci_deployer.config.secrets import EnvSecretResolver, check_boundary
from ci_deployer.errors import ConfigError
from ci_deployer.secrets.base import parse_ref, ref_problem
from support.secret_peers import environment, environments

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "environments.schema.json").read_text(encoding="utf-8"))

FULL = {
    "vault": {
        "address": "https://vault.acme.example:8200",
        "mount": "kv/apps",
        "namespace": "acme/prod",
        "auth": {"method": "jwt", "role": "ci-deployer-prod", "mount": "github", "audience": "vault.acme"},
    },
    "aws": {
        "region": "eu-west-1",
        "roleArn": "arn:aws:iam::123456789012:role/ci-deployer-prod",
        "audience": "sts.amazonaws.com",
        "endpoint": "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com",
    },
    "gcp": {
        "project": "acme-prod",
        "workloadIdentityProvider": "projects/123/locations/global/workloadIdentityPools/github/providers/github",
        "serviceAccount": "deployer@acme-prod.iam.gserviceaccount.com",
    },
}


def schema_errors(block: dict[str, Any]) -> list[str]:
    doc = {"apiVersion": "ci-deployer/v1", "environments": {"prod": {"org": "acme-prod", "secrets": block}}}
    return [e.message for e in Draft202012Validator(SCHEMA).iter_errors(doc)]


def test_a_full_block_parses_into_settings_and_fits_the_schema() -> None:
    secrets = environment(FULL, "prod").secrets
    assert secrets.vault == VaultSettings(
        "https://vault.acme.example:8200", "kv/apps", "acme/prod", "jwt", "github", "ci-deployer-prod", "vault.acme"
    )
    assert secrets.aws == AwsSettings(
        "eu-west-1",
        "arn:aws:iam::123456789012:role/ci-deployer-prod",
        "sts.amazonaws.com",
        "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com",
    )
    assert secrets.gcp == GcpSettings(
        "acme-prod",
        None,
        "projects/123/locations/global/workloadIdentityPools/github/providers/github",
        "deployer@acme-prod.iam.gserviceaccount.com",
    )
    assert schema_errors(FULL) == []
    minimal = environment({"vault": {"address": "http://127.0.0.1:8200"}}).secrets.vault
    assert minimal == VaultSettings("http://127.0.0.1:8200")  # KV v2 at secret/, VAULT_TOKEN


@pytest.mark.parametrize(
    ("block", "code", "words"),
    [
        ({"vault": {"mount": "secret"}}, "E-ENV-SECRETS-PROVIDER", "secrets.vault needs address"),
        ({"vault": {"address": "vault.acme.example"}}, "E-ENV-VALUE", "secrets.vault.address is not valid"),
        ({"vault": {"address": "https://u:p@vault.acme"}}, "E-ENV-VALUE", "secrets.vault.address is not valid"),
        ({"vault": {"address": "https://v.acme", "auth": {"method": "approle"}}}, "E-ENV-VALUE", "auth.method"),
        ({"vault": {"address": "https://v.acme", "auth": {"method": "jwt"}}}, "E-ENV-SECRETS-PROVIDER", "needs a role"),
        ({"vault": {"address": "https://v.acme", "auth": {"rol": "x"}}}, "E-ENV-UNKNOWN-KEY", "did you mean 'role'"),
        ({"vault": {"address": "https://v.acme", "token": "hvs.x"}}, "E-ENV-UNKNOWN-KEY", "unknown key 'token'"),
        ({"aws": {"roleArn": "arn:aws:iam::123456789012:role/x"}}, "E-ENV-SECRETS-PROVIDER", "needs region"),
        ({"aws": {"region": "Europe"}}, "E-ENV-VALUE", "secrets.aws.region is not valid"),
        ({"aws": {"region": "us-east-1", "accessKeyId": "AKIA"}}, "E-ENV-UNKNOWN-KEY", "accessKeyId"),
        ({"gcp": {"project": "Acme Prod"}}, "E-ENV-VALUE", "secrets.gcp.project is not valid"),
        (
            {"gcp": {"project": "acme-prod", "serviceAccount": "a@b.iam.gserviceaccount.com"}},
            "E-ENV-SECRETS-PROVIDER",
            "Workload Identity Federation",
        ),
        ({"gcp": "acme-prod"}, "E-ENV-TYPE", "secrets.gcp must be a map"),
    ],
)
def test_bad_blocks_are_located_findings_and_schema_errors(block: dict[str, Any], code: str, words: str) -> None:
    _, findings = environments({"dev": block})
    assert [f.code for f in findings] == [code], findings
    assert words in findings[0].message + findings[0].hint and findings[0].line is not None
    assert schema_errors(block) != []  # editors flag it too


def test_defaults_and_env_blocks_merge() -> None:
    from ci_deployer.config.environments import parse_environments
    from ci_deployer.config.yamlsource import parse_text

    text = """\
apiVersion: ci-deployer/v1
defaults:
  secrets:
    vault: {address: https://vault.acme.example, auth: {method: jwt}}
environments:
  dev:
    org: acme-dev
    api: {url: embedded}
    secrets: {vault: {auth: {role: ci-deployer-dev}}}
  prod:
    org: acme-prod
    api: {url: embedded}
    secrets: {vault: {mount: prod-kv, auth: {role: ci-deployer-prod}}}
"""
    parsed = parse_text(text)
    envs, _, findings = parse_environments(parsed.data, parsed.positions)
    assert findings == []
    dev, prod = envs["dev"].secrets.vault, envs["prod"].secrets.vault
    assert dev is not None and prod is not None
    assert (dev.address, dev.mount, dev.role) == ("https://vault.acme.example", "secret", "ci-deployer-dev")
    assert (prod.mount, prod.role) == ("prod-kv", "ci-deployer-prod")


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("vault/orders/api#token", ("vault", "orders/api", "token")),
        ("vault/a.b/c-d_e#k.v", ("vault", "a.b/c-d_e", "k.v")),
        ("aws/orders/api", ("aws", "orders/api", None)),
        ("aws/orders/api#token", ("aws", "orders/api", "token")),
        ("gcp/orders-token", ("gcp", "orders-token", None)),
        ("gcp/orders-token#3", ("gcp", "orders-token", "3")),
        ("gcp/orders-token#latest", ("gcp", "orders-token", "latest")),
    ],
)
def test_store_references_parse(ref: str, parsed: tuple[str, str, str | None]) -> None:
    result = parse_ref(ref)
    assert result is not None and (result.store, result.name, result.key) == parsed


@pytest.mark.parametrize(
    "ref",
    [
        "vault/orders/api",  # KV v2 needs a key
        "vault/orders/../prod#token",
        "vault/./x#k",
        "vault/a#b#c",
        "vault//x#k",
        "aws/a#b#c",
        "aws/../prod#k",
        "gcp/projects/acme-prod/secrets/x",  # another project: never from a reference
        "gcp/x#0",
        "gcp/x#v2",
    ],
)
def test_malformed_store_references(ref: str) -> None:
    assert parse_ref(ref) is None and ref_problem(ref) is not None
    violation = check_boundary(ref, environment(FULL).secrets, "dev")
    assert violation is not None and violation.code == "E-SECRET-REF"


@pytest.mark.parametrize(
    "name",
    [
        "VAULT_TOKEN",
        "VAULT_ADDR",
        "BAO_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        "CLOUDSDK_AUTH_ACCESS_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "aws_secret_access_key",
    ],
)
def test_the_secret_managers_credentials_are_never_placeholders(name: str) -> None:
    violation = check_boundary(name, environment({}).secrets, "dev")
    assert violation is not None and violation.code == "E-SECRET-DENIED"
    with pytest.raises(ConfigError, match="E-SECRET-DENIED"):
        EnvSecretResolver({name: "a-credential-value"}, environment({})).resolve(name)


def test_a_store_reference_is_checked_against_the_envs_own_block() -> None:
    envs, findings = environments({"dev": {"vault": FULL["vault"]}, "prod": FULL})
    assert findings == []
    assert check_boundary("aws/orders#token", envs["prod"].secrets, "prod") is None
    violation = check_boundary("aws/orders#token", envs["dev"].secrets, "dev")
    assert violation is not None and violation.code == "E-SECRET-STORE"
    assert "environment 'dev' configures no aws secret store" in violation.message
    assert "region" in violation.hint
