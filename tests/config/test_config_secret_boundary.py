"""The secrets boundary (DESIGN §2): the `secrets:` block, check_boundary, and the resolver enforcing it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_deployer import redact
from ci_deployer.config.environments import parse_environments
from ci_deployer.config.model import Environment, SecretSettings, VaultSettings
from ci_deployer.config.secrets import (
    MIN_SECRET_LENGTH,
    EnvSecretResolver,
    check_boundary,
    resolve_credential,
    substitute,
)
from ci_deployer.errors import ConfigError

ENVIRONMENTS = """\
apiVersion: ci-deployer/v1
defaults:
  secrets: {fileRoot: run/secrets}
environments:
  dev:
    org: acme-dev
    api: {url: embedded}
  uat:
    org: acme-uat
    api: {url: https://api.vapi.ai, token: secrets://VAPI_TOKEN_UAT}
    secrets:
      allow: ["ORDERS_*", "TWILIO_?UTH*"]
      hmacKey: secrets://CI_DEPLOYER_HMAC_KEY_UAT
  prod:
    org: acme-prod
    api: {url: https://api.vapi.ai, token: secrets://file/run/tokens/prod}
"""


def parse(text: str) -> tuple[dict[str, Environment], list[Any]]:
    """Parse environments.yaml text with real positions (the loader's composer)."""
    from ci_deployer.config.yamlsource import parse_text

    parsed = parse_text(text)
    envs, _defaults, findings = parse_environments(parsed.data, parsed.positions)
    return envs, findings


def test_the_block_is_parsed_and_merged_from_defaults() -> None:
    envs, findings = parse(ENVIRONMENTS)
    assert findings == []
    assert envs["dev"].secrets.file_root == "run/secrets"
    assert envs["dev"].secrets.allow is None
    assert envs["uat"].secrets.allow == ("ORDERS_*", "TWILIO_?UTH*")
    assert envs["uat"].secrets.hmac_key == "secrets://CI_DEPLOYER_HMAC_KEY_UAT"
    reserved = {"VAPI_TOKEN_UAT", "CI_DEPLOYER_HMAC_KEY_UAT", "file/run/tokens/prod"}
    assert all(env.secrets.reserved == reserved for env in envs.values())  # every env's, in every env


@pytest.mark.parametrize(
    ("block", "code", "line", "words"),
    [
        ("secrets: {fileRot: x}", "E-ENV-UNKNOWN-KEY", 5, "did you mean 'fileRoot'"),
        ("secrets: {allow: ORDERS_*}", "E-ENV-TYPE", 5, "list"),
        ("secrets: {allow: [1]}", "E-ENV-TYPE", 5, "list"),
        ('secrets: {allow: ["A B"]}', "E-ENV-VALUE", 5, "not a variable name pattern"),
        ("secrets: {fileRoot: 3}", "E-ENV-TYPE", 5, "folder path"),
        ("secrets: {hmacKey: plain-key-value-123}", "E-ENV-SECRET-LITERAL", 5, "placeholder"),
        ("secrets: [x]", "E-ENV-TYPE", 5, "must be a map"),
    ],
)
def test_bad_blocks_are_located_findings(block: str, code: str, line: int, words: str) -> None:
    head = "apiVersion: ci-deployer/v1\nenvironments:\n  dev:\n    org: acme-dev\n"
    text = f"{head}    {block}\n    api: {{url: embedded}}\n"
    _envs, findings = parse(text)
    assert [(f.code, f.path, f.line) for f in findings] == [(code, "environments.yaml", line)]
    assert words in findings[0].message
    assert "plain-key-value-123" not in findings[0].message + (findings[0].hint or "")


def test_a_literal_hmac_key_is_registered_for_redaction() -> None:
    parse("apiVersion: ci-deployer/v1\nenvironments:\n  dev:\n    org: o\n    api: {url: embedded}\n"
          "    secrets: {hmacKey: plain-key-value-123}\n")  # fmt: skip
    assert redact.redact("key plain-key-value-123") == "key ***"


def test_a_problem_in_defaults_is_reported_on_the_defaults_line_once() -> None:
    text = "apiVersion: ci-deployer/v1\ndefaults:\n  secrets:\n    fileRot: x\nenvironments:\n" + "".join(
        f"  {name}:\n    org: o-{name}\n    api: {{url: embedded}}\n" for name in ("dev", "uat")
    )
    _envs, findings = parse(text)
    assert {(f.code, f.line) for f in findings} == {("E-ENV-UNKNOWN-KEY", 4)}


def settings(**kw: Any) -> SecretSettings:
    return SecretSettings(**kw)


@pytest.mark.parametrize(
    "ref",
    ["GITHUB_TOKEN", "INPUT_GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "RUNNER_TEMP", "github_token", "Actions_Id"],
)
def test_the_workflow_and_runner_variables_are_always_denied(ref: str) -> None:
    for block in (None, settings(), settings(allow=("*",))):
        violation = check_boundary(ref, block, "dev")
        assert violation is not None and violation.code == "E-SECRET-DENIED"


def test_reserved_credentials_of_every_env_are_denied() -> None:
    block = settings(reserved=frozenset({"VAPI_TOKEN_PROD", "file/run/tokens/prod"}), file_root="run")
    assert check_boundary("VAPI_TOKEN_PROD", block, "dev").code == "E-SECRET-DENIED"  # type: ignore[union-attr]
    assert check_boundary("vapi_token_prod", block, "dev") is not None
    assert check_boundary("file/run/tokens/prod", block, "dev").code == "E-SECRET-DENIED"  # type: ignore[union-attr]
    assert check_boundary("ORDERS_API_TOKEN", block, "dev") is None


def test_allow_patterns_narrow_the_default() -> None:
    assert check_boundary("ANY_VARIABLE", settings(), "dev") is None  # the quick start keeps working
    block = settings(allow=("ORDERS_*", "TWILIO_?UTH*"))
    assert check_boundary("ORDERS_API_TOKEN", block, "uat") is None
    assert check_boundary("TWILIO_AUTH_TOKEN", block, "uat") is None
    violation = check_boundary("STRIPE_KEY", block, "uat")
    assert violation is not None and violation.code == "E-SECRET-NOT-ALLOWED" and "ORDERS_*" in violation.message
    assert check_boundary("ORDERS_X", settings(allow=()), "uat") is not None  # an empty list allows nothing


@pytest.mark.parametrize(
    ("ref", "root", "words"),
    [
        ("file//proc/self/environ", None, "declares no secrets.fileRoot"),
        ("file/secrets/../../etc/passwd", "secrets", "'..'"),
        ("file//etc/shadow", "/run/secrets", "outside"),
        ("file/secretsX/a", "secrets", "outside"),
    ],
)
def test_file_placeholders_stay_below_the_root(ref: str, root: str | None, words: str) -> None:
    violation = check_boundary(ref, settings(file_root=root), "dev")
    assert violation is not None and violation.code == "E-SECRET-FILE" and words in violation.message


def test_file_placeholders_below_the_root_are_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_boundary("file/secrets/a.txt", settings(file_root="secrets"), "dev") is None
    assert check_boundary(f"file/{tmp_path}/secrets/a.txt", settings(file_root="secrets"), "dev") is None
    assert check_boundary("file/secrets/a.txt", settings(file_root=str(tmp_path / "secrets")), "dev") is None


def test_malformed_refs_are_reported() -> None:
    for ref in ("keys/orders", "9LIVES", "ORDERS_TOKEN."):
        violation = check_boundary(ref, settings(), "dev")
        assert violation is not None and violation.code == "E-SECRET-REF"
    # Store references are checked by their own syntax, and only where the env configures the store
    # (tests/secrets/ has the full set).
    vault = VaultSettings("https://vault.acme.example")
    assert check_boundary("vault/kv/app#token", settings(vault=vault), "dev") is None
    unconfigured = check_boundary("vault/kv/app#token", settings(), "dev")
    assert unconfigured is not None and unconfigured.code == "E-SECRET-STORE" and "'dev'" in unconfigured.message


def environment(**kw: Any) -> Environment:
    return Environment("dev", "acme-dev", "embedded", None, secrets=SecretSettings(**kw))


def test_the_resolver_refuses_what_validate_would_even_if_validate_is_skipped() -> None:
    environ = {"GITHUB_TOKEN": "ghs-value-123456", "VAPI_TOKEN_PROD": "prod-token-value", "OK_TOKEN": "fine-value-1"}
    resolver = EnvSecretResolver(environ, environment(reserved=frozenset({"VAPI_TOKEN_PROD"})))
    for ref in ("GITHUB_TOKEN", "VAPI_TOKEN_PROD", "file//proc/self/environ"):
        with pytest.raises(ConfigError) as info:
            substitute({"h": f"Bearer secrets://{ref}"}, resolver)
        assert "E-SECRET-" in str(info.value)
        assert not any(value in str(info.value) + str(info.value.hint) for value in environ.values())
    assert substitute("secrets://OK_TOKEN", resolver) == "fine-value-1"
    with pytest.raises(ConfigError):
        EnvSecretResolver(environ).resolve("GITHUB_TOKEN")  # no environment: the built-in part still holds


def test_short_values_are_refused_naming_the_placeholder_only() -> None:
    resolver = EnvSecretResolver({"SHORT": "abc1234"}, environment())
    with pytest.raises(ConfigError) as info:
        resolver.resolve("SHORT")
    assert "secrets://SHORT" in str(info.value) and str(MIN_SECRET_LENGTH) in str(info.value)
    assert "abc1234" not in str(info.value) + str(info.value.hint)
    assert "abc1234" not in redact.registered()


def test_the_deployers_own_credentials_are_read_outside_the_boundary() -> None:
    env = environment(reserved=frozenset({"VAPI_TOKEN_DEV"}))
    resolver = EnvSecretResolver({"VAPI_TOKEN_DEV": "tok-dev-0123456789"}, env)
    with pytest.raises(ConfigError):
        resolver.resolve("VAPI_TOKEN_DEV")
    assert resolve_credential(resolver, "VAPI_TOKEN_DEV") == "tok-dev-0123456789"


def test_files_are_read_below_the_root_only_once_links_are_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outside.txt").write_text("outside-secret-value\n")
    root = tmp_path / "secrets"
    root.mkdir()
    (root / "token.txt").write_text("inside-secret-value\n")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    os.mkfifo(root / "fifo")
    resolver = EnvSecretResolver({}, environment(file_root="secrets"))
    assert resolver.resolve("file/secrets/token.txt") == "inside-secret-value"
    assert resolver.resolve("file/secrets/missing.txt") is None
    with pytest.raises(ConfigError, match=r"outside secrets\.fileRoot"):
        resolver.resolve("file/secrets/link.txt")
    with pytest.raises(ConfigError, match="not a regular file"):
        resolver.resolve("file/secrets/fifo")  # would block forever if opened


def test_the_schema_publishes_the_block() -> None:
    import json

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "environments.schema.json").read_text())
    block = schema["$defs"]["Environment"]["properties"]["secrets"]
    assert set(block["properties"]) == {"allow", "fileRoot", "hmacKey", "vault", "aws", "gcp"}
    assert block["additionalProperties"] is False
    assert schema["properties"]["defaults"]["properties"]["secrets"] == block
    from jsonschema import Draft202012Validator

    Draft202012Validator(schema).validate(yaml.safe_load(ENVIRONMENTS))


def test_settings_are_frozen_and_extendable() -> None:
    # Providers join as fields; the reserved set is replaced, never mutated in place.
    block = SecretSettings(allow=("A_*",))
    assert dataclasses.replace(block, reserved=frozenset({"X"})).allow == ("A_*",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.allow = None  # type: ignore[misc]
