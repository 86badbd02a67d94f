"""secrets:// placeholders: finding, resolving, redaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ci_deployer import redact
from ci_deployer.config.model import AwsSettings, Environment, GcpSettings, SecretSettings, VaultSettings
from ci_deployer.config.secrets import EnvSecretResolver, find_placeholders, substitute
from ci_deployer.errors import ConfigError


def test_find_placeholders_whole_and_inside() -> None:
    assert find_placeholders("secrets://VAPI_TOKEN") == [("VAPI_TOKEN", 0, 20)]
    text = "Bearer secrets://ORDERS_API_TOKEN, then secrets://vault/kv/app#token!"
    assert [ref for ref, _, _ in find_placeholders(text)] == ["ORDERS_API_TOKEN", "vault/kv/app#token"]
    _ref, start, end = find_placeholders(text)[0]
    assert text[start:end] == "secrets://ORDERS_API_TOKEN"
    assert find_placeholders("no secrets here, just secrets:// alone") == []


def test_substitute_resolves_registers_and_does_not_mutate() -> None:
    spec: dict[str, Any] = {
        "headers": {"Authorization": "Bearer secrets://ORDERS_API_TOKEN"},
        "list": ["secrets://B", 3],
    }
    resolver = EnvSecretResolver({"ORDERS_API_TOKEN": "tok-123456", "B": "bbbb-value"})
    out = substitute(spec, resolver)
    assert out == {"headers": {"Authorization": "Bearer tok-123456"}, "list": ["bbbb-value", 3]}
    assert spec["headers"]["Authorization"] == "Bearer secrets://ORDERS_API_TOKEN"
    assert redact.redact("sent Bearer tok-123456 and bbbb-value") == "sent Bearer *** and ***"


def test_unresolvable_names_the_ref_with_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        substitute({"a": "x secrets://MISSING_TOKEN"}, EnvSecretResolver({"MISSING_TOKEN": ""}))
    assert "secrets://MISSING_TOKEN" in str(info.value)
    assert "MISSING_TOKEN" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="vault/kv/app#k") as vault:
        substitute("secrets://vault/kv/app#k", EnvSecretResolver({}))
    assert "secrets block" in (vault.value.hint or "")  # no env configures a Vault for this resolver
    with_vault = Environment(
        "dev", "acme-dev", "embedded", None, secrets=SecretSettings(vault=VaultSettings("https://vault.example"))
    )
    with pytest.raises(ConfigError, match="vault/kv/app#k") as unresolved:
        substitute("secrets://vault/kv/app#k", EnvSecretResolver({}, with_vault))  # no stores: not resolvable here
    assert "id-token: write" in (unresolved.value.hint or "") and "VAULT_TOKEN" in (unresolved.value.hint or "")


def test_error_never_contains_other_resolved_values() -> None:
    resolver = EnvSecretResolver({"GOOD": "good-secret-value"})
    with pytest.raises(ConfigError) as info:
        substitute({"a": "secrets://GOOD", "b": "secrets://BAD"}, resolver)
    assert "good-secret-value" not in str(info.value) + str(info.value.hint)


def test_file_provider_reads_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "x.txt").write_text("file-secret-1\n")
    monkeypatch.chdir(tmp_path)
    env = Environment("dev", "acme-dev", "embedded", None, secrets=SecretSettings(file_root="creds"))
    resolver = EnvSecretResolver({}, env)
    assert resolver.resolve("file/creds/x.txt") == "file-secret-1"
    assert resolver.resolve("file/creds/none.txt") is None
    assert substitute("k=secrets://file/creds/x.txt", resolver) == "k=file-secret-1"
    assert "file-secret-1" in redact.registered()


def test_provider_refs_and_odd_names_are_not_env_lookups() -> None:
    environ = {"aws/NAME#KEY": "nope", "gcp/x": "nope", "vault/a#b": "nope"}
    every_store = Environment(
        "dev",
        "acme-dev",
        "embedded",
        None,
        secrets=SecretSettings(
            vault=VaultSettings("https://vault.example"), aws=AwsSettings("us-east-1"), gcp=GcpSettings("acme-dev")
        ),
    )
    resolver = EnvSecretResolver(environ, every_store)  # no stores handed in: nothing resolvable
    assert resolver.resolve("aws/NAME#KEY") is None
    assert resolver.resolve("gcp/x") is None
    assert resolver.resolve("vault/a#b") is None
